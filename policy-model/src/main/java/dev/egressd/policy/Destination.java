package dev.egressd.policy;

import java.util.Objects;

/**
 * A host and port a client asked to reach.
 *
 * @param host the canonical host
 * @param port 1 to 65535
 */
public record Destination(HostName host, int port) {
  /** Validates the port; a destination never has port 0. */
  public Destination {
    Objects.requireNonNull(host, "host");
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException("port: " + port + " (expected: 1..65535)");
    }
  }

  /**
   * Parses {@code host:port} as found in a CONNECT request line: the port is required, decimal digits only (no sign,
   * no leading zero), and IPv6 literals must be bracketed.
   *
   * @throws InvalidHostException for a bad host or port; the message says which
   */
  public static Destination parseAuthority(String authority) {
    Objects.requireNonNull(authority, "authority");
    if (authority.indexOf('/') >= 0) {
      // Checked first so "http://host:443" gets this message rather than one about IPv6 brackets.
      throw new InvalidHostException(authority, "expected host:port, without scheme or path");
    }
    int colon = authority.lastIndexOf(':');
    if (colon < 0 || authority.startsWith("[") && authority.lastIndexOf(']') > colon) {
      throw new InvalidHostException(authority, "missing port");
    }
    String host = authority.substring(0, colon);
    if (!host.startsWith("[") && host.indexOf(':') >= 0) {
      throw new InvalidHostException(authority, "IPv6 literals must be in brackets");
    }
    if (host.startsWith("[") != host.endsWith("]")) {
      throw new InvalidHostException(authority, "unbalanced brackets");
    }
    if (host.startsWith("[") && IpAddress.parse(host.substring(1, host.length() - 1)).filter(a -> !a.isIpv4())
        .isEmpty()) {
      throw new InvalidHostException(authority, "brackets may only enclose an IPv6 address");
    }
    return new Destination(HostName.parse(host), parsePort(authority, authority.substring(colon + 1)));
  }

  /** Parses a port: 1 to 5 decimal digits, no sign, no leading zero, 1..65535. */
  public static int parsePort(String context, String text) {
    if (text.isEmpty() || text.length() > 5 || text.charAt(0) == '0') {
      throw new InvalidHostException(context, "port must be 1..65535 without leading zeros");
    }
    int port = 0;
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c < '0' || c > '9') {
        throw new InvalidHostException(context, "port must be decimal digits");
      }
      port = port * 10 + (c - '0');
    }
    if (port > 65535) {
      throw new InvalidHostException(context, "port must be 1..65535");
    }
    return port;
  }

  /** {@code host:port}, with IPv6 hosts bracketed. */
  public String authority() {
    return host.authorityForm() + ":" + port;
  }

  @Override
  public String toString() {
    return authority();
  }
}
