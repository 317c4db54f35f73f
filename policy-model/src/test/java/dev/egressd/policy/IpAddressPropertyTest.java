package dev.egressd.policy;

import static org.assertj.core.api.Assertions.assertThat;

import java.math.BigInteger;
import java.net.InetAddress;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Seeded random checks: parse and print agree, and mask/contains agree with plain bit arithmetic. */
class IpAddressPropertyTest {
  private static final int RUNS = 20_000;

  @Test
  void printedAddressesParseBackToTheSameAddress() {
    Random random = new Random(20261123L);
    for (int run = 0; run < RUNS; run++) {
      IpAddress address = randomAddress(random);

      assertThat(IpAddress.parse(address.toString()))
          .as("round trip of %s", address)
          .contains(address);
    }
  }

  @Test
  void printedIpv6MatchesTheJdkReadingOfIt() throws Exception {
    Random random = new Random(7L);
    for (int run = 0; run < RUNS; run++) {
      IpAddress address = IpAddress.of(ipv6WithZeroRuns(random));

      // The JDK returns an Inet4Address for mapped text, so compare with the unmapped form.
      assertThat(IpAddress.of(InetAddress.getByName(address.toString())))
          .as("JDK reading of %s", address)
          .isEqualTo(address.unmapped());
    }
  }

  @Test
  void everyInetAtonSpellingOfAnIpv4AddressParsesToIt() {
    Random random = new Random(42L);
    for (int run = 0; run < RUNS; run++) {
      byte[] bytes = new byte[4];
      random.nextBytes(bytes);
      IpAddress address = IpAddress.of(bytes);
      String spelling = inetAtonSpelling(bytes, random);

      assertThat(IpAddress.parse(spelling)).as("%s spelled %s", address, spelling).contains(address);
    }
  }

  @Test
  void maskAndCidrContainsAgreeWithBitArithmetic() {
    Random random = new Random(1234L);
    for (int run = 0; run < RUNS; run++) {
      IpAddress network = randomAddress(random);
      int prefix = random.nextInt(network.bitLength() + 1);
      CidrBlock block = new CidrBlock(network.mask(prefix), prefix);
      IpAddress candidate = random.nextBoolean() ? nearby(network, random) : randomOfFamily(network, random);

      boolean samePrefix = highBits(candidate, prefix).equals(highBits(network, prefix));
      assertThat(block.contains(network)).as("%s contains its own network address", block).isTrue();
      assertThat(block.contains(candidate)).as("%s contains %s", block, candidate).isEqualTo(samePrefix);
      assertThat(candidate.mask(prefix).equals(block.network())).isEqualTo(samePrefix);
    }
  }

  private static BigInteger highBits(IpAddress address, int prefix) {
    return new BigInteger(1, address.bytes()).shiftRight(address.bitLength() - prefix);
  }

  /** The same address with a few low or high bits flipped, so both sides of the boundary are hit. */
  private static IpAddress nearby(IpAddress address, Random random) {
    byte[] bytes = address.bytes();
    int bit = random.nextInt(address.bitLength());
    bytes[bit / 8] ^= (byte) (0x80 >>> (bit % 8));
    return IpAddress.of(bytes);
  }

  private static IpAddress randomOfFamily(IpAddress like, Random random) {
    byte[] bytes = new byte[like.bitLength() / 8];
    random.nextBytes(bytes);
    return IpAddress.of(bytes);
  }

  private static IpAddress randomAddress(Random random) {
    switch (random.nextInt(4)) {
      case 0:
        byte[] v4 = new byte[4];
        random.nextBytes(v4);
        return IpAddress.of(v4);
      case 1:
        byte[] mapped = new byte[16];
        mapped[10] = (byte) 0xff;
        mapped[11] = (byte) 0xff;
        for (int i = 12; i < 16; i++) {
          mapped[i] = (byte) random.nextInt(256);
        }
        return IpAddress.of(mapped);
      default:
        return IpAddress.of(ipv6WithZeroRuns(random));
    }
  }

  /** Random IPv6 bytes where each group is zero half of the time, to exercise "::" placement. */
  private static byte[] ipv6WithZeroRuns(Random random) {
    byte[] bytes = new byte[16];
    for (int group = 0; group < 8; group++) {
      if (random.nextBoolean()) {
        int value = random.nextBoolean() ? random.nextInt(0x10000) : random.nextInt(0x10);
        bytes[2 * group] = (byte) (value >>> 8);
        bytes[2 * group + 1] = (byte) value;
      }
    }
    return bytes;
  }

