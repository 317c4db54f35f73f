package dev.egressd.policy;

import java.net.IDN;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;

/**
 * A canonical destination host: a lower-case ASCII (punycode) DNS name, or an IP literal.
 *
 * <p>{@link #parse} is applied once to every host that reaches the proxy and to every host pattern in the config, so
 * matching, dialling and logging all see the same string. It:
 * <ol>
 *   <li>trims surrounding spaces and tabs;</li>
 *   <li>takes the content of {@code [...]}, which must be an IPv6 literal;</li>
 *   <li>recognises IP literals in every spelling {@link IpAddress#parse} accepts ({@code 127.1},
 *       {@code 0x7f000001}, {@code ::ffff:127.0.0.1}...) and stores their canonical text;</li>
 *   <li>lower-cases, strips trailing dots, and converts internationalised names to punycode (IDNA);</li>
 *   <li>rejects empty labels, labels over 63 characters, names over 253, any character other than letters, digits,
 *       {@code -} and {@code _} (so NUL, control characters, whitespace, {@code %}, {@code @}, {@code /},
 *       {@code \} and {@code :}), IPv6 zone identifiers, and names whose last label is a number in any base but
 *       which are not a valid IPv4 address ({@code 1.2.3.4.5}, {@code 256.1.1.1}, {@code example.08},
 *       {@code example.0x1f}), as WHATWG URL parsers do.</li>
 * </ol>
 * The name {@code localhost} and names under {@code .localhost} are loopback by definition (RFC 6761), so
 * {@link #isLocalhost()} is true for them and they are never sent to DNS.
 */
public final class HostName {
  private final String value;
  private final IpAddress ip;

  private HostName(String value, IpAddress ip) {
    this.value = value;
    this.ip = ip;
  }

  /**
   * Canonicalises {@code input}, which must be a host only (no port, no path).
   *
   * @throws InvalidHostException when the input is not a valid host; the message quotes it and says why
   */
  public static HostName parse(String input) {
    Objects.requireNonNull(input, "input");
    String s = trim(input);
    if (s.isEmpty()) {
      throw new InvalidHostException(input, "empty");
    }
    if (s.charAt(0) == '[') {
      if (s.length() < 3 || s.charAt(s.length() - 1) != ']') {
        throw new InvalidHostException(input, "unterminated IPv6 brackets");
      }
      return ipv6(input, s.substring(1, s.length() - 1), true);
    }
    if (s.indexOf(':') >= 0) {
      return ipv6(input, s, false);
    }
    if (!isAscii(s)) {
      s = toPunycode(input, s);
    }
    s = s.toLowerCase(Locale.ROOT);
    int end = s.length();
    while (end > 0 && s.charAt(end - 1) == '.') {
      end--;
    }
    s = s.substring(0, end);
    if (s.isEmpty()) {
      throw new InvalidHostException(input, "empty");
    }
    Optional<IpAddress> ipv4 = IpAddress.parse(s);
    if (ipv4.isPresent()) {
      return new HostName(ipv4.get().toString(), ipv4.get());
    }
    validateName(input, s);
    return new HostName(s, null);
  }

  /** The host for an already-parsed address. */
  public static HostName of(IpAddress address) {
    return new HostName(Objects.requireNonNull(address, "address").toString(), address);
  }

  /** The canonical text: a lower-case name, a dotted quad, or an unbracketed RFC 5952 IPv6 literal. */
  public String value() {
    return value;
  }

  /** The address, when this host is an IP literal. */
  public Optional<IpAddress> ip() {
    return Optional.ofNullable(ip);
  }

  /** True when this host is an IP literal. */
  public boolean isIpLiteral() {
    return ip != null;
  }

  /** True for {@code localhost} and any name under {@code .localhost} (RFC 6761: always loopback). */
  public boolean isLocalhost() {
    return ip == null && (value.equals("localhost") || value.endsWith(".localhost"));
  }

  /** The form used in an authority: IPv6 literals in brackets, everything else as is. */
  public String authorityForm() {
    return ip != null && !ip.isIpv4() ? "[" + value + "]" : value;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof HostName && ((HostName) o).value.equals(value);
  }

  @Override
  public int hashCode() {
    return value.hashCode();
  }

  @Override
  public String toString() {
    return value;
  }

  private static HostName ipv6(String input, String literal, boolean bracketed) {
    int percent = literal.indexOf('%');
    IpAddress address = IpAddress.parse(percent < 0 ? literal : literal.substring(0, percent))
        .filter(a -> !a.isIpv4())
        .orElseThrow(() -> new InvalidHostException(input, bracketed ? "brackets may only enclose an IPv6 address"
            : "':' is only allowed in IPv6 literals (a host has no port here)"));
    if (percent >= 0) {
      // A zone names an interface of this machine; a client has no business choosing one.
      throw new InvalidHostException(input, "IPv6 zone identifiers are not supported");
    }
    return new HostName(address.toString(), address);
  }

  private static void validateName(String input, String name) {
    if (name.length() > 253) {
      throw new InvalidHostException(input, "longer than 253 characters");
    }
    int labelStart = 0;
    for (int i = 0; i <= name.length(); i++) {
      if (i < name.length() && name.charAt(i) != '.') {
        char c = name.charAt(i);
        if (!(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_')) {
          throw new InvalidHostException(input, "character " + InvalidHostException.quote(String.valueOf(c))
              + " is not allowed in a host name");
        }
        continue;
      }
      int length = i - labelStart;
      if (length == 0) {
        throw new InvalidHostException(input, "empty label");
      }
      if (length > 63) {
        throw new InvalidHostException(input, "label longer than 63 characters");
      }
      if (i == name.length() && isNumeric(name.substring(labelStart))) {
        throw new InvalidHostException(input, "looks like an IPv4 address but is not a valid one");
      }
      labelStart = i + 1;
    }
  }

  /**
   * True for a label a URL parser reads as a number ({@code 123}, {@code 08}, {@code 0x1f}, {@code 0x}): WHATWG URL
   * hosts ending in one must be IPv4, so such a name is an invalid address, not a name to look up.
   */
  private static boolean isNumeric(String label) {
    boolean hex = label.length() >= 2 && label.charAt(0) == '0' && label.charAt(1) == 'x';
    for (int i = hex ? 2 : 0; i < label.length(); i++) {
      char c = label.charAt(i);
      if (!(c >= '0' && c <= '9' || hex && c >= 'a' && c <= 'f')) {
        return false;
      }
    }
    return true;
  }

  private static String toPunycode(String input, String s) {
    for (int i = 0; i < s.length(); i++) {
      if (Character.isWhitespace(s.charAt(i)) || Character.isISOControl(s.charAt(i))) {
        throw new InvalidHostException(input, "whitespace or control character");
      }
    }
    try {
      return IDN.toASCII(s);
    } catch (IllegalArgumentException e) {
      throw new InvalidHostException(input, "not a valid internationalised domain name");
    }
  }

  private static String trim(String s) {
    int start = 0;
    int end = s.length();
    while (start < end && (s.charAt(start) == ' ' || s.charAt(start) == '\t')) {
      start++;
    }
    while (end > start && (s.charAt(end - 1) == ' ' || s.charAt(end - 1) == '\t')) {
      end--;
    }
    return s.substring(start, end);
  }

  private static boolean isAscii(String s) {
    for (int i = 0; i < s.length(); i++) {
      if (s.charAt(i) > 0x7f) {
        return false;
      }
    }
    return true;
  }
}
