package dev.egressd.it;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** {@code egressd validate --config F}: exit 0 when valid, 2 with every problem as file:line:column otherwise. */
@Timeout(value = 60, unit = SECONDS)
class ValidateCommandIT {
  @TempDir
  Path dir;

  private ProcessResult validate(String name, String toml) throws IOException {
    Path file = Files.writeString(dir.resolve(name), toml);
    return Egressd.cli(dir, "validate", "--config", file.toString());
  }

  @Test
  void configUsingBothRuleFormsIsValid() throws IOException {
    ProcessResult result = validate("good.toml", """
        [network]
        enabled = true
        mode = "limited"
        allow_local_binding = false
        allowed_domains = ["allowed.test", "*.allowed.test", "**.example.test", "127.0.0.0/8", "127.0.0.1:8080"]
        denied_domains = ["denied.test"]

        [network.domains]
        "other.test" = "allow"
        "evil.test" = "deny"
        """);

    assertThat(result.exitCode()).as("%s", result).isZero();
  }

  @Test
  void codexConfigWithUnrelatedTablesIsValid() throws IOException {
    ProcessResult result = validate("config.toml", """
        model = "gpt-5-codex"
        model_reasoning_effort = "high"
        default_permissions = "workspace"

        [shell_environment_policy]
        inherit = "core"
        exclude = ["AWS_*"]

        [mcp_servers.docs]
        command = "docs-server"
        args = ["--stdio"]

        [permissions.workspace.network]
        allowed_domains = ["allowed.test"]
        """);

    assertThat(result.exitCode()).as("%s", result).isZero();
  }

  @Test
  void unknownKeyIsReportedWithFileLineAndColumn() throws IOException {
    ProcessResult result = validate("typo.toml", """
        [network]
        allowed_domains = ["allowed.test"]
        allowed_domain = ["denied.test"]
        """);

    assertThat(result.exitCode()).as("%s", result).isEqualTo(2);
    assertThat(result.stderr()).containsPattern("typo\\.toml:3:\\d+").contains("allowed_domain");
  }

  @Test
  void everyProblemIsReported() throws IOException {
    ProcessResult result = validate("two-problems.toml", """
        [network]
        allowed_domains = ["allowed.test"]
        allowed_domain = ["x.test"]
        mode = "sometimes"
        """);

    assertThat(result.exitCode()).as("%s", result).isEqualTo(2);
    assertThat(result.stderr()).containsPattern("two-problems\\.toml:3:\\d+")
        .containsPattern("two-problems\\.toml:4:\\d+");
  }

  @Test
  void tomlSyntaxErrorIsReportedWithItsLine() throws IOException {
    ProcessResult result = validate("syntax.toml", """
        [network]
        allowed_domains = ["allowed.test"
        mode = "full"
        """);

    assertThat(result.exitCode()).as("%s", result).isEqualTo(2);
    assertThat(result.stderr()).containsPattern("syntax\\.toml:\\d+:\\d+");
  }

  @Test
  void wrongValueTypeIsInvalid() throws IOException {
    ProcessResult result = validate("type.toml", """
        [network]
        allowed_domains = "allowed.test"
        """);

    assertThat(result.exitCode()).as("%s", result).isEqualTo(2);
    assertThat(result.stderr()).containsPattern("type\\.toml:2:\\d+");
  }

  @Test
  void globalWildcardInTheDenyListIsInvalid() throws IOException {
    ProcessResult result = validate("star.toml", """
        [network]
        allowed_domains = ["allowed.test"]
        denied_domains = ["*"]
        """);

    assertThat(result.exitCode()).as("%s", result).isEqualTo(2);
    assertThat(result.stderr()).containsPattern("star\\.toml:3:\\d+");
  }

  @Test
  void invalidDomainsTableValueIsInvalid() throws IOException {
    ProcessResult result = validate("table.toml", """
        [network.domains]
        "allowed.test" = "maybe"
        """);

    assertThat(result.exitCode()).as("%s", result).isEqualTo(2);
    assertThat(result.stderr()).containsPattern("table\\.toml:2:\\d+");
  }

  @Test
  void missingFileIsAConfigError() {
    ProcessResult result = Egressd.cli(dir, "validate", "--config", dir.resolve("absent.toml").toString());

    assertThat(result.exitCode()).as("%s", result).isEqualTo(2);
    assertThat(result.stderr()).contains("absent.toml");
  }
}
