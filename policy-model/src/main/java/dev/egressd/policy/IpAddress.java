package dev.egressd.policy;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Arrays;
import java.util.Objects;
import java.util.Optional;

/**
 * An IPv4 or IPv6 address, parsed from text without any name resolution.
 *
 * <p>IPv4 text is read the way {@code inet_aton(3)} (glibc, curl) and the WHATWG URL standard read it, so that every
 * spelling a client would dial is recognised as an address rather than mistaken for a host name: one to four
 * dot-separated parts, each decimal, octal (leading {@code 0}) or hexadecimal ({@code 0x}); the last part fills the
 * remaining bytes. {@code 127.1}, {@code 2130706433}, {@code 0x7f000001}, {@code 0x7f.0.0.1} and {@code 0177.0.0.1}
 * all mean {@code 127.0.0.1}.
 *
 * <p>IPv6 text follows RFC 4291 section 2.2, including {@code ::} compression and a trailing dotted IPv4 part.
 * Brackets and zone identifiers are not accepted here; {@link HostName} strips brackets and rejects zones.
 *
 * <p>{@link #toString()} is canonical: dotted quad for IPv4, RFC 5952 for IPv6.
 */
public final class IpAddress {
  private final byte[] bytes;
  /** {@link #toString()}, formatted once: audit lines and resolution both ask for it on every request. */
  private String text;

  private IpAddress(byte[] bytes) {
    this.bytes = bytes;
  }

  /** Wraps 4 (IPv4) or 16 (IPv6) address bytes; the array is copied. */
  public static IpAddress of(byte[] bytes) {
    Objects.requireNonNull(bytes, "bytes");
    if (bytes.length != 4 && bytes.length != 16) {
      throw new IllegalArgumentException("bytes.length: " + bytes.length + " (expected: 4 or 16)");
    }
    return new IpAddress(bytes.clone());
  }

  /** Converts a JDK address without any lookup. */
  public static IpAddress of(InetAddress address) {
    Objects.requireNonNull(address, "address");
    return new IpAddress(address.getAddress());
  }

  /** Parses an IPv4 (any {@code inet_aton} spelling) or IPv6 literal; empty if the text is not an address. */
  public static Optional<IpAddress> parse(String text) {
    Objects.requireNonNull(text, "text");
    byte[] parsed = text.indexOf(':') >= 0 ? parseIpv6(text) : parseIpv4(text);
    return parsed == null ? Optional.empty() : Optional.of(new IpAddress(parsed));
  }

  /** Parses strict dotted-quad decimal IPv4 only (as used in CIDR rules and inside IPv6 text). */
  public static Optional<IpAddress> parseDottedQuad(String text) {
    byte[] parsed = parseStrictDottedQuad(text);
    return parsed == null ? Optional.empty() : Optional.of(new IpAddress(parsed));
  }

  /** True for a 4-byte address. */
  public boolean isIpv4() {
    return bytes.length == 4;
  }

  /** The address bytes (a copy). */
  public byte[] bytes() {
    return bytes.clone();
  }

  /** Byte {@code i} as an unsigned value. */
  public int unsignedByte(int i) {
    return bytes[i] & 0xff;
  }

  /** Number of address bits: 32 or 128. */
  public int bitLength() {
    return bytes.length * 8;
  }

  /**
   * True if this address is of the same family as {@code network} and its first {@code prefixLength} bits equal
   * {@code network}'s: {@code mask(prefixLength).equals(network)} for a network without host bits, without
   * allocating (every request classifies its addresses against some thirty blocks).
   */
  public boolean hasPrefix(IpAddress network, int prefixLength) {
    byte[] other = network.bytes;
    if (other.length != bytes.length) {
      return false;
    }
    if (prefixLength < 0 || prefixLength > bitLength()) {
      throw new IllegalArgumentException("prefixLength: " + prefixLength + " (expected: 0.." + bitLength() + ")");
    }
    int whole = prefixLength / 8;
    for (int i = 0; i < whole; i++) {
      if (bytes[i] != other[i]) {
        return false;
      }
    }
    int rest = prefixLength % 8;
    if (rest == 0) {
      return true;
    }
    int keep = 0xff << (8 - rest);
    return (bytes[whole] & keep) == (other[whole] & keep);
  }

  /** This address with every bit after {@code prefixLength} cleared. */
  public IpAddress mask(int prefixLength) {
    if (prefixLength < 0 || prefixLength > bitLength()) {
      throw new IllegalArgumentException("prefixLength: " + prefixLength + " (expected: 0.." + bitLength() + ")");
    }
    byte[] masked = bytes.clone();
    for (int i = 0; i < masked.length; i++) {
      int bitsBefore = i * 8;
      if (bitsBefore >= prefixLength) {
        masked[i] = 0;
      } else if (prefixLength - bitsBefore < 8) {
        masked[i] &= (byte) (0xff << (8 - (prefixLength - bitsBefore)));
      }
    }
    return new IpAddress(masked);
  }

