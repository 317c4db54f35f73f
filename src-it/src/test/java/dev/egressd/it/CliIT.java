package dev.egressd.it;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The command line itself: --version, --help for every command, and usage errors (exit 2). */
@Timeout(value = 60, unit = SECONDS)
class CliIT {
  @TempDir
  Path home;

  @Test
  void versionPrintsTheVersion() {
    ProcessResult result = Egressd.cli(home, "--version");

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(result.stdout()).matches("(?s)egressd \\d+\\.\\d+\\.\\d+\\S*\\n");
  }

  @Test
  void helpListsTheCommands() {
    ProcessResult result = Egressd.cli(home, "--help");

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(result.stdout()).contains("run", "check", "validate");
  }

  @ParameterizedTest
  @ValueSource(strings = {"run", "check", "validate"})
  void everyCommandHasHelp(String command) {
    ProcessResult result = Egressd.cli(home, command, "--help");

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(result.stdout()).contains("Usage: egressd " + command);
  }

  @Test
  void unknownCommandIsAUsageError() {
    ProcessResult result = Egressd.cli(home, "frobnicate");

    assertThat(result.exitCode()).as("%s", result).isEqualTo(2);
  }

  @Test
  void missingCommandIsAUsageError() {
    ProcessResult result = Egressd.cli(home);

    assertThat(result.exitCode()).as("%s", result).isEqualTo(2);
  }

  @Test
  void unknownOptionIsAUsageError() {
    ProcessResult result = Egressd.cli(home, "check", "--frobnicate", "http://allowed.test/");

    assertThat(result.exitCode()).as("%s", result).isEqualTo(2);
    assertThat(result.stderr()).contains("--frobnicate");
  }
}
