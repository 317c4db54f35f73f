package dev.egressd.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

class HostNameTest {

  static Stream<Arguments> names() {
    return Stream.of(
        Arguments.of("plain name", "example.com", "example.com"),
        Arguments.of("single label", "intranet", "intranet"),
        Arguments.of("underscore label", "_dmarc.example.com", "_dmarc.example.com"),
        Arguments.of("surrounding spaces", "  example.com  ", "example.com"),
        Arguments.of("surrounding tabs", "\texample.com\t", "example.com"),
        Arguments.of("mixed case", "ExAmPlE.CoM", "example.com"),
        Arguments.of("trailing dot", "example.com.", "example.com"),
        Arguments.of("trailing dots", "example.com..", "example.com"),
        Arguments.of("IDN to punycode", "b\u00fccher.example", "xn--bcher-kva.example"),
        Arguments.of("IDN upper case", "B\u00dcCHER.example", "xn--bcher-kva.example"),
        Arguments.of("IDN Japanese", "\u4f8b\u3048.jp", "xn--r8jz45g.jp"),
        Arguments.of("punycode kept", "XN--BCHER-KVA.example", "xn--bcher-kva.example"),
        Arguments.of("Cyrillic homograph stays punycode", "\u0430pple.com", "xn--pple-43d.com"),
        Arguments.of("fullwidth letters fold", "\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45\uff0e\uff43\uff4f\uff4d",
            "example.com"),
        Arguments.of("ideographic full stop", "example\u3002com", "example.com"),
        Arguments.of("numeric non-final labels", "1.2.3.4.example", "1.2.3.4.example"),
        Arguments.of("label of 63", "a".repeat(63) + ".com", "a".repeat(63) + ".com"),
        Arguments.of("name of 253", name253(), name253()),
        Arguments.of("name of 253 plus trailing dot", name253() + ".", name253()),
        Arguments.of("localhost", "localhost", "localhost"),
        Arguments.of("LOCALHOST.", "LOCALHOST.", "localhost"));
  }

  @ParameterizedTest(name = "{0}: \"{1}\" -> {2}")
  @MethodSource("names")
  void canonicalisesNames(String description, String input, String canonical) {
    HostName host = HostName.parse(input);

    assertThat(host.value()).isEqualTo(canonical);
    assertThat(host.isIpLiteral()).isFalse();
    assertThat(host.ip()).isEmpty();
    assertThat(host.authorityForm()).isEqualTo(canonical);
  }

  @ParameterizedTest(name = "\"{0}\" is the address {1}")
  @CsvSource(delimiter = '|', value = {
      "127.0.0.1                  | 127.0.0.1",
      "127.0.0.1.                 | 127.0.0.1",
      "127.1                      | 127.0.0.1",
      "2130706433                 | 127.0.0.1",
      "0x7f000001                 | 127.0.0.1",
      "0X7F.1                     | 127.0.0.1",
      "0x7f.0.0.1                 | 127.0.0.1",
      "0177.0.0.1                 | 127.0.0.1",
      "'  10.0.0.1  '             | 10.0.0.1",
      "\uff11\uff12\uff17\uff0e\uff10\uff0e\uff10\uff0e\uff11 | 127.0.0.1",
      "[::1]                      | ::1",
      "::1                        | ::1",
      "[0:0:0:0:0:0:0:1]          | ::1",
      "[::FFFF:127.0.0.1]         | ::ffff:127.0.0.1",
      "::ffff:7f00:1              | ::ffff:127.0.0.1",
      "[64:ff9b::7f00:1]          | 64:ff9b::7f00:1",
      "' [2001:DB8::1] '          | 2001:db8::1",
  })
  void recognisesIpLiteralsInEverySpelling(String input, String canonical) {
    HostName host = HostName.parse(input);

    assertThat(host.isIpLiteral()).isTrue();
    assertThat(host.value()).isEqualTo(canonical);
    assertThat(host.ip()).contains(IpAddress.parse(canonical).orElseThrow());
    assertThat(host.isLocalhost()).isFalse();
  }

