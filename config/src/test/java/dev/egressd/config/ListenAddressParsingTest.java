package dev.egressd.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.egressd.policy.IpAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class ListenAddressParsingTest {
  @ParameterizedTest(name = "\"{0}\" -> {1} (warnings: {2})")
  @CsvSource(delimiter = '|', value = {
      "http://127.0.0.1:3128        | 127.0.0.1:3128 | 0",
      "127.0.0.1:8080               | 127.0.0.1:8080 | 0",
      "'  127.0.0.1:8080  '         | 127.0.0.1:8080 | 0",
      "127.0.0.1                    | 127.0.0.1:3128 | 0",
      "http://127.0.0.1             | 127.0.0.1:3128 | 0",
      "http://127.0.0.1:            | 127.0.0.1:3128 | 0",
      "http://127.0.0.1:0           | 127.0.0.1:0    | 0",
      "127.0.0.1:65535              | 127.0.0.1:65535| 0",
      "socks5://127.0.0.2:1080/path | 127.0.0.2:1080 | 0",
      "http://user:secret@127.0.0.1:9000 | 127.0.0.1:9000 | 0",
      "localhost:9000               | 127.0.0.1:9000 | 0",
      "http://LOCALHOST             | 127.0.0.1:3128 | 0",
      "[::1]:9000                   | [::1]:9000     | 0",
      "http://[::1]                 | [::1]:3128     | 0",
      "::1                          | [::1]:3128     | 0",
      "127.1:9000                   | 127.0.0.1:9000 | 0",
      "http://example.com:5555      | 127.0.0.1:5555 | 1",
      "0.0.0.0:3128                 | 127.0.0.1:3128 | 1",
      "http://10.1.2.3:9000         | 127.0.0.1:9000 | 1",
      "2001:db8::1                  | 127.0.0.1:3128 | 1",
      "[2001:db8::1]:9000           | 127.0.0.1:9000 | 1",
  })
  void parsesLikeTheReferenceAndClampsToLoopback(String input, String expected, int warnings) {
    List<String> out = new ArrayList<>();

    InetSocketAddress address = ListenerSettings.parseAddress(input, 3128, false, out);

    assertThat(format(address)).isEqualTo(expected);
    assertThat(out).hasSize(warnings);
  }

  @ParameterizedTest(name = "\"{0}\" -> {1}")
  @CsvSource(delimiter = '|', value = {
      "0.0.0.0:3128        | 0.0.0.0:3128",
      "[2001:db8::1]:9000  | [2001:db8::1]:9000",
      "10.1.2.3            | 10.1.2.3:3128",
  })
  void nonLoopbackIsKeptOnlyWhenAllowedAndThenFlaggedDangerous(String input, String expected) {
    List<String> out = new ArrayList<>();

    InetSocketAddress address = ListenerSettings.parseAddress(input, 3128, true, out);

    assertThat(format(address)).isEqualTo(expected);
    assertThat(out).singleElement().asString().startsWith("DANGEROUS: listening on non-loopback address " + expected);
  }

  @Test
  void clampWarningSaysWhatHappenedAndHowToOptIn() {
    List<String> out = new ArrayList<>();

    ListenerSettings.parseAddress("0.0.0.0:3128", 3128, false, out);

    assertThat(out).containsExactly("listen address \"0.0.0.0:3128\" is not loopback; listening on 127.0.0.1:3128 "
        + "instead (set dangerously_allow_non_loopback_proxy = true to listen on 0.0.0.0:3128)");
  }

  @Test
  void hostnameWarningSaysNamesAreNotResolved() {
    List<String> out = new ArrayList<>();

    ListenerSettings.parseAddress("http://proxy.internal:5555", 3128, true, out);

    assertThat(out).containsExactly("listen address \"http://proxy.internal:5555\": \"proxy.internal\" is not an "
        + "IP address; listening on 127.0.0.1:5555 instead");
  }

  @ParameterizedTest(name = "\"{0}\"")
  @ValueSource(strings = {"127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:http", "example.com:notaport",
      "http://127.0.0.1:99999999", "[::1]:x", "", "   ", "http://:8080", "http://user@:8080", "[::1"})
  void invalidAddressIsAnErrorNeverTheDefaultPort(String input) {
    assertThatThrownBy(() -> ListenerSettings.parseAddress(input, 3128, false, new ArrayList<>()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("network proxy address");
  }

  private static String format(InetSocketAddress address) {
    String host = IpAddress.of(address.getAddress()).toString();
    return (host.contains(":") ? "[" + host + "]" : host) + ":" + address.getPort();
  }
}
