package dev.egressd.policy;

import java.util.Locale;
import java.util.Objects;

/**
 * A host rule pattern from {@code allowed_domains}, {@code denied_domains} or a {@code domains} table.
 *
 * <p>Forms, matched case-insensitively on canonical hosts (see {@link HostName}):
 * <ul>
 *   <li>{@code example.com}: exactly that host;</li>
 *   <li>{@code *.example.com}: any subdomain at any depth, never {@code example.com} itself;</li>
 *   <li>{@code **.example.com}: {@code example.com} and any subdomain;</li>
 *   <li>{@code *}: every host (allow lists only; a startup warning says so);</li>
 *   <li>an IP literal ({@code 10.1.2.3}, {@code ::1} or {@code [::1]}): exactly that address; an IPv4 rule also
 *       matches the IPv4-mapped form of its address;</li>
 *   <li>a CIDR block ({@code 10.0.0.0/8}, {@code fd00::/8}): any address inside it (an egressd extension). IPv4
 *       blocks are written as dotted quads without host bits; a block inside {@code ::ffff:0:0/96} means the IPv4
 *       block it maps.</li>
 * </ul>
 * Matching is label-aligned: {@code *.openai.com} never matches {@code evilopenai.com}. Any form may end in
 * {@code :port} ({@code example.com:443}, {@code [::1]:8080}, {@code 10.0.0.0/8:5432}) to apply only to that port;
 * without a port a rule applies to every port. Wildcards anywhere else ({@code foo*.example.com}, {@code ?},
 * {@code [a-z]}) are rejected rather than given surprising semantics, and so are brackets around anything but IPv6
 * ({@code [example.com]}, {@code [*]}) and schemes or paths.
 *
 * @param kind which form this is
 * @param host the canonical host for {@link Kind#EXACT} and {@link Kind#IP}, the suffix for the wildcard forms,
 *     {@code null} for {@link Kind#ANY} and {@link Kind#CIDR}
 * @param cidr the block, for {@link Kind#CIDR} only
 * @param port the port this rule is limited to, or 0 for every port
 * @param text the pattern as written in the configuration
 */
public record HostPattern(Kind kind, HostName host, CidrBlock cidr, int port, String text) {
  private static final String HOST_ONLY =
      "write the host only, without scheme or path (e.g. example.com, *.example.com or 10.0.0.0/8)";

  /** The pattern forms. */
  public enum Kind {
    /** One exact host name. */
    EXACT,
    /** {@code *.suffix}: strict subdomains. */
    SUBDOMAINS,
    /** {@code **.suffix}: the apex and its subdomains. */
    APEX_AND_SUBDOMAINS,
    /** {@code *}: every host. */
    ANY,
    /** One IP address. */
    IP,
    /** A CIDR block. */
    CIDR
  }

