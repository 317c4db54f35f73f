package dev.egressd.config;

import static org.assertj.core.api.Assertions.assertThat;

import dev.egressd.policy.AccessMode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class ExamplesTest {
  private static final Path EXAMPLES = Path.of("..", "examples");

  static Stream<Path> examples() throws IOException {
    try (Stream<Path> files = Files.list(EXAMPLES)) {
      List<Path> tomlFiles = files.filter(f -> f.toString().endsWith(".toml")).sorted().toList();
      assertThat(tomlFiles).isNotEmpty();
      return tomlFiles.stream();
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("examples")
  void everyExampleLoadsAndAllowsSomething(Path file) throws ConfigException {
    DaemonConfig config = ConfigLoader.load(file, null);

    assertThat(config.policy().enabled()).isTrue();
    assertThat(config.policy().rules()).isNotEmpty();
    assertThat(config.listeners().nonLoopbackAllowed()).isFalse();
  }

  @Test
  void agentExampleAllowsGithubButDeniesGist() throws ConfigException {
    DaemonConfig config = ConfigLoader.load(EXAMPLES.resolve("agent.toml"), null);

    assertThat(Fixtures.verdict(config.policy(), "api.github.com")).isEqualTo("allow");
    assertThat(Fixtures.verdict(config.policy(), "gist.github.com")).isEqualTo("deny");
    assertThat(Fixtures.verdict(config.policy(), "evilgithub.com")).isEqualTo("miss");
  }

  @Test
  void codexExampleSelectsEachProfile() throws ConfigException {
    Path file = EXAMPLES.resolve("codex-config.toml");

    DaemonConfig workspace = ConfigLoader.load(file, null);
    DaemonConfig docs = ConfigLoader.load(file, "docs");

    assertThat(workspace.profile()).isEqualTo("workspace");
    assertThat(workspace.policy().mode()).isEqualTo(AccessMode.FULL);
    assertThat(Fixtures.verdict(workspace.policy(), "gist.github.com")).isEqualTo("deny");
    assertThat(docs.policy().mode()).isEqualTo(AccessMode.LIMITED);
    assertThat(Fixtures.verdict(docs.policy(), "github.com")).isEqualTo("miss");
  }

  @Test
  void limitedExampleIsReadOnly() throws ConfigException {
    assertThat(ConfigLoader.load(EXAMPLES.resolve("limited.toml"), null).policy().mode())
        .isEqualTo(AccessMode.LIMITED);
  }
}
