package dev.egressd.it;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code egressd check}: the listener's decision (DNS included) for one target, without connecting. Exit 0 allowed,
 * 1 denied, 2 configuration or usage error.
 */
@Timeout(value = 60, unit = SECONDS)
class CheckCommandIT {
  private static final String CONFIG = """
      [network]
      allowed_domains = ["allowed.test", "private.test", "mixed.test", "127.0.0.1"]
      denied_domains = ["denied.test"]
      """;

  @TempDir
  static Path dir;

  static Path config;
  static Path emptyHome;

  @BeforeAll
  static void writeConfig() throws IOException {
    config = Files.writeString(dir.resolve("egressd.toml"), CONFIG);
    emptyHome = Files.createDirectories(dir.resolve("empty-home"));
  }

  private static ProcessResult check(String... args) {
    String[] all = new String[args.length + 3];
    all[0] = "check";
    all[1] = "--config";
    all[2] = config.toString();
    System.arraycopy(args, 0, all, 3, args.length);
    return Egressd.cli(emptyHome, all);
  }

  private static Map<String, Object> json(ProcessResult result) {
    return Json.object(result.stdout());
  }

  @SuppressWarnings("unchecked")
  private static List<Object> addresses(Map<String, Object> json) {
    return (List<Object>) json.get("addresses");
  }

  @Test
  void allowedUrlExitsZeroAndNamesTheRule() {
    ProcessResult result = check("http://allowed.test/path");

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(result.stdout()).containsIgnoringCase("allow").contains("allowed.test");
  }

  @Test
  void jsonDescribesTheWholeDecision() {
    ProcessResult result = check("--json", "http://allowed.test/path");

    assertThat(result.exitCode()).as("%s", result).isZero();
    Map<String, Object> json = json(result);
    assertThat(json).containsEntry("decision", "allow").containsEntry("host", "allowed.test")
        .containsEntry("port", 80L).containsEntry("method", "GET").containsEntry("rule", "allowed.test")
        .containsKeys("reason", "source", "policy");
    assertThat(addresses(json)).containsExactly("127.0.0.1");
  }

  @Test
  void httpsUrlIsCheckedAsATunnelToPort443() {
    ProcessResult result = check("--json", "https://allowed.test");

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(json(result)).containsEntry("port", 443L).containsEntry("host", "allowed.test");
  }

  @Test
  void hostPortTargetUsesThatPort() {
    ProcessResult result = check("--json", "allowed.test:8443");

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(json(result)).containsEntry("port", 8443L);
  }

  @Test
  void deniedHostExitsOneWithReasonDenied() {
    ProcessResult result = check("--json", "http://denied.test/");

    assertThat(result.exitCode()).as("%s", result).isEqualTo(1);
    assertThat(json(result)).containsEntry("decision", "deny").containsEntry("reason", "denied")
        .containsEntry("rule", "denied.test");
  }

  @Test
  void hostOutsideTheAllowlistIsNotAllowedAndNotResolved() {
    ProcessResult result = check("--json", "http://other.test/");

    assertThat(result.exitCode()).as("%s", result).isEqualTo(1);
    Map<String, Object> json = json(result);
    assertThat(json).containsEntry("reason", "not_allowed");
    assertThat(addresses(json)).as("no lookup for a host that is not allowed").isEmpty();
  }

  @Test
  void nameResolvingToAnUnvettedAddressIsNotAllowedLocal() {
    ProcessResult result = check("--json", "http://private.test/");

    assertThat(result.exitCode()).as("%s", result).isEqualTo(1);
    Map<String, Object> json = json(result);
    assertThat(json).containsEntry("decision", "deny").containsEntry("reason", "not_allowed_local");
    assertThat((String) json.get("message")).as("the message names the offending answer").contains("127.0.0.2");
  }

  @Test
  void nameWithOneUnvettedAnswerAmongSeveralIsNotAllowedLocal() {
    ProcessResult result = check("--json", "http://mixed.test/");

    assertThat(result.exitCode()).as("%s", result).isEqualTo(1);
    assertThat(json(result)).containsEntry("reason", "not_allowed_local");
  }

  @Test
  void ipLiteralIsCheckedInCanonicalForm() {
    ProcessResult result = check("--json", "http://2130706434/");

    assertThat(result.exitCode()).as("%s", result).isEqualTo(1);
    assertThat(json(result)).containsEntry("host", "127.0.0.2");
  }

