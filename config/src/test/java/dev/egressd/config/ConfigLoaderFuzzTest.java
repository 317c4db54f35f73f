package dev.egressd.config;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.charset.StandardCharsets;

/**
 * Fuzzes {@link ConfigLoader#parse}: any text either loads or fails with a {@link ConfigException} whose every
 * problem names the file and has a valid position; nothing else may escape, whatever the TOML parser makes of the
 * input. Seeds and past findings: {@code ConfigLoaderFuzzTestInputs/}; see docs/fuzzing.md.
 */
class ConfigLoaderFuzzTest {
  private static final String FILE = "fuzz.toml";

  @FuzzTest(maxDuration = "15s")
  @DictionaryEntries({"[network]", "[permissions.", ".network]", "[network.domains]", "[otel]", "[audit]",
      "[admin]", "[limits]", "[[", "]]", "default_permissions", "extends", "enabled", "mode", "\"limited\"",
      "allowed_domains", "denied_domains", "allow_local_binding", "proxy_url", "socks_url", "enable_socks5",
      "enable_socks5_udp", "socks_username", "socks_password_env", "mitm", "mitm_domains", "mitm_bypass",
      "unix_sockets", "dangerously_allow_non_loopback_proxy", "max_connections", "idle_timeout", "listen",
      "exporter", "endpoint", "\"allow\"", "\"deny\"", "\"**.", "\"*.", "\"127.0.0.1:", "= ", "true", "false",
      "'''", "\"\"\"", "\\u", "1979-05-27T07:32:00Z", "inf", "nan", "0x", "\\x0A"})
  void loadsOrReportsLocatedProblems(byte[] input) {
    String toml = new String(input, StandardCharsets.UTF_8);
    try {
      DaemonConfig config = ConfigLoader.parse(toml, FILE, null);
      assertThat(config.policy()).isNotNull();
      assertThat(config.warnings()).doesNotContainNull();
    } catch (ConfigException e) {
      assertThat(e.problems()).isNotEmpty().allSatisfy(problem -> {
        assertThat(problem.file()).isEqualTo(FILE);
        assertThat(problem.line()).isGreaterThanOrEqualTo(0);
        assertThat(problem.column()).isGreaterThanOrEqualTo(0);
        assertThat(problem.message()).isNotNull();
      });
    }
  }
}
