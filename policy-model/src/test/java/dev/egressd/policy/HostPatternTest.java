package dev.egressd.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.egressd.policy.HostPattern.Kind;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class HostPatternTest {

  @ParameterizedTest(name = "\"{0}\" is {1} {2} port {3}")
  @CsvSource(delimiter = '|', value = {
      "example.com              | EXACT               | example.com              | 0",
      "' Example.COM. '         | EXACT               | example.com              | 0",
      "b\u00fccher.example      | EXACT               | xn--bcher-kva.example    | 0",
      "localhost                | EXACT               | localhost                | 0",
      "*.example.com            | SUBDOMAINS          | *.example.com            | 0",
      "*.Example.COM.           | SUBDOMAINS          | *.example.com            | 0",
      "*.b\u00fccher.example    | SUBDOMAINS          | *.xn--bcher-kva.example  | 0",
      "*.com                    | SUBDOMAINS          | *.com                    | 0",
      "**.example.com           | APEX_AND_SUBDOMAINS | **.example.com           | 0",
      "*                        | ANY                 | *                        | 0",
      "10.0.0.1                 | IP                  | 10.0.0.1                 | 0",
      "127.1                    | IP                  | 127.0.0.1                | 0",
      "::1                      | IP                  | ::1                      | 0",
      "[::1]                    | IP                  | ::1                      | 0",
      "[0:0::1]                 | IP                  | ::1                      | 0",
      "::ffff:10.0.0.1          | IP                  | ::ffff:10.0.0.1          | 0",
      "10.0.0.0/8               | CIDR                | 10.0.0.0/8               | 0",
      "0.0.0.0/0                | CIDR                | 0.0.0.0/0                | 0",
      "10.1.2.3/32              | CIDR                | 10.1.2.3/32              | 0",
      "fd00::/8                 | CIDR                | fd00::/8                 | 0",
      "[fd00::/8]               | CIDR                | fd00::/8                 | 0",
      "FD00:0::/8               | CIDR                | fd00::/8                 | 0",
      "::/0                     | CIDR                | ::/0                     | 0",
      "::ffff:10.0.0.0/104      | CIDR                | ::ffff:10.0.0.0/104      | 0",
      "example.com:443          | EXACT               | example.com:443          | 443",
      "*.example.com:8443       | SUBDOMAINS          | *.example.com:8443       | 8443",
      "**.example.com:443       | APEX_AND_SUBDOMAINS | **.example.com:443       | 443",
      "*:443                    | ANY                 | *:443                    | 443",
      "10.0.0.1:22              | IP                  | 10.0.0.1:22              | 22",
      "[::1]:8080               | IP                  | [::1]:8080               | 8080",
      "10.0.0.0/8:5432          | CIDR                | 10.0.0.0/8:5432          | 5432",
      "[fd00::/8]:443           | CIDR                | [fd00::/8]:443           | 443",
      "example.com:1            | EXACT               | example.com:1            | 1",
      "example.com:65535        | EXACT               | example.com:65535        | 65535",
  })
  void parsesEveryPatternForm(String text, Kind kind, String canonical, int port) {
    HostPattern pattern = HostPattern.parse(text);

    assertThat(pattern.kind()).isEqualTo(kind);
    assertThat(pattern.canonical()).isEqualTo(canonical);
    assertThat(pattern).hasToString(canonical);
    assertThat(pattern.port()).isEqualTo(port);
    assertThat(pattern.text()).isEqualTo(text);
    HostPattern reparsed = HostPattern.parse(canonical);
    assertThat(reparsed.canonical()).as("canonical form parses back to itself").isEqualTo(canonical);
    assertThat(reparsed.kind()).isEqualTo(kind);
  }

  @ParameterizedTest(name = "{0}: \"{1}\"")
  @CsvSource(delimiter = '|', value = {
      "empty                        | ''                 | is empty",
      "blank                        | '   '              | is empty",
      "mid-label wildcard           | foo*.example.com   | wildcards are only supported as a whole leading label",
      "suffix wildcard in label     | *foo.example.com   | wildcards are only supported as a whole leading label",
      "trailing wildcard            | example.*          | wildcards are only supported as a whole leading label",
      "inner wildcard label         | a.*.example.com    | wildcards are only supported as a whole leading label",
      "double wildcard label        | *.*.example.com    | wildcards are only supported as a whole leading label",
      "triple star                  | ***.example.com    | wildcards are only supported as a whole leading label",
      "question mark                | ?                  | wildcards are only supported as a whole leading label",
      "question mark in name        | ex?mple.com        | wildcards are only supported as a whole leading label",
      "character class              | [a-z]              | character classes like [a-z] are not supported",
      "character class in name      | [a-z].example.com  | wildcards are only supported as a whole leading label",
      "bracketed star               | [*]                | brackets may only enclose an IPv6 address",
      "bracketed name               | [example.com]      | brackets may only enclose an IPv6 address",
      "bracketed IPv4               | [10.0.0.1]         | brackets may only enclose an IPv6 address",
      "bracketed IPv4 CIDR          | [10.0.0.0/8]       | brackets may only enclose an IPv6 address",
      "wildcard over IPv4           | *.10.0.0.1         | wildcards apply to names, not IP addresses (use a CIDR block such as 10.0.0.0/8)",
      "apex wildcard over IPv4      | **.10.0.0.1        | wildcards apply to names, not IP addresses",
      "wildcard without suffix      | *.                 | empty",
      "apex wildcard without suffix | **.                | empty",
      "CIDR with host bits          | 10.0.0.1/8         | use 10.0.0.0/8",
      "IPv6 CIDR with host bits     | fd00::1/8          | use fd00::/8",
      "CIDR prefix 33               | 10.0.0.0/33        | prefix length 33 (expected: 0..32)",
      "IPv6 CIDR prefix 129         | fd00::/129         | prefix length 129 (expected: 0..128)",
      "CIDR without prefix          | 10.0.0.0/          | prefix length",
      "CIDR negative prefix         | 10.0.0.0/-1        | prefix length",
      "CIDR with a name             | example.com/8      | without scheme or path",
      "CIDR with a short IPv4       | 10.1/16            | dotted quad",
      "path                         | example.com/path   | without scheme or path",
      "scheme                       | http://example.com | without scheme or path",
      "port 0                       | example.com:0      | port must be 1..65535",
      "port 65536                   | example.com:65536  | port must be 1..65535",
      "empty port                   | example.com:       | port must be 1..65535",
      "named port                   | example.com:https  | port must be 1..65535",
      "leading-zero port            | example.com:0443   | port must be 1..65535",
      "empty label                  | a..example.com     | empty label",
      "invalid IPv4                 | 256.1.1.1          | IPv4",
      "zone                         | [fe80::1%25eth0]   | zone",
      "space inside                 | exa mple.com       | is not allowed",
  })
  void rejectsPatternsWithAHelpfulMessage(String description, String text, String message) {
    assertThatThrownBy(() -> HostPattern.parse(text))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("pattern \"" + text + "\"")
        .hasMessageContaining(message);
  }

  @ParameterizedTest(name = "\"{0}\" applies to port {1}: {2}")
  @CsvSource({
      "example.com, 443, true",
      "example.com, 1, true",
      "example.com:443, 443, true",
      "example.com:443, 80, false",
  })
  void portScopedPatternsApplyOnlyToTheirPort(String text, int port, boolean applies) {
    assertThat(HostPattern.parse(text).appliesToPort(port)).isEqualTo(applies);
  }

  @ParameterizedTest(name = "\"{0}\" global={1} explicit={2}")
  @CsvSource({
      "*, true, false",
      "*:443, false, false",
      "*.example.com, false, false",
      "**.example.com, false, false",
      "example.com, false, true",
      "10.0.0.1, false, true",
      "10.0.0.0/8, false, true",
  })
  void reportsWhetherAPatternIsGlobalOrExplicit(String text, boolean global, boolean explicit) {
    HostPattern pattern = HostPattern.parse(text);

    assertThat(pattern.isGlobal()).isEqualTo(global);
    assertThat(pattern.isExplicit()).isEqualTo(explicit);
  }

  @Test
  void constructorRefusesComponentsThatDoNotFitTheKind() {
    HostName host = HostName.parse("example.com");

    assertThatThrownBy(() -> new HostPattern(Kind.ANY, host, null, 0, "*"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("do not fit kind ANY");
    assertThatThrownBy(() -> new HostPattern(Kind.EXACT, host, null, 65536, "x"))
        .hasMessage("port: 65536 (expected: 0..65535)");
  }
}
