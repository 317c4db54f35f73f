package dev.egressd.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class IpAddressParseTest {

  @ParameterizedTest(name = "\"{0}\" is IPv4 {1}")
  @CsvSource(delimiter = '|', value = {
      "127.0.0.1          | 127.0.0.1",
      "127.1              | 127.0.0.1",
      "127.0.1            | 127.0.0.1",
      "2130706433         | 127.0.0.1",
      "0x7f000001         | 127.0.0.1",
      "0X7F000001         | 127.0.0.1",
      "0x7f.0.0.1         | 127.0.0.1",
      "0177.0.0.1         | 127.0.0.1",
      "0x7F.1             | 127.0.0.1",
      "0x7f.0x0.0x0.0x1   | 127.0.0.1",
      "0177.00.000.01     | 127.0.0.1",
      "0x000000007f000001 | 127.0.0.1",
      "00000000000000177.0.0.1 | 127.0.0.1",
      "0                  | 0.0.0.0",
      "00                 | 0.0.0.0",
      "0x                 | 0.0.0.0",
      "0.0.0.0            | 0.0.0.0",
      "4294967295         | 255.255.255.255",
      "0xffffffff         | 255.255.255.255",
      "037777777777       | 255.255.255.255",
      "255.255.255.255    | 255.255.255.255",
      "010.0.0.1          | 8.0.0.1",
      "0xa.0.0.1          | 10.0.0.1",
      "167772161          | 10.0.0.1",
      "10.1               | 10.0.0.1",
      "1.2.65535          | 1.2.255.255",
      "1.16777215         | 1.255.255.255",
      "169.254.43518      | 169.254.169.254",
      "0xa9.0xfe.0xa9.0xfe | 169.254.169.254",
  })
  void parsesEveryInetAtonSpellingOfIpv4(String text, String canonical) {
    IpAddress address = IpAddress.parse(text).orElseThrow();

    assertThat(address.isIpv4()).isTrue();
    assertThat(address.toString()).isEqualTo(canonical);
  }

  @ParameterizedTest(name = "\"{0}\" is not an address")
  @ValueSource(strings = {
      "",
      "4294967296",
      "0x100000000",
      "040000000000",
      "256.0.0.1",
      "1.256.0.1",
      "1.2.256.1",
      "1.2.3.256",
      "1.2.65536",
      "1.16777216",
      "0x100.0.0.1",
      "1.2.3.4.5",
      "08.0.0.1",
      "09",
      "0x7g.0.0.1",
      "1..2",
      ".1.2.3",
      "1.2.3.",
      ".",
      "\uff11\uff12\uff17.\uff10.\uff10.\uff11",
      "\u0661\u0662\u0667.\u0660.\u0660.\u0661",
      "\u0967\u0968\u096d.0.0.1",
      "+1",
      "-1",
      "1.2.3.+4",
      "1e3",
      " 1.2.3.4",
      "1.2.3.4 ",
      "1.2.3.4/8",
      "localhost",
      "example.com",
      "0x7f.0.0.1x",
  })
  void rejectsWhatNoResolverReadsAsIpv4(String text) {
    assertThat(IpAddress.parse(text)).isEmpty();
  }

  @ParameterizedTest(name = "\"{0}\" is IPv6 {1}")
  @CsvSource(delimiter = '|', value = {
      "::                                      | ::",
      "::1                                     | ::1",
      "0:0:0:0:0:0:0:1                         | ::1",
      "0000:0000:0000:0000:0000:0000:0000:0000 | ::",
      "::ffff:127.0.0.1                        | ::ffff:127.0.0.1",
      "::ffff:7f00:1                           | ::ffff:127.0.0.1",
      "::FFFF:A00:1                            | ::ffff:10.0.0.1",
      "0:0:0:0:0:ffff:169.254.169.254          | ::ffff:169.254.169.254",
      "::ffff:0:0                              | ::ffff:0.0.0.0",
      "::127.0.0.1                             | ::7f00:1",
      "64:ff9b::a00:1                          | 64:ff9b::a00:1",
      "64:ff9b::10.0.0.1                       | 64:ff9b::a00:1",
      "64:ff9b:1::a00:1                        | 64:ff9b:1::a00:1",
      "2002:a00:1::                            | 2002:a00:1::",
      "2001:0:4136:e378:8000:63bf:3fff:fdd2    | 2001:0:4136:e378:8000:63bf:3fff:fdd2",
      "fe80::1                                 | fe80::1",
      "FE80::1                                 | fe80::1",
      "fd00:ec2::254                           | fd00:ec2::254",
      "2606:4700::1111                         | 2606:4700::1111",
      "1:2:3:4:5:6:7:8                         | 1:2:3:4:5:6:7:8",
      "2001:0db8:0000:0000:0000:0000:0000:0001 | 2001:db8::1",
      "2001:DB8::1                             | 2001:db8::1",
      "1:2:3:4:5:6:1.2.3.4                     | 1:2:3:4:5:6:102:304",
      "1::                                     | 1::",
      "1:2:3:4:5:6:7::                         | 1:2:3:4:5:6:7:0",
      "::2:3:4:5:6:7:8                         | 0:2:3:4:5:6:7:8",
      "1::8                                    | 1::8",
      "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff | ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
  })
  void parsesIpv6InEveryRfc4291Form(String text, String canonical) {
    IpAddress address = IpAddress.parse(text).orElseThrow();

    assertThat(address.isIpv4()).isFalse();
    assertThat(address.toString()).isEqualTo(canonical);
  }

  @ParameterizedTest(name = "\"{0}\" is not an address")
  @ValueSource(strings = {
      ":",
      ":::",
      ":1",
      "1:",
      "1::2::3",
      "::1::",
      "1:::2",
      "1:2:3:4:5:6:7",
      "1:2:3:4:5:6:7:8:9",
      "1:2:3:4:5:6:7:8::",
      "::1:2:3:4:5:6:7:8",
      "1:2:3:4::5:6:7:8",
      "12345::",
      "::12345",
      "1:2:3:4:5:6:7:00000",
      "1.2.3.4::",
      "1.2.3.4::5",
      "::1.2.3.4:5",
      "1:2:3:4:5:6:1.2.3.4:5",
      "1:2:3:4:5:6:7:1.2.3.4",
      "::1:2:3:4:5:6:1.2.3.4",
      "::1.2.3",
      "::256.0.0.1",
      "::01.2.3.4",
      "::0x7f.0.0.1",
      "::127.1",
      "fe80::1%eth0",
      "fe80::1%25eth0",
      "[::1]",
      "::g",
      "::\uff11",
      "::\u0661",
      " ::1",
      "::1 ",
      "::-1",
      "::+1",
  })
  void rejectsMalformedIpv6(String text) {
    assertThat(IpAddress.parse(text)).isEmpty();
  }

  @ParameterizedTest(name = "{0} prints as {1}")
  @CsvSource(delimiter = '|', value = {
      "2001:db8:0:0:1:0:0:1 | 2001:db8::1:0:0:1",
      "2001:0:0:1:0:0:0:1   | 2001:0:0:1::1",
      "0:0:1:0:0:0:0:0      | 0:0:1::",
      "1:0:0:2:0:0:3:4      | 1::2:0:0:3:4",
      "2001:db8:0:1:1:1:1:1 | 2001:db8:0:1:1:1:1:1",
      "1:0:2:0:3:0:4:0      | 1:0:2:0:3:0:4:0",
      "0:0:0:0:0:0:0:0      | ::",
      "1:0:0:0:0:0:0:0      | 1::",
      "0:0:0:0:0:0:0:1      | ::1",
      "0:0:0:0:0:0:a00:1    | ::a00:1",
      "0:0:0:0:0:ffff:a00:1 | ::ffff:10.0.0.1",
      "0:0:0:0:ffff:0:a00:1 | ::ffff:0:a00:1",
      "2001:DB8:AAAA:BBBB:CCCC:DDDD:EEEE:0001 | 2001:db8:aaaa:bbbb:cccc:dddd:eeee:1",
  })
  void printsIpv6AsRfc5952(String text, String canonical) {
    assertThat(IpAddress.parse(text).orElseThrow().toString()).isEqualTo(canonical);
  }

  @ParameterizedTest(name = "strict dotted quad \"{0}\" -> {1}")
  @CsvSource(delimiter = '|', value = {
      "1.2.3.4         | true",
      "0.0.0.0         | true",
      "255.255.255.255 | true",
      "01.2.3.4        | false",
      "1.2.3           | false",
      "127.1           | false",
      "0x7f.0.0.1      | false",
      "256.0.0.0       | false",
      "1.2.3.4.5       | false",
      "''              | false",
      "::1             | false",
  })
  void parseDottedQuadAcceptsOnlyFourDecimalParts(String text, boolean valid) {
    assertThat(IpAddress.parseDottedQuad(text).isPresent()).isEqualTo(valid);
  }

  @ParameterizedTest(name = "{0} masked to /{1} is {2}")
  @CsvSource(delimiter = '|', value = {
      "10.1.2.3          | 8   | 10.0.0.0",
      "10.1.2.3          | 0   | 0.0.0.0",
      "10.1.2.3          | 32  | 10.1.2.3",
      "172.31.255.255    | 12  | 172.16.0.0",
      "100.127.1.1       | 10  | 100.64.0.0",
      "255.255.255.255   | 31  | 255.255.255.254",
      "2001:db8:ffff::1  | 32  | 2001:db8::",
      "fe80::1           | 10  | fe80::",
      "ffff::1           | 7   | fe00::",
      "::1               | 127 | ::",
      "::1               | 128 | ::1",
  })
  void maskClearsHostBits(String text, int prefix, String expected) {
    assertThat(IpAddress.parse(text).orElseThrow().mask(prefix)).hasToString(expected);
  }

  @ParameterizedTest(name = "{0} /{1} is refused")
  @CsvSource({"10.0.0.1, 33", "10.0.0.1, -1", "::1, 129"})
  void maskRefusesPrefixOutsideTheFamily(String text, int prefix) {
    IpAddress address = IpAddress.parse(text).orElseThrow();

    assertThatThrownBy(() -> address.mask(prefix))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("prefixLength: " + prefix);
  }

  @ParameterizedTest(name = "{0} unmapped is {1}")
  @CsvSource({
      "::ffff:10.0.0.1, 10.0.0.1",
      "::ffff:0.0.0.0, 0.0.0.0",
      "10.0.0.1, 10.0.0.1",
      "::a00:1, ::a00:1",
      "64:ff9b::a00:1, 64:ff9b::a00:1",
      "::ffff:0:a00:1, ::ffff:0:a00:1",
  })
  void unmappedStripsOnlyTheMappedPrefix(String text, String expected) {
    assertThat(IpAddress.parse(text).orElseThrow().unmapped()).hasToString(expected);
  }

  @Test
  void ofCopiesTheBytesAndChecksTheLength() {
    byte[] bytes = {10, 0, 0, 1};
    IpAddress address = IpAddress.of(bytes);
    bytes[0] = 11;

    assertThat(address).hasToString("10.0.0.1");
    assertThat(address.bytes()).containsExactly(10, 0, 0, 1);
    assertThatThrownBy(() -> IpAddress.of(new byte[5]))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("bytes.length: 5 (expected: 4 or 16)");
  }

  @Test
  void convertsToAndFromJdkAddressesWithoutLookup() throws Exception {
    IpAddress v6 = IpAddress.parse("2001:db8::1").orElseThrow();

    assertThat(IpAddress.of(v6.toInetAddress())).isEqualTo(v6);
    assertThat(IpAddress.of(InetAddress.getByAddress(new byte[] {127, 0, 0, 1})))
        .isEqualTo(IpAddress.parse("127.0.0.1").orElseThrow());
  }

  @Test
  void equalityIsByBytesSoMappedAndPlainIpv4Differ() {
    assertThat(IpAddress.parse("127.1")).isEqualTo(IpAddress.parse("127.0.0.1"));
    assertThat(IpAddress.parse("::ffff:127.0.0.1")).isNotEqualTo(IpAddress.parse("127.0.0.1"));
    assertThat(IpAddress.parse("::ffff:7f00:1").orElseThrow().hashCode())
        .isEqualTo(IpAddress.parse("::ffff:127.0.0.1").orElseThrow().hashCode());
  }
}
