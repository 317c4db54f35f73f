package dev.egressd.config;

import static dev.egressd.config.Fixtures.problems;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ProblemReportingTest {
  @Test
  void everySyntaxErrorIsReportedWithLineAndColumn() {
    List<ConfigProblem> problems = problems("""
        [network]
        mode = "full
        enabled = yes
        [network]
        """);

    assertThat(problems).extracting(ConfigProblem::toString).containsExactly(
        "config.toml:2:13: Unexpected end of line, expected \" or a character",
        "config.toml:3:11: Unexpected 'y', expected a value",
        "config.toml:4:1: network previously defined at line 1, column 1");
  }

  @Test
  void semanticProblemsAreAllReportedTogetherInFileOrder() {
    List<ConfigProblem> problems = problems("""
        default_permissions = "p"
        [network]
        mode = "readonly"
        [permissions.p.network]
        enabeld = true
        denied_domains = ["*", "ok.example", "bad..example"]
        """);

    assertThat(problems).extracting(ConfigProblem::line, ConfigProblem::key).containsExactly(
        org.assertj.core.groups.Tuple.tuple(3, "network.mode"),
        org.assertj.core.groups.Tuple.tuple(5, "permissions.p.network.enabeld"),
        org.assertj.core.groups.Tuple.tuple(6, "permissions.p.network.denied_domains[0]"),
        org.assertj.core.groups.Tuple.tuple(6, "permissions.p.network.denied_domains[2]"));
  }

  @Test
  void exceptionMessageListsOneProblemPerLine() {
    assertThatThrownBy(() -> ConfigLoader.parse("[network]\nenabled = 1\nmode = 2\n", "x.toml", null))
        .hasMessage("x.toml:2:1: network.enabled: expected a boolean, found an integer\n"
            + "x.toml:3:1: network.mode: expected a string, found an integer");
  }

  @Test
  void tomlParserFailureIsAProblemOfTheFileNotACrash() {
    // Found by ConfigLoaderFuzzTest: with assertions on (as in tests), tomlj 2.2.0 fails an internal assert here.
    assertThatThrownBy(() -> ConfigLoader.parse("[d#\u0000", "x.toml", null))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith("x.toml: ");
  }

  @Test
  void problemWithoutPositionOrKeyOmitsThem() {
    assertThat(new ConfigProblem("f.toml", 0, 0, null, "file not found")).hasToString("f.toml: file not found");
    assertThat(new ConfigProblem("f.toml", 0, 0, "--profile", "bad")).hasToString("f.toml: --profile: bad");
  }

  @Test
  void loadReportsAMissingFile(@TempDir Path dir) {
    Path missing = dir.resolve("nope.toml");

    assertThatThrownBy(() -> ConfigLoader.load(missing, null))
        .isInstanceOf(ConfigException.class)
        .hasMessage(missing + ": file not found");
  }

  @Test
  void loadReportsInvalidUtf8(@TempDir Path dir) throws IOException {
    Path file = dir.resolve("bad.toml");
    Files.write(file, new byte[] {'a', ' ', '=', ' ', '"', (byte) 0xff, '"'});

    assertThatThrownBy(() -> ConfigLoader.load(file, null)).hasMessageContaining("not valid UTF-8");
  }

  @Test
  void loadRecordsTheSourceAndUsesThePathInMessages(@TempDir Path dir) throws IOException, ConfigException {
    Path file = dir.resolve("egressd.toml");
    Files.writeString(file, "[network]\nallowed_domains = [\"example.com\"]\n");

    DaemonConfig config = ConfigLoader.load(file, null);

    assertThat(config.source()).isEqualTo(file);
    assertThat(config.policy().scope()).isEqualTo("[network] in " + file);
    assertThat(config.policy().rules()).singleElement()
        .satisfies(r -> assertThat(r.origin()).isEqualTo("egressd.toml:2 network.allowed_domains"));
  }

  @Test
  void parseLeavesTheSourceEmpty() throws ConfigException {
    assertThat(ConfigLoader.parse("", "inline.toml", null).source()).isNull();
  }
}