  /** The IPv4 address an IPv4-mapped IPv6 address ({@code ::ffff:a.b.c.d}) stands for, else this address. */
  public IpAddress unmapped() {
    if (bytes.length == 16 && isZero(0, 10) && unsignedByte(10) == 0xff && unsignedByte(11) == 0xff) {
      return new IpAddress(Arrays.copyOfRange(bytes, 12, 16));
    }
    return this;
  }

  /** The JDK form of this address; never performs a lookup. */
  public InetAddress toInetAddress() {
    try {
      return InetAddress.getByAddress(bytes);
    } catch (UnknownHostException e) {
      throw new AssertionError("address of valid length rejected", e);
    }
  }

  boolean isZero(int from, int to) {
    for (int i = from; i < to; i++) {
      if (bytes[i] != 0) {
        return false;
      }
    }
    return true;
  }

  IpAddress ipv4At(int offset, boolean inverted) {
    byte[] v4 = Arrays.copyOfRange(bytes, offset, offset + 4);
    if (inverted) {
      for (int i = 0; i < 4; i++) {
        v4[i] = (byte) ~v4[i];
      }
    }
    return new IpAddress(v4);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof IpAddress && Arrays.equals(bytes, ((IpAddress) o).bytes);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(bytes);
  }

  @Override
  public String toString() {
    String formatted = text;
    if (formatted == null) {
      // A benign race: every thread computes the same immutable String.
      formatted = bytes.length == 4 ? dottedQuad(bytes, 0) : ipv6Text();
      text = formatted;
    }
    return formatted;
  }

  private static String dottedQuad(byte[] b, int offset) {
    return (b[offset] & 0xff) + "." + (b[offset + 1] & 0xff) + "." + (b[offset + 2] & 0xff) + "."
        + (b[offset + 3] & 0xff);
  }

  // RFC 5952: lowercase, no leading zeros, the longest run (>= 2) of zero groups compressed, first run on ties.
  private String ipv6Text() {
    if (isZero(0, 10) && unsignedByte(10) == 0xff && unsignedByte(11) == 0xff) {
      return "::ffff:" + dottedQuad(bytes, 12);
    }
    int[] groups = new int[8];
    for (int i = 0; i < 8; i++) {
      groups[i] = (unsignedByte(2 * i) << 8) | unsignedByte(2 * i + 1);
    }
    int bestStart = -1;
    int bestLength = 1;
    for (int i = 0; i < 8; ) {
      int j = i;
      while (j < 8 && groups[j] == 0) {
        j++;
      }
      if (j - i > bestLength) {
        bestStart = i;
        bestLength = j - i;
      }
      i = j == i ? i + 1 : j;
    }
    StringBuilder sb = new StringBuilder(39);
    for (int i = 0; i < 8; i++) {
      if (i == bestStart) {
        sb.append("::");
        i += bestLength - 1;
        continue;
      }
      if (sb.length() > 0 && sb.charAt(sb.length() - 1) != ':') {
        sb.append(':');
      }
      sb.append(Integer.toHexString(groups[i]));
    }
    return sb.toString();
  }

  /**
   * {@code inet_aton}'s reading of {@code text}, or null. One pass over the characters and no allocation but the
   * result: it runs for every host name a request names (which almost always fails at the first character).
   */
  private static byte[] parseIpv4(String text) {
    int length = text.length();
    if (length == 0 || length > 64 || !isAsciiDigit(text.charAt(0))) {
      return null; // every part starts with a digit ("0x" included), so "allowed.test" stops here
    }
    long result = 0;
    long pending = -1; // the part before the current one: only the last part may exceed a byte
    int parts = 0;
    int start = 0;
    for (int i = 0; i <= length; i++) {
      if (i < length && text.charAt(i) != '.') {
        continue;
      }
      if (++parts > 4) {
        return null;
      }
      long value = parseIpv4Part(text, start, i);
      if (value < 0) {
        return null;
      }
      if (pending >= 0) {
        if (pending > 255) {
          return null;
        }
        result |= pending << (8 * (4 - (parts - 1)));
      }
      pending = value;
      start = i + 1;
    }
    int remainingBytes = 5 - parts;
    if (pending >= (1L << (8 * remainingBytes))) {
      return null;
    }
    result |= pending;
    return new byte[] {(byte) (result >>> 24), (byte) (result >>> 16), (byte) (result >>> 8), (byte) result};
  }