  @Test
  void limitedModeRefusesPost() {
    ProcessResult result = check("--json", "--mode", "limited", "--method", "POST", "http://allowed.test/");

    assertThat(result.exitCode()).as("%s", result).isEqualTo(1);
    assertThat(json(result)).containsEntry("reason", "method_not_allowed").containsEntry("method", "POST");
  }

  @Test
  void limitedModeRefusesTunnelsWithoutMitm() {
    ProcessResult result = check("--json", "--mode", "limited", "https://allowed.test");

    assertThat(result.exitCode()).as("%s", result).isEqualTo(1);
    assertThat(json(result)).containsEntry("reason", "mitm_required");
  }

  @Test
  void allowFlagsWorkWithoutAnyConfigFile() {
    ProcessResult result = Egressd.cli(emptyHome, "check", "--allow", "allowed.test", "--allow", "127.0.0.1",
        "--json", "http://allowed.test/");

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(json(result)).containsEntry("decision", "allow");
  }

  @Test
  void denyFlagOverridesTheConfigFile() {
    ProcessResult result = check("--deny", "allowed.test", "--json", "http://allowed.test/");

    assertThat(result.exitCode()).as("%s", result).isEqualTo(1);
    assertThat(json(result)).containsEntry("reason", "denied");
  }

  @Test
  void withoutAnyConfigurationEverythingIsBlocked() {
    ProcessResult result = Egressd.cli(emptyHome, "check", "http://allowed.test/");

    assertThat(result.exitCode()).as("%s", result).isEqualTo(1);
  }

  @Test
  void egressdConfigVariableNamesTheConfigFile() {
    ProcessResult result = Egressd.cli(Map.of("EGRESSD_CONFIG", config.toString(), "HOME", emptyHome.toString()),
        "check", "http://allowed.test/");

    assertThat(result.exitCode()).as("%s", result).isZero();
  }

  @Test
  void codexHomeConfigAndItsProfilesAreRead() throws IOException {
    Path codexHome = Files.createDirectories(dir.resolve("codex-home"));
    Files.writeString(codexHome.resolve("config.toml"), """
        model = "gpt-5-codex"
        approval_policy = "on-request"
        default_permissions = "workspace"

        [shell_environment_policy]
        inherit = "core"

        [permissions.workspace.network]
        allowed_domains = ["allowed.test", "127.0.0.1"]

        [permissions.other.network]
        allowed_domains = ["other.test", "127.0.0.1"]
        """);

    ProcessResult defaultProfile = Egressd.cli(codexHome, "check", "http://allowed.test/");
    ProcessResult otherProfileAllowed = Egressd.cli(codexHome, "check", "--profile", "other", "http://other.test/");
    ProcessResult otherProfileDenied = Egressd.cli(codexHome, "check", "--profile", "other", "http://allowed.test/");

    assertThat(defaultProfile.exitCode()).as("%s", defaultProfile).isZero();
    assertThat(otherProfileAllowed.exitCode()).as("%s", otherProfileAllowed).isZero();
    assertThat(otherProfileDenied.exitCode()).as("%s", otherProfileDenied).isEqualTo(1);
  }

  @Test
  void missingTargetIsAUsageError() {
    ProcessResult result = check();

    assertThat(result.exitCode()).as("%s", result).isEqualTo(2);
  }

  @Test
  void invalidTargetIsAUsageError() {
    ProcessResult result = check("http://bad!host.test/");

    assertThat(result.exitCode()).as("%s", result).isEqualTo(2);
  }

  @Test
  void unknownModeIsAUsageError() {
    ProcessResult result = check("--mode", "sometimes", "http://allowed.test/");

    assertThat(result.exitCode()).as("%s", result).isEqualTo(2);
  }

  @Test
  void missingConfigFileIsAConfigError() {
    ProcessResult result = Egressd.cli(emptyHome, "check", "--config", dir.resolve("absent.toml").toString(),
        "http://allowed.test/");

    assertThat(result.exitCode()).as("%s", result).isEqualTo(2);
    assertThat(result.stderr()).contains("absent.toml");
  }

  @Test
  void invalidConfigFileIsAConfigError() throws IOException {
    Path bad = Files.writeString(dir.resolve("bad-check.toml"), "[network]\nallowed_domain = [\"allowed.test\"]\n");

    ProcessResult result = Egressd.cli(emptyHome, "check", "--config", bad.toString(), "http://allowed.test/");

    assertThat(result.exitCode()).as("%s", result).isEqualTo(2);
    assertThat(result.stderr()).contains("bad-check.toml:2");
  }
}
