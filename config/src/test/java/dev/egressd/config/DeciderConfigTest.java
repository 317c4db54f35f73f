package dev.egressd.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@code [network.decider]}: where the decider is, its timeout and token, and every refusal with its position. */
class DeciderConfigTest {
  private static DaemonConfig parse(String toml, Map<String, String> env) throws ConfigException {
    return ConfigLoader.parse(toml, "config.toml", null, env::get);
  }

  private static DeciderSettings decider(String table) throws ConfigException {
    return parse("[network.decider]\n" + table, Map.of("DECIDER_TOKEN", "t0ken-123")).decider();
  }

  private static String problem(String table) {
    ConfigException[] thrown = new ConfigException[1];
    assertThatThrownBy(() -> parse("[network.decider]\n" + table, Map.of()))
        .isInstanceOfSatisfying(ConfigException.class, e -> thrown[0] = e);
    return String.join("\n", thrown[0].problems().stream().map(Object::toString).toList());
  }

  @Test
  void noTableMeansNoDecider() throws ConfigException {
    assertThat(parse("[network]\n", Map.of()).decider()).isNull();
    assertThat(ConfigLoader.defaults().decider()).isNull();
  }

  @Test
  void aLoopbackUrlWithTheDefaults() throws ConfigException {
    DeciderSettings settings = decider("url = \"http://127.0.0.1:8181/decide?v=1\"\n");
    assertThat(settings.url()).isEqualTo(URI.create("http://127.0.0.1:8181/decide?v=1"));
    assertThat(settings.unixSocket()).isNull();
    assertThat(settings.path()).isEqualTo("/decide?v=1");
    assertThat(settings.timeout()).isEqualTo(Duration.ofSeconds(5));
    assertThat(settings.token()).isNull();
  }

  @Test
  void aUnixSocketWithPathTimeoutAndTokenFromTheEnvironment() throws ConfigException {
    DeciderSettings settings = decider("""
        unix_socket = "/run/egressd/decider.sock"
        path = "/v1/decide"
        timeout = 1.5
        token_env = "DECIDER_TOKEN"
        """);
    assertThat(settings.unixSocket()).isEqualTo(Path.of("/run/egressd/decider.sock"));
    assertThat(settings.path()).isEqualTo("/v1/decide");
    assertThat(settings.timeout()).isEqualTo(Duration.ofMillis(1500));
    assertThat(settings.token()).isEqualTo("t0ken-123");
    assertThat(settings.toString()).doesNotContain("t0ken").contains("$DECIDER_TOKEN");
  }

  @Test
  void localhostAndIpv6LoopbackAreLoopback() throws ConfigException {
    assertThat(decider("url = \"http://localhost:9/\"\n").path()).isEqualTo("/");
    assertThat(decider("url = \"http://[::1]:9\"\n").path()).isEqualTo("/");
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "url = \"http://10.0.0.5:8181/\"|config.toml:2:1: network.decider.url: the decider must be on a loopback"
          + " address (127.0.0.1, [::1] or localhost), found \"10.0.0.5\"",
      "url = \"http://decider.example:80/\"|config.toml:2:1: network.decider.url: the decider must be on a loopback"
          + " address (127.0.0.1, [::1] or localhost), found \"decider.example\"",
      "url = \"https://127.0.0.1:8181/\"|config.toml:2:1: network.decider.url: expected an http:// URL (the decider"
          + " is on this host, so TLS adds nothing), found \"https://127.0.0.1:8181/\"",
      "url = \"http://user:pw@127.0.0.1:8181/\"|config.toml:2:1: network.decider.url: expected http://HOST:PORT/path"
          + " without credentials or fragment, found \"http://user:pw@127.0.0.1:8181/\"",
      "url = \"http://127.0.0.1:8181/ a\"|config.toml:2:1: network.decider.url: not a URL: Illegal character in path"
          + " at index 22: http://127.0.0.1:8181/ a",
      "url = 8181|config.toml:2:1: network.decider.url: expected a string, found an integer",
      "timeout = \"5s\"|config.toml:2:1: network.decider.timeout: expected seconds (e.g. 5 or 0.5), found a string",
      "uri = \"http://127.0.0.1:1/\"|config.toml:2:1: network.decider.uri: unknown key (did you mean url?)",
  })
  void badValuesAreRefusedWithFileLineAndKey(String line, String expected) {
    assertThat(problem(line + "\n")).isEqualTo(expected);
  }

  @Test
  void exactlyOneOfUrlAndUnixSocket() {
    assertThat(problem("url = \"http://127.0.0.1:1/\"\nunix_socket = \"/tmp/d.sock\"\n"))
        .isEqualTo("config.toml:2:1: network.decider: set exactly one of url and unix_socket");
    assertThat(problem("timeout = 2\n"))
        .isEqualTo("config.toml:2:1: network.decider: set exactly one of url and unix_socket");
  }

  @Test
  void pathIsOnlyForUnixSocketsAndMustBeAPath() {
    assertThat(problem("url = \"http://127.0.0.1:1/\"\npath = \"/x\"\n"))
        .isEqualTo("config.toml:3:1: network.decider.path: only with unix_socket; put the path in url");
    assertThat(problem("unix_socket = \"/tmp/d.sock\"\npath = \"decide\"\n"))
        .isEqualTo("config.toml:3:1: network.decider.path: expected a request path starting with / and without"
            + " spaces, found \"decide\"");
  }

  @Test
  void timeoutIsBounded() {
    assertThat(problem("unix_socket = \"/tmp/d.sock\"\ntimeout = 0\n"))
        .isEqualTo("config.toml:3:1: network.decider.timeout: expected seconds from 0.001 to 600, found 0");
    assertThat(problem("unix_socket = \"/tmp/d.sock\"\ntimeout = 601\n"))
        .isEqualTo("config.toml:3:1: network.decider.timeout: expected seconds from 0.001 to 600, found 601");
    assertThat(problem("unix_socket = \"/tmp/d.sock\"\nask_timeout = 30\n"))
        .isEqualTo("config.toml:3:1: network.decider.ask_timeout: moved to the network table: set ask_timeout next"
            + " to allowed_domains (it bounds every ask, the decider's and the rules')");
  }

  @Test
  void aMissingTokenVariableIsAnErrorNamingIt() {
    assertThat(problem("unix_socket = \"/tmp/d.sock\"\ntoken_env = \"DECIDER_TOKEN\"\n"))
        .isEqualTo("config.toml:3:1: network.decider.token_env: environment variable DECIDER_TOKEN is not set or"
            + " empty");
  }

  @Test
  void aRelativeSocketIsRelativeToTheConfigFile(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
    Path file = dir.resolve("config.toml");
    java.nio.file.Files.writeString(file, "[network.decider]\nunix_socket = \"run/d.sock\"\n");
    assertThat(ConfigLoader.load(file, null).decider().unixSocket()).isEqualTo(dir.resolve("run/d.sock"));
  }

  @Test
  void theDeciderMustBeATable() {
    ConfigException[] thrown = new ConfigException[1];
    assertThatThrownBy(() -> parse("[network]\ndecider = \"http://127.0.0.1:1/\"\n", Map.of()))
        .isInstanceOfSatisfying(ConfigException.class, e -> thrown[0] = e);
    assertThat(thrown[0].problems()).extracting(Object::toString)
        .containsExactly("config.toml:2:1: network.decider: expected a table, found a string");
  }
}
