package dev.egressd.it;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The table form of a domains entry ({@code { action, justification, owner, review_by, report }}) through
 * {@code egressd validate}: errors name file:line and the key; warnings for rules past {@code review_by} and for
 * broad patterns without a justification leave the config valid.
 */
@Timeout(value = 60, unit = SECONDS)
class RuleMetadataIT {
  @TempDir
  Path dir;

  private ProcessResult validate(String toml) throws IOException {
    Path file = Files.writeString(dir.resolve("rules.toml"), toml);
    return Egressd.cli(dir, "validate", "--config", file.toString());
  }

  @Test
  void tableEntriesWithMetadataSitNextToPlainStrings() throws IOException {
    ProcessResult result = validate("""
        [network]
        allowed_domains = ["allowed.test"]

        [network.domains]
        "api.example.test" = { action = "allow", justification = "billing API", owner = "team-x", review_by = 2099-03-31 }
        "plain.test" = "allow"
        "evil.test" = { action = "deny", report = true }
        "**.amazonaws.com" = { action = "allow", justification = "the build cache bucket moves between regions" }
        """);

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(result.stdout()).doesNotContain("warning");
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', textBlock = """
      unknown key       | { action = "allow", reviw_by = 2027-01-01 }   | network.domains."a.test".reviw_by  | unknown key (expected one of action, justification, owner, review_by, report)
      date as a string  | { action = "allow", review_by = "2027-01-01" } | network.domains."a.test".review_by | expected a date (review_by = 2027-03-31), found a string
      report not a bool | { action = "deny", report = "yes" }           | network.domains."a.test".report    | expected a boolean, found a string
      owner not a text  | { action = "allow", owner = 7 }               | network.domains."a.test".owner     | expected a string, found an integer
      missing action    | { owner = "team-x" }                          | network.domains."a.test"           | a rule table needs action
      unknown action    | { action = "permit" }                         | network.domains."a.test".action    | "permit" is not one of "allow", "ask", "deny", "none"
      """)
  void badMetadataIsAnErrorNamingFileLineAndKey(String what, String entry, String key, String message)
      throws IOException {
    ProcessResult result = validate("""
        [network]
        allowed_domains = ["allowed.test"]
        domains = { "a.test" = %s }
        """.formatted(entry));

    assertThat(result.exitCode()).as("%s", result).isEqualTo(2);
    assertThat(result.stderr()).containsPattern("rules\\.toml:3:\\d+").contains(key).contains(message);
  }

  @Test
  void ruleAfterItsReviewDateIsAWarningNamingTheOwner() throws IOException {
    ProcessResult result = validate("""
        [network]
        allowed_domains = ["allowed.test"]

        [network.domains]
        "old.example.test" = { action = "allow", owner = "team-x", review_by = 2020-01-31 }
        "new.example.test" = { action = "allow", review_by = 2099-01-31 }
        """);

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(result.stdout()).containsPattern("warning: .*rules\\.toml:5:\\d+")
        .contains("\"old.example.test\" was due for review on 2020-01-31 (owner team-x)")
        .doesNotContain("new.example.test");
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', textBlock = """
      **.com             | covers every name under .com
      *.io               | covers every name under .io
      *.amazonaws.com    | covers every tenant of amazonaws.com
      **.s3.amazonaws.com | covers every tenant of amazonaws.com
      *.github.io        | covers every tenant of github.io
      """)
  void broadPatternWithoutAJustificationIsAWarning(String pattern, String why) throws IOException {
    ProcessResult result = validate("""
        [network]
        allowed_domains = ["allowed.test", "%s"]
        """.formatted(pattern));

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(result.stdout()).containsPattern("warning: .*rules\\.toml:2:\\d+")
        .contains("\"" + pattern + "\" " + why + " and has no justification");
  }

  @ParameterizedTest
  @CsvSource({"bucket.s3.amazonaws.com", "*.example.com", "*.localhost"})
  void narrowPatternsAreNotBroad(String pattern) throws IOException {
    ProcessResult result = validate("""
        [network]
        allowed_domains = ["allowed.test", "%s"]
        """.formatted(pattern));

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(result.stdout()).doesNotContain("warning");
  }

  @Test
  void aBroadDenyNeedsNoJustification() throws IOException {
    ProcessResult result = validate("""
        [network]
        allowed_domains = ["allowed.test"]
        denied_domains = ["*.amazonaws.com"]
        """);

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(result.stdout()).doesNotContain("warning");
  }

  @Test
  void reportModeIsAWarningSoNobodyShipsItByAccident() throws IOException {
    ProcessResult result = validate("""
        [network]
        enforcement = "report"
        allowed_domains = ["allowed.test"]
        """);

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(result.stdout()).contains("warning:").contains("report");
  }
}
