package dev.egressd.config;

import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.nio.file.Path;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.function.UnaryOperator;

/**
 * Which parent proxy, if any, allowed traffic leaves through: {@code upstream_proxy} (an egressd extension, wins),
 * else, with {@code allow_upstream_proxy = true}, egressd's own environment, as the reference reads it, plus
 * {@code NO_PROXY}, which the reference ignores.
 *
 * @param secure the parent for CONNECT, SOCKS5 CONNECT and the upstream side of intercepted tunnels, or null
 * @param plain the parent for plain HTTP, or null
 * @param noProxy the {@code NO_PROXY} entries (trimmed, non-empty) of egressd's environment; empty with
 *     {@code upstream_proxy}
 * @param caBundle {@code upstream_proxy_ca_bundle}: PEM roots trusted for an {@code https://} parent in addition to
 *     the JDK's, or null
 * @param parentResolves {@code upstream_resolution = "parent"}: names of connections through a parent are resolved
 *     by the parent only, and egressd does not check their addresses
 */
public record UpstreamSettings(Parent secure, Parent plain, List<String> noProxy, Path caBundle,
    boolean parentResolves) {
  /** Every connection direct. */
  public static final UpstreamSettings DIRECT = new UpstreamSettings(null, null, List.of());

  /** Copies the list. */
  public UpstreamSettings {
    noProxy = List.copyOf(noProxy);
  }

  /** Parents with no extra roots, names resolved by egressd. */
  public UpstreamSettings(Parent secure, Parent plain, List<String> noProxy) {
    this(secure, plain, noProxy, null, false);
  }

  /** These settings with {@code upstream_proxy_ca_bundle} and {@code upstream_resolution} applied. */
  public UpstreamSettings with(Path caBundle, boolean parentResolves) {
    return new UpstreamSettings(secure, plain, noProxy, caBundle, parentResolves);
  }

  /**
   * One parent proxy.
   *
   * @param tls whether it is an {@code https://} proxy (TLS to the proxy itself)
   * @param host its host name or address
   * @param port its port
   * @param username the Basic user sent to it, or null for none
   * @param password the Basic password, or null; never in {@link #toString()}
   * @param source where it came from, for messages: {@code upstream_proxy} or the variable's name
   */
  public record Parent(boolean tls, String host, int port, String username, String password, String source) {
    /** Null checks. */
    public Parent {
      Objects.requireNonNull(host, "host");
      Objects.requireNonNull(source, "source");
    }

    /** {@code http://host:port} (no credentials). */
    public String url() {
      return (tls ? "https://" : "http://") + (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
    }

    @Override
    public String toString() {
      return url() + (username == null ? "" : " as " + username) + " (" + source + ")";
    }
  }

  /** True when every connection is direct. */
  public boolean direct() {
    return secure == null && plain == null;
  }

  /**
   * The parents egressd's environment names: secure targets use {@code HTTPS_PROXY}, then {@code HTTP_PROXY}, then
   * {@code ALL_PROXY}; plain HTTP uses {@code HTTP_PROXY}, then {@code ALL_PROXY}; each upper case first, then lower
   * case; blank values are skipped. A {@code socks*://} value, or one that is not a proxy URL, is ignored with a
   * warning naming the variable.
   *
   * @param warnings receives those warnings
   */
  public static UpstreamSettings fromEnvironment(UnaryOperator<String> environment, List<String> warnings) {
    Parent secure = first(environment, warnings, "HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY");
    Parent plain = first(environment, warnings, "HTTP_PROXY", "ALL_PROXY");
    List<String> noProxy = new ArrayList<>();
    String value = nonBlank(environment, "NO_PROXY");
    if (value != null && (secure != null || plain != null)) {
      for (String entry : value.split(",")) {
        if (!entry.isBlank()) {
          noProxy.add(entry.trim().toLowerCase(Locale.ROOT));
        }
      }
    }
    return new UpstreamSettings(secure, plain, noProxy);
  }

  private static Parent first(UnaryOperator<String> environment, List<String> warnings, String... keys) {
    for (String key : keys) {
      for (String name : List.of(key, key.toLowerCase(Locale.ROOT))) {
        String value = environment.apply(name);
        if (value == null || value.isBlank()) {
          continue;
        }
        try {
          return parse(value.trim(), name, true);
        } catch (IllegalArgumentException e) {
          String message = "ignoring " + name + ": " + e.getMessage();
          if (!warnings.contains(message)) {
            warnings.add(message);
          }
        }
      }
    }
    return null;
  }

  private static String nonBlank(UnaryOperator<String> environment, String key) {
    for (String name : List.of(key, key.toLowerCase(Locale.ROOT))) {
      String value = environment.apply(name);
      if (value != null && !value.isBlank()) {
        return value;
      }
    }
    return null;
  }

  /**
   * Parses a parent proxy URL: {@code http://host:port} or {@code https://host:port} (a missing scheme means
   * {@code http}, a missing port 80 or 443), no path. User info is accepted only from the environment
   * ({@code credentialsAllowed}): a config file keeps the password in the variable {@code upstream_proxy_password_env}
   * names.
   *
   * @throws IllegalArgumentException saying what is wrong, e.g. {@code non-http proxy protocol}
   */
  public static Parent parse(String url, String source, boolean credentialsAllowed) {
    String text = url.contains("://") ? url : "http://" + url;
    URI uri;
    try {
      uri = new URI(text);
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException("invalid proxy address (" + e.getReason() + ")");
    }
    String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
    if (scheme.startsWith("socks")) {
      throw new IllegalArgumentException("non-http proxy protocol");
    }
    if (!scheme.equals("http") && !scheme.equals("https")) {
      throw new IllegalArgumentException("invalid proxy address (expected http:// or https://, found \"" + url
          + "\")");
    }
    String host = uri.getHost();
    if (host == null || host.isEmpty()) {
      throw new IllegalArgumentException("invalid proxy address (no host in \"" + url + "\")");
    }
    if (uri.getRawPath() != null && !uri.getRawPath().isEmpty() && !uri.getRawPath().equals("/")
        || uri.getRawQuery() != null || uri.getRawFragment() != null) {
      throw new IllegalArgumentException("invalid proxy address (a proxy URL has no path, found \"" + url + "\")");
    }
    boolean tls = scheme.equals("https");
    int port = uri.getPort() == -1 ? (tls ? 443 : 80) : uri.getPort();
    String username = null;
    String password = null;
    if (uri.getRawUserInfo() != null) {
      if (!credentialsAllowed) {
        throw new IllegalArgumentException("credentials do not belong in the file: set upstream_proxy_username and"
            + " upstream_proxy_password_env");
      }
      String info = uri.getRawUserInfo();
      int colon = info.indexOf(':');
      username = decode(colon < 0 ? info : info.substring(0, colon));
      password = colon < 0 ? "" : decode(info.substring(colon + 1));
    }
    String bare = host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
    return new Parent(tls, bare.toLowerCase(Locale.ROOT), port, username, password, source);
  }

  private static String decode(String text) {
    return URLDecoder.decode(text.replace("+", "%2B"), StandardCharsets.UTF_8);
  }
}
