package dev.egressd.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@code socks_username} / {@code socks_password_env}: the password comes from the environment, both or neither. */
class SocksCredentialsTest {
  private static DaemonConfig parse(String toml, Map<String, String> env) throws ConfigException {
    return ConfigLoader.parse(toml, "config.toml", null, env::get);
  }

  @Test
  void credentialsAreReadWithThePasswordFromTheEnvironment() throws ConfigException {
    DaemonConfig config = parse("[network]\nsocks_username = \"agent\"\nsocks_password_env = \"SOCKS_PW\"\n",
        Map.of("SOCKS_PW", "s3cret"));
    assertThat(config.listeners().socksCredentials()).isEqualTo(new SocksCredentials("agent", "s3cret", "SOCKS_PW"));
    assertThat(config.listeners().socksCredentials().toString()).doesNotContain("s3cret");
  }

  @Test
  void noKeysMeansNoAuthentication() throws ConfigException {
    assertThat(parse("[network]\n", Map.of()).listeners().socksCredentials()).isNull();
  }

  @Test
  void missingEnvironmentVariableIsAnErrorNamingIt() {
    assertThatThrownBy(() -> parse("[network]\nsocks_username = \"agent\"\nsocks_password_env = \"SOCKS_PW\"\n",
        Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessage("config.toml:3:1: network.socks_password_env: environment variable SOCKS_PW is not set or empty");
  }

  @Test
  void usernameWithoutPasswordIsAnError() {
    assertThatThrownBy(() -> parse("[network]\nsocks_username = \"agent\"\n", Map.of()))
        .hasMessageContaining("config.toml:2:").hasMessageContaining("must be set together");
  }

  @Test
  void wrongTypeIsAnError() {
    assertThatThrownBy(() -> parse("[network]\nsocks_username = 7\n", Map.of()))
        .hasMessageContaining("network.socks_username: expected a string, found an integer");
  }
}