  /** Checks that the components fit the kind. */
  public HostPattern {
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(text, "text");
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("port: " + port + " (expected: 0..65535)");
    }
    boolean needsHost = kind != Kind.ANY && kind != Kind.CIDR;
    if (needsHost != (host != null) || (kind == Kind.CIDR) != (cidr != null)) {
      throw new IllegalArgumentException("pattern " + text + ": components do not fit kind " + kind);
    }
  }

  /**
   * Parses a pattern as written in a config file or on the command line.
   *
   * @throws IllegalArgumentException with a message that quotes the pattern and says what to write instead
   */
  public static HostPattern parse(String text) {
    Objects.requireNonNull(text, "text");
    String s = text.strip().toLowerCase(Locale.ROOT);
    if (s.contains("://")) {
      throw new IllegalArgumentException("pattern \"" + text + "\": " + HOST_ONLY);
    }
    int port = 0;
    String hostPart = s;
    int colon = s.lastIndexOf(':');
    boolean bracketed = s.startsWith("[");
    if (colon >= 0 && (bracketed ? s.lastIndexOf(']') == colon - 1 : s.indexOf(':') == colon)) {
      port = parsePort(text, s.substring(colon + 1));
      hostPart = s.substring(0, colon);
    }
    if (hostPart.startsWith("[") && hostPart.endsWith("]")) {
      hostPart = unbracket(text, hostPart);
    }
    if (hostPart.isEmpty()) {
      throw new IllegalArgumentException("pattern \"" + text + "\" is empty");
    }
    if (hostPart.equals("*")) {
      return new HostPattern(Kind.ANY, null, null, port, text);
    }
    if (hostPart.indexOf('/') >= 0) {
      return new HostPattern(Kind.CIDR, null, parseCidr(text, hostPart), port, text);
    }
    if (hostPart.startsWith("**.")) {
      return new HostPattern(Kind.APEX_AND_SUBDOMAINS, suffix(text, hostPart.substring(3)), null, port, text);
    }
    if (hostPart.startsWith("*.")) {
      return new HostPattern(Kind.SUBDOMAINS, suffix(text, hostPart.substring(2)), null, port, text);
    }
    rejectWildcards(text, hostPart);
    HostName host = host(text, hostPart);
    return new HostPattern(host.isIpLiteral() ? Kind.IP : Kind.EXACT, host, null, port, text);
  }

  /**
   * True for {@code *} without a port: every host on every port. {@code *:25} is not global; it is a port rule
   * ("nothing on port 25"), which is legitimate in a deny list.
   */
  public boolean isGlobal() {
    return kind == Kind.ANY && port == 0;
  }

  /** True for forms that name one host or block explicitly ({@link Kind#EXACT}, {@link Kind#IP}, {@link Kind#CIDR}). */
  public boolean isExplicit() {
    return kind == Kind.EXACT || kind == Kind.IP || kind == Kind.CIDR;
  }

  /** True when this rule applies to {@code port}. */
  public boolean appliesToPort(int port) {
    return this.port == 0 || this.port == port;
  }

  /** The canonical form, e.g. {@code **.example.com:443}. */
  public String canonical() {
    String body = switch (kind) {
      case EXACT -> host.value();
      case IP -> port == 0 ? host.value() : host.authorityForm();
      case SUBDOMAINS -> "*." + host.value();
      case APEX_AND_SUBDOMAINS -> "**." + host.value();
      case ANY -> "*";
      case CIDR -> port != 0 && !cidr.network().isIpv4() ? "[" + cidr + "]" : cidr.toString();
    };
    return port == 0 ? body : body + ":" + port;
  }

  @Override
  public String toString() {
    return canonical();
  }

  private static int parsePort(String text, String portText) {
    try {
      return Destination.parsePort(text, portText);
    } catch (InvalidHostException e) {
      throw new IllegalArgumentException(
          "pattern \"" + text + "\": port must be 1..65535 (write host:port, e.g. example.com:443)");
    }
  }

  /**
   * The content of {@code [...]}, which must be IPv6 (an address or a block). Anything else is refused rather than
   * unwrapped, because the reference passes {@code [a-z]} to a glob engine as a character class.
   */
  private static String unbracket(String text, String hostPart) {
    String inner = hostPart.substring(1, hostPart.length() - 1);
    if (inner.indexOf(':') < 0) {
      throw new IllegalArgumentException("pattern \"" + text + "\": brackets may only enclose an IPv6 address or"
          + " block (character classes like [a-z] are not supported)");
    }
    return inner;
  }

  private static CidrBlock parseCidr(String text, String hostPart) {
    if (IpAddress.parse(hostPart.substring(0, hostPart.indexOf('/'))).isEmpty()) {
      throw new IllegalArgumentException("pattern \"" + text + "\": " + HOST_ONLY);
    }
    try {
      return CidrBlock.parse(hostPart);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("pattern \"" + text + "\": " + e.getMessage());
    }
  }

  private static HostName suffix(String text, String suffix) {
    rejectWildcards(text, suffix);
    HostName host = host(text, suffix);
    if (host.isIpLiteral()) {
      throw new IllegalArgumentException(
          "pattern \"" + text + "\": wildcards apply to names, not IP addresses (use a CIDR block such as 10.0.0.0/8)");
    }
    return host;
  }

  private static void rejectWildcards(String text, String hostPart) {
    if (hostPart.indexOf('*') >= 0 || hostPart.indexOf('?') >= 0 || hostPart.indexOf('[') >= 0) {
      throw new IllegalArgumentException("pattern \"" + text + "\": wildcards are only supported as a whole leading"
          + " label (use *.example.com for subdomains or **.example.com for the domain and its subdomains)");
    }
  }

  private static HostName host(String text, String hostPart) {
    try {
      return HostName.parse(hostPart);
    } catch (InvalidHostException e) {
      throw new IllegalArgumentException("pattern \"" + text + "\": " + e.getMessage());
    }
  }
}