  static Stream<Arguments> invalid() {
    return Stream.of(
        Arguments.of("empty", "", "empty"),
        Arguments.of("only spaces", "   ", "empty"),
        Arguments.of("only a dot", ".", "empty"),
        Arguments.of("only dots", "..", "empty"),
        Arguments.of("empty label", "a..b", "empty label"),
        Arguments.of("leading dot", ".example.com", "empty label"),
        Arguments.of("label of 64", "a".repeat(64) + ".com", "label longer than 63"),
        Arguments.of("name of 254", "a" + name253(), "longer than 253"),
        Arguments.of("NUL", "exa\0mple.com", "is not allowed"),
        Arguments.of("trailing NUL", "example.com\0", "is not allowed"),
        Arguments.of("CR", "exa\rmple.com", "is not allowed"),
        Arguments.of("CRLF at the end", "example.com\r\n", "is not allowed"),
        Arguments.of("LF", "exa\nmple.com", "is not allowed"),
        Arguments.of("space inside", "exa mple.com", "is not allowed"),
        Arguments.of("tab inside", "exa\tmple.com", "is not allowed"),
        Arguments.of("no-break space inside", "exa\u00a0mple.com", "is not allowed"),
        Arguments.of("ideographic space", "\u3000example.com", "whitespace"),
        Arguments.of("right-to-left override", "exa\u202emple.com", "internationalised"),
        Arguments.of("DEL", "exa\u007fmple.com", "is not allowed"),
        Arguments.of("percent", "exa%mple.com", "is not allowed"),
        Arguments.of("percent-encoded", "example%2ecom", "is not allowed"),
        Arguments.of("fullwidth percent", "exa\uff05mple.com", "is not allowed"),
        Arguments.of("at sign", "user@example.com", "is not allowed"),
        Arguments.of("slash", "example.com/path", "is not allowed"),
        Arguments.of("fullwidth slash", "example.com\uff0fpath", "is not allowed"),
        Arguments.of("backslash", "example.com\\path", "is not allowed"),
        Arguments.of("asterisk", "*.example.com", "is not allowed"),
        Arguments.of("colon with port", "example.com:443", "':'"),
        Arguments.of("colon inside", "exa:mple.com", "':'"),
        Arguments.of("bracketed name", "[example.com]", "IPv6"),
        Arguments.of("bracketed IPv4", "[1.2.3.4]", "IPv6"),
        Arguments.of("empty brackets", "[]", "IPv6"),
        Arguments.of("unterminated bracket", "[::1", "brackets"),
        Arguments.of("stray closing bracket", "::1]", "IPv6"),
        Arguments.of("bracketed with port", "[::1]:443", "brackets"),
        Arguments.of("zone in brackets", "[::1%eth0]", "zone"),
        Arguments.of("encoded zone", "fe80::1%25eth0", "zone"),
        Arguments.of("zone", "fe80::1%eth0", "zone"),
        Arguments.of("five parts", "1.2.3.4.5", "IPv4"),
        Arguments.of("octet 256", "256.1.1.1", "IPv4"),
        Arguments.of("numeric last label", "example.123", "IPv4"),
        Arguments.of("hex last label", "example.0x1f", "IPv4"),
        Arguments.of("bad octal last label", "example.08", "IPv4"),
        Arguments.of("bad octal alone", "08", "IPv4"),
        Arguments.of("bad octal in an address", "1.2.3.08", "IPv4"),
        Arguments.of("too large number", "4294967296", "IPv4"),
        Arguments.of("trailing dot after a bad address", "1.2.3.4.5.", "IPv4"));
  }

  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("invalid")
  void rejectsWhatIsNotAHost(String description, String input, String why) {
    assertThatThrownBy(() -> HostName.parse(input))
        .isInstanceOf(InvalidHostException.class)
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("invalid host \"")
        .hasMessageContaining(why);
  }

  @Test
  void quotesControlCharactersInMessagesSoLogsStayOnOneLine() {
    assertThatThrownBy(() -> HostName.parse("evil.com\r\nX-Injected: 1"))
        .hasMessageStartingWith("invalid host \"evil.com\\x0d\\x0aX-Injected: 1\"")
        .hasMessageNotContaining("\n");
    assertThatThrownBy(() -> HostName.parse("a\u2028b"))
        .hasMessageNotContaining("\u2028");
  }

  @Test
  void shortensVeryLongInputInMessages() {
    assertThatThrownBy(() -> HostName.parse("a".repeat(300)))
        .hasMessageContaining("a".repeat(80) + "...\"");
  }

  @ParameterizedTest(name = "\"{0}\" localhost={1}")
  @CsvSource({
      "localhost, true",
      "LOCALHOST, true",
      "localhost., true",
      "foo.localhost, true",
      "a.b.LocalHost., true",
      "localhost.localdomain, false",
      "localhost.example, false",
      "notlocalhost, false",
      "mylocalhost.com, false",
      "127.0.0.1, false",
      "::1, false",
  })
  void detectsLocalhostNames(String input, boolean localhost) {
    assertThat(HostName.parse(input).isLocalhost()).isEqualTo(localhost);
  }

  @ParameterizedTest(name = "{0} in an authority is {1}")
  @CsvSource(delimiter = '|', value = {
      "example.com      | example.com",
      "127.1            | 127.0.0.1",
      "::1              | [::1]",
      "[::ffff:7f00:1]  | [::ffff:127.0.0.1]",
      "localhost        | localhost",
  })
  void bracketsOnlyIpv6InAuthorityForm(String input, String authority) {
    assertThat(HostName.parse(input).authorityForm()).isEqualTo(authority);
  }

  @Test
  void ofAddressEqualsTheParsedLiteral() {
    IpAddress address = IpAddress.parse("::1").orElseThrow();

    assertThat(HostName.of(address)).isEqualTo(HostName.parse("[::1]"));
    assertThat(HostName.of(address).hashCode()).isEqualTo(HostName.parse("0:0::1").hashCode());
    assertThat(HostName.of(address)).hasToString("::1");
    assertThat(HostName.parse("Example.COM.")).isEqualTo(HostName.parse("example.com"));
  }

  private static String name253() {
    // 4 labels of 63 and a dot each: 63*4 + 3 = 255; trim to 253 with a last label of 61.
    return "a".repeat(63) + "." + "b".repeat(63) + "." + "c".repeat(63) + "." + "d".repeat(61);
  }
}
