package dev.egressd.config;

import dev.egressd.config.internal.ListenAddresses;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Objects;

/**
 * Where the proxy listens.
 *
 * <p>Addresses come from {@code proxy_url} and {@code socks_url} through {@link #parseAddress}, so they are always
 * IP literals (never names that would need a lookup) and, unless {@link #nonLoopbackAllowed()}, loopback.
 *
 * @param http the HTTP proxy listener ({@code proxy_url}, default {@code 127.0.0.1:3128})
 * @param socksEnabled {@code enable_socks5}
 * @param socks the SOCKS5 listener ({@code socks_url}, default {@code 127.0.0.1:8081}); parsed and validated even
 *     when SOCKS5 is off
 * @param socksUdpEnabled {@code enable_socks5_udp}, already combined with {@code socksEnabled}: false whenever
 *     SOCKS5 itself is off
 * @param nonLoopbackAllowed {@code dangerously_allow_non_loopback_proxy}, forced to false when any unix socket is
 *     allowed; the CLI passes it to {@link #parseAddress} for {@code --listen}
 * @param socksCredentials what SOCKS5 clients must authenticate with ({@code socks_username} and the password in
 *     the environment variable named by {@code socks_password_env}), or null when no authentication is required
 * @param httpNamed whether {@code http} was named ({@code proxy_url} or {@code --listen}) rather than the default
 * @param socksNamed whether {@code socks} was named ({@code socks_url} or {@code --socks-listen})
 */
public record ListenerSettings(
    InetSocketAddress http,
    boolean socksEnabled,
    InetSocketAddress socks,
    boolean socksUdpEnabled,
    boolean nonLoopbackAllowed,
    SocksCredentials socksCredentials,
    boolean httpNamed,
    boolean socksNamed) {
  /** The default HTTP proxy port, used when {@code proxy_url} has none. */
  public static final int DEFAULT_HTTP_PORT = 3128;
  /** The default SOCKS5 port, used when {@code socks_url} has none. */
  public static final int DEFAULT_SOCKS_PORT = 8081;

  /** Null checks. */
  public ListenerSettings {
    Objects.requireNonNull(http, "http");
    Objects.requireNonNull(socks, "socks");
  }

  /** The reference's defaults: HTTP on 127.0.0.1:3128, SOCKS5 (with UDP) on 127.0.0.1:8081, loopback only. */
  public static ListenerSettings defaults() {
    InetAddress loopback = InetAddress.getLoopbackAddress();
    return new ListenerSettings(new InetSocketAddress(loopback, DEFAULT_HTTP_PORT), true,
        new InetSocketAddress(loopback, DEFAULT_SOCKS_PORT), true, false, null, false, false);
  }

  /** A copy listening for SOCKS5 on {@code address} instead, for {@code --socks-listen}. */
  public ListenerSettings withSocks(InetSocketAddress address) {
    return new ListenerSettings(http, socksEnabled, address, socksUdpEnabled, nonLoopbackAllowed, socksCredentials,
        httpNamed, true);
  }

  /** A copy listening for HTTP on {@code address} instead, for {@code --listen}. */
  public ListenerSettings withHttp(InetSocketAddress address) {
    return new ListenerSettings(address, socksEnabled, socks, socksUdpEnabled, nonLoopbackAllowed, socksCredentials,
        true, socksNamed);
  }

  /**
   * A copy in which each listener that nothing named listens on a free port of its address instead of the default
   * one: what {@code run -- CMD} uses, so that any number of wrapped commands can run at once, each child told its
   * own ports. A named listener keeps its port.
   */
  public ListenerSettings withFreeDefaultPorts() {
    return new ListenerSettings(httpNamed ? http : new InetSocketAddress(http.getAddress(), 0), socksEnabled,
        socksNamed ? socks : new InetSocketAddress(socks.getAddress(), 0), socksUdpEnabled, nonLoopbackAllowed,
        socksCredentials, httpNamed, socksNamed);
  }

  /**
   * Parses a listener address the way Codex reads {@code proxy_url}/{@code socks_url}, with two deliberate
   * differences: an invalid port is an error instead of silently becoming the default, and port 0 (an ephemeral
   * port) is accepted.
   *
   * <ul>
   *   <li>Surrounding whitespace is trimmed; an empty value is an error.</li>
   *   <li>An unbracketed IPv6 literal ({@code 2001:db8::1}) is the host, with {@code defaultPort}.</li>
   *   <li>Anything else is read as a URL, with or without a scheme ({@code http://127.0.0.1:3128},
   *       {@code 127.0.0.1:3128}, {@code [::1]:3128}); the scheme is ignored, user info is dropped, a missing port
   *       means {@code defaultPort}.</li>
   *   <li>{@code localhost} becomes {@code 127.0.0.1}. Any other name also becomes {@code 127.0.0.1}, with a
   *       warning: a listener address is never looked up.</li>
   *   <li>A non-loopback address becomes {@code 127.0.0.1} on the same port, with a warning, unless
   *       {@code allowNonLoopback}; when allowed, a {@code DANGEROUS:} warning is added instead.</li>
   * </ul>
   *
   * @param warnings receives the warnings, one line each
   * @throws IllegalArgumentException for an empty host or a port that is not a decimal number in 0..65535
   */
  public static InetSocketAddress parseAddress(
      String url, int defaultPort, boolean allowNonLoopback, List<String> warnings) {
    return ListenAddresses.parse(url, defaultPort, allowNonLoopback, warnings);
  }
}