  /** One to four parts, each in decimal, octal or hex, with random leading zeros; the last part fills the rest. */
  private static String inetAtonSpelling(byte[] bytes, Random random) {
    int parts = 1 + random.nextInt(4);
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < parts; i++) {
      long value;
      if (i < parts - 1) {
        value = bytes[i] & 0xff;
      } else {
        value = 0;
        for (int k = i; k < 4; k++) {
          value = (value << 8) | (bytes[k] & 0xff);
        }
      }
      if (i > 0) {
        sb.append('.');
      }
      sb.append(inBase(value, random));
    }
    return sb.toString();
  }

  private static String inBase(long value, Random random) {
    String zeros = "0".repeat(random.nextInt(3));
    switch (random.nextInt(3)) {
      case 0:
        return Long.toString(value);
      case 1:
        return "0" + zeros + Long.toOctalString(value);
      default:
        String hex = zeros + Long.toHexString(value);
        return (random.nextBoolean() ? "0x" : "0X") + (random.nextBoolean() ? hex : hex.toUpperCase());
    }
  }

  @Test
  void hasPrefixAgreesWithMaskingAcrossFamiliesAndPrefixes() {
    Random random = new Random(99L);
    for (int run = 0; run < RUNS; run++) {
      IpAddress network = randomAddress(random);
      int prefix = random.nextInt(network.bitLength() + 1);
      IpAddress masked = network.mask(prefix);
      IpAddress candidate = random.nextBoolean() ? nearby(network, random) : randomAddress(random);
      boolean expected = candidate.bitLength() == masked.bitLength() && candidate.mask(prefix).equals(masked);

      assertThat(candidate.hasPrefix(masked, prefix)).as("%s has prefix %s/%d", candidate, masked, prefix)
          .isEqualTo(expected);
    }
  }

  /** The single-pass IPv4 parser against the split-based reading it replaced, on text made of the parts' alphabet. */
  @Test
  void ipv4ParserAgreesWithTheSplitBasedReference() {
    Random random = new Random(20261207L);
    String alphabet = "0123456789..xXabcdefgAF";
    for (int run = 0; run < RUNS * 5; run++) {
      StringBuilder text = new StringBuilder();
      for (int i = random.nextInt(24); i > 0; i--) {
        text.append(alphabet.charAt(random.nextInt(alphabet.length())));
      }
      String candidate = text.toString();
      if (candidate.indexOf(':') >= 0) {
        continue;
      }
      byte[] expected = referenceInetAton(candidate);

      assertThat(IpAddress.parse(candidate).map(IpAddress::bytes).orElse(null)).as("'%s'", candidate)
          .isEqualTo(expected);
    }
  }

  /** The parser as it was (String.split and a value array): the oracle for the test above. */
  private static byte[] referenceInetAton(String text) {
    if (text.isEmpty() || text.length() > 64) {
      return null;
    }
    String[] parts = text.split("\\.", -1);
    if (parts.length > 4) {
      return null;
    }
    long[] values = new long[parts.length];
    for (int i = 0; i < parts.length; i++) {
      values[i] = referencePart(parts[i]);
      if (values[i] < 0) {
        return null;
      }
    }
    long result = 0;
    for (int i = 0; i < parts.length - 1; i++) {
      if (values[i] > 255) {
        return null;
      }
      result |= values[i] << (8 * (3 - i));
    }
    long last = values[parts.length - 1];
    if (last >= (1L << (8 * (5 - parts.length)))) {
      return null;
    }
    result |= last;
    return new byte[] {(byte) (result >>> 24), (byte) (result >>> 16), (byte) (result >>> 8), (byte) result};
  }

  private static long referencePart(String part) {
    if (part.isEmpty()) {
      return -1;
    }
    int radix = 10;
    String digits = part;
    if (part.length() >= 2 && part.charAt(0) == '0' && (part.charAt(1) == 'x' || part.charAt(1) == 'X')) {
      radix = 16;
      digits = part.substring(2);
      if (digits.isEmpty()) {
        return 0;
      }
    } else if (part.length() >= 2 && part.charAt(0) == '0') {
      radix = 8;
      digits = part.substring(1);
    }
    long value = 0;
    for (int i = 0; i < digits.length(); i++) {
      int d = digits.charAt(i) > 'z' ? -1 : Character.digit(digits.charAt(i), radix);
      if (d < 0) {
        return -1;
      }
      value = value * radix + d;
      if (value > 0xffff_ffffL) {
        return -1;
      }
    }
    return value;
  }
}
