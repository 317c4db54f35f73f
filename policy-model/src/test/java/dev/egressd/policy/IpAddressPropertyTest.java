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
}
