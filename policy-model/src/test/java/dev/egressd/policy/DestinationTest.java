package dev.egressd.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class DestinationTest {

  @ParameterizedTest(name = "\"{0}\" -> {1} port {2}")
  @CsvSource(delimiter = '|', value = {
      "example.com:443            | example.com      | 443   | example.com:443",
      "EXAMPLE.com.:80            | example.com      | 80    | example.com:80",
      "b\u00fccher.example:443    | xn--bcher-kva.example | 443 | xn--bcher-kva.example:443",
      "example.com:1              | example.com      | 1     | example.com:1",
      "example.com:65535          | example.com      | 65535 | example.com:65535",
      "127.1:8080                 | 127.0.0.1        | 8080  | 127.0.0.1:8080",
      "0x7f000001:22              | 127.0.0.1        | 22    | 127.0.0.1:22",
      "[::1]:443                  | ::1              | 443   | [::1]:443",
      "[0:0:0:0:0:0:0:1]:443      | ::1              | 443   | [::1]:443",
      "[::ffff:127.0.0.1]:1       | ::ffff:127.0.0.1 | 1     | [::ffff:127.0.0.1]:1",
  })
  void parsesConnectAuthorities(String authority, String host, int port, String canonical) {
    Destination destination = Destination.parseAuthority(authority);

    assertThat(destination.host().value()).isEqualTo(host);
    assertThat(destination.port()).isEqualTo(port);
    assertThat(destination.authority()).isEqualTo(canonical);
    assertThat(destination).hasToString(canonical);
  }

  @ParameterizedTest(name = "{0}: \"{1}\"")
  @CsvSource(delimiter = '|', value = {
      "missing port                | example.com               | missing port",
      "empty port                  | example.com:              | port",
      "port 0                      | example.com:0             | port",
      "port 65536                  | example.com:65536         | port",
      "port 99999                  | example.com:99999         | port",
      "six digit port              | example.com:100000        | port",
      "plus sign                   | example.com:+443          | port",
      "leading zero                | example.com:0443          | port",
      "negative                    | example.com:-1            | port",
      "space in port               | example.com:44 3          | port",
      "fullwidth digits            | example.com:\uff14\uff14\uff13 | port",
      "bracketed IPv6 without port | [::1]                     | missing port",
      "unbracketed IPv6            | ::1:443                   | brackets",
      "bracketed name              | [example.com]:443         | brackets",
      "bracketed IPv4              | [1.2.3.4]:443             | IPv6",
      "bracketed zone              | [fe80::1%25eth0]:443      | brackets",
      "unbalanced bracket          | [::1:443                  | brackets",
      "junk after bracket          | [::1]x:443                | brackets",
      "path                        | example.com:443/path      | scheme or path",
      "scheme                      | http://example.com:443    | scheme or path",
      "userinfo                    | user@example.com:443      | is not allowed",
      "empty host                  | :443                      | empty",
      "empty host in brackets      | []:443                    | brackets",
  })
  void rejectsMalformedAuthorities(String description, String authority, String why) {
    assertThatThrownBy(() -> Destination.parseAuthority(authority))
        .isInstanceOf(InvalidHostException.class)
        .hasMessageContaining(why);
  }

  @ParameterizedTest(name = "port {0}")
  @CsvSource({"0", "-1", "65536"})
  void refusesPortsOutsideTheValidRange(int port) {
    HostName host = HostName.parse("example.com");

    assertThatThrownBy(() -> new Destination(host, port))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("port: " + port + " (expected: 1..65535)");
  }

  @Test
  void parsePortReadsPlainDecimal() {
    assertThat(Destination.parsePort("ctx", "1")).isEqualTo(1);
    assertThat(Destination.parsePort("ctx", "65535")).isEqualTo(65535);
    assertThatThrownBy(() -> Destination.parsePort("ctx", ""))
        .isInstanceOf(InvalidHostException.class)
        .hasMessageStartingWith("invalid host \"ctx\"");
  }
}
