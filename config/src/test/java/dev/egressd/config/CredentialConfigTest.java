package dev.egressd.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.egressd.policy.Credential;
import dev.egressd.policy.HostName;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@code [network.credentials.NAME]}: read, secrets resolved, stand-ins made, and every bad input an error. */
class CredentialConfigTest {
  private static final String TOKEN = "ghp_R3alT0kenValue0123456789abcdefABCD";
  private static final Map<String, String> ENV = Map.of("GH_REAL_TOKEN", TOKEN, "SHORT", "ghp_abc");

  @TempDir
  Path dir;

  private static DaemonConfig parse(String toml) throws ConfigException {
    return ConfigLoader.parse(toml, "config.toml", null, ENV::get);
  }

  @Test
  void aCredentialGetsItsSecretAStandInAndItsHostsAreIntercepted() throws ConfigException {
    DaemonConfig config = parse("""
        [network]
        mitm = true
        allowed_domains = ["api.github.test", "github.test"]

        [network.credentials.github]
        secret_env_var = "GH_REAL_TOKEN"
        hosts = ["api.github.test", "github.test"]
        child_env_var = "GH_TOKEN"
        """);

    Credential github = config.policy().credentials().all().get(0);
    assertThat(github.name()).isEqualTo("github");
    assertThat(github.secret().reveal()).isEqualTo(TOKEN);
    assertThat(github.dummy()).startsWith("ghp_").hasSameSizeAs(TOKEN).isNotEqualTo(TOKEN);
    assertThat(github.header()).isEqualTo("authorization");
    assertThat(github.childVariable()).isEqualTo("GH_TOKEN");
    assertThat(github.secretVariable()).isEqualTo("GH_REAL_TOKEN");
    assertThat(github.origin()).isEqualTo("config.toml:5 network.credentials.github");
    assertThat(config.policy().intercepts(HostName.parse("github.test"), 443)).isTrue();
    assertThat(parse("""
        [network]
        mitm = true
        [network.credentials.github]
        secret_env_var = "GH_REAL_TOKEN"
        hosts = ["github.test"]
        child_env_var = "GH_TOKEN"
        """).policy().credentials().all().get(0).dummy()).as("the same in every load").isEqualTo(github.dummy());
  }

  @Test
  void aSecretFileAndAnotherHeader() throws Exception {
    Path file = Files.writeString(dir.resolve("key"), "sk-proj-AbCdEfGhIjKlMnOpQrStUv\n");
    DaemonConfig config = parse("""
        [network]
        mitm = true
        [network.credentials.openai]
        secret_file = '%s'
        hosts = ["api.openai.test"]
        child_env_var = "OPENAI_API_KEY"
        header = "X-Api-Key"
        """.formatted(file));

    Credential openai = config.policy().credentials().all().get(0);
    assertThat(openai.secret().reveal()).isEqualTo("sk-proj-AbCdEfGhIjKlMnOpQrStUv");
    assertThat(openai.header()).isEqualTo("x-api-key");
    assertThat(openai.secretVariable()).isNull();
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', textBlock = """
      no mitm          | mitm = false | secret_env_var = "GH_REAL_TOKEN", hosts = ["a.test"], child_env_var = "T" | network.credentials      | network.credentials requires network.mitm = true
      two sources      | mitm = true  | secret_env_var = "GH_REAL_TOKEN", secret_file = "/x", hosts = ["a.test"], child_env_var = "T" | network.credentials.gh | expected exactly one of secret_env_var or secret_file
      relative file    | mitm = true  | secret_file = "key", hosts = ["a.test"], child_env_var = "T" | network.credentials.gh.secret_file | secret_file must be an absolute path
      missing variable | mitm = true  | secret_env_var = "NOPE", hosts = ["a.test"], child_env_var = "T" | network.credentials.gh | missing required environment variable NOPE
      too short        | mitm = true  | secret_env_var = "SHORT", hosts = ["a.test"], child_env_var = "T" | network.credentials.gh | too short to stand in for
      no hosts         | mitm = true  | secret_env_var = "GH_REAL_TOKEN", child_env_var = "T" | network.credentials.gh | a credential needs hosts
      every host       | mitm = true  | secret_env_var = "GH_REAL_TOKEN", hosts = ["*"], child_env_var = "T" | network.credentials.gh.hosts[0] | cannot belong to every host
      no child var     | mitm = true  | secret_env_var = "GH_REAL_TOKEN", hosts = ["a.test"] | network.credentials.gh | a credential needs child_env_var
      bad child var    | mitm = true  | secret_env_var = "GH_REAL_TOKEN", hosts = ["a.test"], child_env_var = "1-X" | network.credentials.gh.child_env_var | is not an environment variable name
      framing header   | mitm = true  | secret_env_var = "GH_REAL_TOKEN", hosts = ["a.test"], child_env_var = "T", header = "Host" | network.credentials.gh.header | cannot carry a credential
      unknown key      | mitm = true  | secret_env_var = "GH_REAL_TOKEN", hosts = ["a.test"], child_env_var = "T", prefix = "Bearer " | network.credentials.gh.prefix | unknown key
      """)
  void badCredentialsAreErrorsNamingLineAndKey(String what, String mitm, String body, String key, String message) {
    String toml = "[network]\n" + mitm + "\ncredentials = { gh = { " + body + " } }\n";
    ConfigException[] thrown = new ConfigException[1];
    assertThatThrownBy(() -> parse(toml)).isInstanceOfSatisfying(ConfigException.class, e -> thrown[0] = e);

    assertThat(thrown[0].getMessage()).doesNotContain(TOKEN).doesNotContain("ghp_abc");
    List<ConfigProblem> problems = thrown[0].problems();
    assertThat(problems).anySatisfy(p -> {
      assertThat(p.line()).isEqualTo(3);
      assertThat(p.key()).isEqualTo(key);
      assertThat(p.message()).contains(message);
    });
  }
}