  private static boolean isAsciiDigit(char c) {
    return c >= '0' && c <= '9';
  }

  /**
   * The value of {@code text[from, to)} as one part, or -1 when it is not a number in any accepted base or exceeds
   * 32 bits. Leading zeros are unlimited, as {@code strtoul} reads them: {@code 0x000000007f000001} is still
   * 127.0.0.1 to glibc, so it must not be mistaken for a host name.
   */
  private static long parseIpv4Part(String text, int from, int to) {
    if (from == to) {
      return -1;
    }
    int radix = 10;
    int digits = from;
    if (to - from >= 2 && text.charAt(from) == '0' && (text.charAt(from + 1) == 'x' || text.charAt(from + 1) == 'X')) {
      radix = 16;
      digits = from + 2;
      if (digits == to) {
        return 0; // "0x" alone is zero for WHATWG URL parsers
      }
    } else if (to - from >= 2 && text.charAt(from) == '0') {
      radix = 8;
      digits = from + 1;
    }
    long value = 0;
    for (int i = digits; i < to; i++) {
      // Character.digit also accepts fullwidth and other non-ASCII digits, which no resolver reads as numbers.
      int d = text.charAt(i) > 'z' ? -1 : Character.digit(text.charAt(i), radix);
      if (d < 0) {
        return -1;
      }
      value = value * radix + d;
      if (value > 0xffff_ffffL) {
        return -1; // stop before the long overflows; no part may exceed 32 bits
      }
    }
    return value;
  }

  private static byte[] parseStrictDottedQuad(String text) {
    String[] parts = text.split("\\.", -1);
    if (parts.length != 4) {
      return null;
    }
    byte[] out = new byte[4];
    for (int i = 0; i < 4; i++) {
      String p = parts[i];
      if (p.isEmpty() || p.length() > 3 || (p.length() > 1 && p.charAt(0) == '0')) {
        return null;
      }
      int v = 0;
      for (int k = 0; k < p.length(); k++) {
        char c = p.charAt(k);
        if (c < '0' || c > '9') {
          return null;
        }
        v = v * 10 + (c - '0');
      }
      if (v > 255) {
        return null;
      }
      out[i] = (byte) v;
    }
    return out;
  }

  private static byte[] parseIpv6(String text) {
    if (text.length() < 2 || text.length() > 45) {
      return null;
    }
    int doubleColon = text.indexOf("::");
    if (doubleColon >= 0 && text.indexOf("::", doubleColon + 1) >= 0) {
      return null;
    }
    byte[] out = new byte[16];
    if (doubleColon < 0) {
      return fillGroups(text, out, 16, true) == 16 ? out : null;
    }
    String head = text.substring(0, doubleColon);
    String tail = text.substring(doubleColon + 2);
    byte[] tailBytes = new byte[16];
    // RFC 4291 2.2: a dotted IPv4 part may only end the address, so never before the "::".
    int headLength = head.isEmpty() ? 0 : fillGroups(head, out, 14, false);
    int tailLength = tail.isEmpty() ? 0 : fillGroups(tail, tailBytes, 14, true);
    if (headLength < 0 || tailLength < 0 || headLength + tailLength > 14) {
      return null;
    }
    System.arraycopy(tailBytes, 0, out, 16 - tailLength, tailLength);
    return out;
  }

  /**
   * Writes colon-separated groups into {@code out} from index 0; the last group may be a dotted IPv4 address when
   * {@code ipv4Last} is set. Returns the bytes written, or -1.
   */
  private static int fillGroups(String text, byte[] out, int maxBytes, boolean ipv4Last) {
    String[] groups = text.split(":", -1);
    int position = 0;
    for (int i = 0; i < groups.length; i++) {
      String group = groups[i];
      if (ipv4Last && i == groups.length - 1 && group.indexOf('.') >= 0) {
        byte[] v4 = parseStrictDottedQuad(group);
        if (v4 == null || position + 4 > maxBytes) {
          return -1;
        }
        System.arraycopy(v4, 0, out, position, 4);
        position += 4;
        continue;
      }
      if (group.isEmpty() || group.length() > 4 || position + 2 > maxBytes) {
        return -1;
      }
      int value = 0;
      for (int k = 0; k < group.length(); k++) {
        int d = Character.digit(group.charAt(k), 16);
        if (d < 0 || group.charAt(k) > 'f') { // Character.digit also accepts non-ASCII digits
          return -1;
        }
        value = (value << 4) | d;
      }
      out[position++] = (byte) (value >>> 8);
      out[position++] = (byte) value;
    }
    return position;
  }
}
