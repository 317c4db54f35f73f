package dev.egressd.config.internal;

import dev.egressd.policy.IpAddress;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;

/** The parser behind {@code ListenerSettings.parseAddress}; see its javadoc for the rules. */
public final class ListenAddresses {
  private static final InetAddress LOOPBACK_V4 = IpAddress.parse("127.0.0.1").orElseThrow().toInetAddress();

  private ListenAddresses() {}

  /** Parses {@code input}; throws IllegalArgumentException with the input quoted. */
  public static InetSocketAddress parse(String input, int defaultPort, boolean allowNonLoopback,
      List<String> warnings) {
    Objects.requireNonNull(input, "input");
    Objects.requireNonNull(warnings, "warnings");
    if (defaultPort < 0 || defaultPort > 65535) {
      throw new IllegalArgumentException("defaultPort: " + defaultPort + " (expected: 0..65535)");
    }
    String s = input.strip();
    if (s.isEmpty()) {
      throw new IllegalArgumentException("missing host in network proxy address: \"" + input + "\"");
    }
    Optional<IpAddress> bareIpv6 = s.indexOf(':') != s.lastIndexOf(':') && !s.contains("://") && !s.contains("[")
        ? IpAddress.parse(s) : Optional.empty();
    if (bareIpv6.isPresent()) {
      return clamp(input, bareIpv6.get().toInetAddress(), defaultPort, allowNonLoopback, warnings);
    }
    HostPort hostPort = split(input, authority(s));
    int port = hostPort.port.isEmpty() ? defaultPort : port(input, hostPort.port);
    return clamp(input, address(input, hostPort.host, port, warnings), port, allowNonLoopback, warnings);
  }

  private record HostPort(String host, String port) {}

  private static HostPort split(String input, String authority) {
    HostPort result;
    if (authority.startsWith("[")) {
      int close = authority.indexOf(']');
      String rest = close < 0 ? "" : authority.substring(close + 1);
      if (close < 0 || !rest.isEmpty() && !rest.startsWith(":")) {
        throw new IllegalArgumentException("invalid [IPv6] host in network proxy address: \"" + input + "\"");
      }
      result = new HostPort(authority.substring(1, close), rest.isEmpty() ? "" : rest.substring(1));
    } else {
      int colon = authority.indexOf(':');
      // Several colons without brackets: the reference's fallback takes the whole text as the host.
      boolean hostAndPort = colon >= 0 && colon == authority.lastIndexOf(':');
      result = hostAndPort ? new HostPort(authority.substring(0, colon), authority.substring(colon + 1))
          : new HostPort(authority, "");
    }
    if (result.host.isEmpty()) {
      throw new IllegalArgumentException("missing host in network proxy address: \"" + input + "\"");
    }
    return result;
  }

  private static String authority(String s) {
    int scheme = s.indexOf("://");
    String rest = scheme >= 0 ? s.substring(scheme + 3) : s;
    int end = rest.length();
    for (char c : new char[] {'/', '?', '#'}) {
      int i = rest.indexOf(c);
      if (i >= 0 && i < end) {
        end = i;
      }
    }
    String authority = rest.substring(0, end);
    return authority.substring(authority.lastIndexOf('@') + 1);
  }

  private static int port(String input, String text) {
    if (text.length() > 5 || !text.chars().allMatch(c -> c >= '0' && c <= '9')) {
      throw new IllegalArgumentException(
          "invalid port \"" + text + "\" in network proxy address: \"" + input + "\" (expected: 0..65535)");
    }
    int port = Integer.parseInt(text);
    if (port > 65535) {
      throw new IllegalArgumentException(
          "invalid port " + port + " in network proxy address: \"" + input + "\" (expected: 0..65535)");
    }
    return port;
  }

  private static InetAddress address(String input, String host, int port, List<String> warnings) {
    if (host.toLowerCase(Locale.ROOT).equals("localhost")) {
      return LOOPBACK_V4;
    }
    Optional<IpAddress> ip = IpAddress.parse(host);
    if (ip.isPresent()) {
      return ip.get().toInetAddress();
    }
    // Resolving a listen address would make the bind depend on DNS; the reference binds loopback instead.
    warnings.add("listen address \"" + input.strip() + "\": \"" + host + "\" is not an IP address; listening on "
        + "127.0.0.1:" + port + " instead");
    return LOOPBACK_V4;
  }

  private static InetSocketAddress clamp(String input, InetAddress address, int port, boolean allowNonLoopback,
      List<String> warnings) {
    if (address.isLoopbackAddress()) {
      return new InetSocketAddress(address, port);
    }
    InetSocketAddress requested = new InetSocketAddress(address, port);
    if (allowNonLoopback) {
      warnings.add("DANGEROUS: listening on non-loopback address " + format(requested)
          + "; anyone who can reach it can use this proxy");
      return requested;
    }
    warnings.add("listen address \"" + input.strip() + "\" is not loopback; listening on 127.0.0.1:" + port
        + " instead (set dangerously_allow_non_loopback_proxy = true to listen on " + format(requested) + ")");
    return new InetSocketAddress(LOOPBACK_V4, port);
  }

  private static String format(InetSocketAddress a) {
    String host = IpAddress.of(a.getAddress()).toString();
    return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + a.getPort();
  }
}
