package dev.egressd.config;

import static dev.egressd.config.Fixtures.parse;
import static dev.egressd.config.Fixtures.problems;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The {@code [limits]} table: defaults, each key, and every refusal with its position. */
class LimitsConfigTest {
  @Test
  void absentTableKeepsTheDocumentedDefaults() throws ConfigException {
    LimitSettings limits = parse("[network]\n").limits();

    assertThat(limits).isEqualTo(LimitSettings.DEFAULTS);
    assertThat(limits.maxConnections()).isEqualTo(4096);
    assertThat(limits.maxInterceptedTunnels()).isEqualTo(1024);
    assertThat(limits.connectTimeout()).isEqualTo(Duration.ofSeconds(10));
    assertThat(limits.dnsTimeout()).isEqualTo(Duration.ofSeconds(2));
    assertThat(limits.headerTimeout()).isEqualTo(Duration.ofSeconds(30));
    assertThat(limits.idleTimeout()).isEqualTo(Duration.ofSeconds(300));
    assertThat(limits.tlsHandshakeTimeout()).isEqualTo(Duration.ofSeconds(10));
    assertThat(limits.maxBufferedBytes()).isEqualTo(65536);
  }

  @Test
  void everyKeyCanBeSetOnItsOwn() throws ConfigException {
    LimitSettings limits = parse("""
        [limits]
        max_connections = 100
        max_intercepted_tunnels = 7
        connect_timeout = 3
        dns_timeout = 0.5
        header_timeout = 4
        idle_timeout = 60
        tls_handshake_timeout = 1.25
        max_buffered_bytes = 16384
        """).limits();

    assertThat(limits).isEqualTo(new LimitSettings(100, 7, Duration.ofSeconds(3), Duration.ofMillis(500),
        Duration.ofSeconds(4), Duration.ofSeconds(60), Duration.ofMillis(1250), 16384));
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "max_connections = 0|config.toml:2:1: limits.max_connections: expected an integer from 1 to 1000000, found 0",
      "max_connections = 2000000|config.toml:2:1: limits.max_connections: expected an integer from 1 to 1000000,"
          + " found 2000000",
      "max_connections = \"10\"|config.toml:2:1: limits.max_connections: expected an integer from 1 to 1000000,"
          + " found a string",
      "max_intercepted_tunnels = -1|config.toml:2:1: limits.max_intercepted_tunnels: expected an integer from 1 to"
          + " 1000000, found -1",
      "connect_timeout = 0|config.toml:2:1: limits.connect_timeout: expected seconds from 0.001 to 86400, found 0",
      "dns_timeout = -1.5|config.toml:2:1: limits.dns_timeout: expected seconds from 0.001 to 86400, found -1.5",
      "idle_timeout = 100000|config.toml:2:1: limits.idle_timeout: expected seconds from 0.001 to 86400, found 100000",
      "header_timeout = nan|config.toml:2:1: limits.header_timeout: expected seconds from 0.001 to 86400, found NaN",
      "tls_handshake_timeout = \"10s\"|config.toml:2:1: limits.tls_handshake_timeout: expected seconds (e.g. 10 or"
          + " 0.5), found a string",
      "max_buffered_bytes = 1023|config.toml:2:1: limits.max_buffered_bytes: expected a byte count from 1024 to"
          + " 16777216, found 1023",
      "max_buffered_bytes = 16777217|config.toml:2:1: limits.max_buffered_bytes: expected a byte count from 1024 to"
          + " 16777216, found 16777217",
      "max_buffered_bytes = 64.5|config.toml:2:1: limits.max_buffered_bytes: expected a byte count from 1024 to"
          + " 16777216, found a float",
      "max_conections = 5|config.toml:2:1: limits.max_conections: unknown key (did you mean max_connections?)",
  })
  void badValuesAreRefusedWithFileLineAndKey(String line, String expected) {
    assertThat(problems("[limits]\n" + line + "\n")).extracting(Object::toString).containsExactly(expected);
  }

  @Test
  void limitsMustBeATable() {
    assertThat(problems("limits = 5\n")).extracting(Object::toString)
        .containsExactly("config.toml:1:1: limits: expected a table, found an integer");
  }
}
