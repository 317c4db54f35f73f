package dev.egressd.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** The command line in-process: exit codes and output of check and validate, and run's refusal to serve. */
class CliTest {
  @RegisterExtension
  final StandardStreams streams = new StandardStreams();

  @TempDir
  Path dir;

  private int run(String... args) {
    return Main.commandLine().execute(args);
  }

  private Path config(String text) throws Exception {
    Path file = dir.resolve("egressd.toml");
    Files.writeString(file, text);
    return file;
  }

  private String out() {
    return streams.out();
  }

  private String err() {
    return streams.err();
  }

  @Test
  void checkAllowsAnExplicitLoopbackLiteralWithoutDns() throws Exception {
    Path file = config("[network]\nallowed_domains = [\"127.0.0.1\"]\n");
    assertThat(run("check", "--config", file.toString(), "http://127.0.0.1:8080/x")).isZero();
    assertThat(out()).startsWith("ALLOW 127.0.0.1:8080 (http GET)").contains("address: 127.0.0.1");
  }

  @Test
  void checkInReportModeSaysWhatEnforcingWouldDo() throws Exception {
    Path file = config("[network]\nenforcement = \"report\"\nallow_local_binding = true\n"
        + "allowed_domains = [\"allowed.example\"]\n");
    assertThat(run("check", "--config", file.toString(), "http://127.0.0.1:8080/x")).isZero();
    assertThat(out()).startsWith("ALLOW 127.0.0.1:8080 (http GET): let through by report mode; enforced, this is DENY")
        .contains("reason:  not_allowed (x-proxy-error: blocked-by-allowlist)");
    streams.resetOut();
    assertThat(run("check", "--config", file.toString(), "--json", "http://127.0.0.1:8080/x")).isZero();
    assertThat(out()).contains("\"decision\":\"allow\",\"would_deny\":true,\"reason\":\"not_allowed\"");
  }

  @Test
  void checkMatchesTheTargetsPathAgainstTheHooksAndNeverPrintsTheSecret() throws Exception {
    Path secret = Files.writeString(dir.resolve("token"), "check-secret-42\n");
    Path file = config("""
        [network]
        mitm = true
        allowed_domains = ["127.0.0.1"]
        [[network.mitm_hooks]]
        host = "127.0.0.1"
        match = { methods = ["GET"], path_prefixes = ["/v1/"] }
        actions = { inject_request_headers = [{ name = "authorization", secret_file = '%s', prefix = "Bearer " }] }
        """.formatted(secret));

    assertThat(run("check", "--config", file.toString(), "https://127.0.0.1:8443/v1/items")).isZero();
    assertThat(out()).contains("ALLOW 127.0.0.1:8443 (https GET)")
        .contains("hook:    egressd.toml:4 network.mitm_hooks[0] (injects authorization)");
    streams.resetOut();
    assertThat(run("check", "--config", file.toString(), "https://127.0.0.1:8443/v2/items")).isEqualTo(1);
    assertThat(out()).contains("DENY 127.0.0.1:8443 (https GET)")
        .contains("reason:  mitm_hook_denied (x-proxy-error: blocked-by-mitm-hook)");
    assertThat(out() + err()).doesNotContain("check-secret-42");
  }

  @Test
  void checkDeniesWithExitOneAndJsonNamesReasonAndRule() throws Exception {
    Path file = config("[network]\nallowed_domains = [\"**.example.com\"]\ndenied_domains = [\"evil.example.com\"]\n");
    assertThat(run("check", "--config", file.toString(), "--json", "evil.example.com:443")).isEqualTo(1);
    assertThat(out()).contains("\"decision\":\"deny\"", "\"reason\":\"denied\"", "\"rule\":\"evil.example.com\"",
        "\"proxy_error\":\"blocked-by-denylist\"", "\"protocol\":\"https_connect\"", "\"port\":443");
  }

  @Test
  void checkReportsNotAllowedWithHintForUnknownHost() throws Exception {
    assertThat(run("check", "--allow", "example.com", "https://other.example/")).isEqualTo(1);
    assertThat(out()).startsWith("DENY other.example:443 (https_connect CONNECT)")
        .contains("reason:  not_allowed (x-proxy-error: blocked-by-allowlist)")
        .contains("Add \"other.example\" to allowed_domains");
  }

  @Test
  void checkInLimitedModeRefusesPostOnPlainHttp() throws Exception {
    assertThat(run("check", "--allow", "127.0.0.1", "--mode", "limited", "--method", "POST",
        "http://127.0.0.1/")).isEqualTo(1);
    assertThat(out()).contains("method_not_allowed").contains("source:  mode_guard");
  }

  @Test
  void checkRejectsAMalformedTargetAsUsageError() {
    assertThat(run("check", "--allow", "example.com", "example.com")).isEqualTo(Main.CONFIG_ERROR);
    assertThat(err()).contains("invalid target example.com");
  }

  @Test
  void badCommandLinePatternIsAConfigError() {
    assertThat(run("check", "--allow", "foo*.example.com", "example.com:443")).isEqualTo(Main.CONFIG_ERROR);
    assertThat(err()).contains("--allow foo*.example.com").contains("*.example.com");
  }

  @Test
  void validateAcceptsAGoodFile() throws Exception {
    Path file = config("[network]\nallowed_domains = [\"example.com\"]\n");
    assertThat(run("validate", "--config", file.toString())).isZero();
    assertThat(out()).startsWith("OK: ");
  }

  @Test
  void validatePrintsEveryProblemWithFileAndLine() throws Exception {
    Path file = config("[network]\nalowed_domains = [\"example.com\"]\nmode = \"readonly\"\n");
    assertThat(run("validate", "--config", file.toString())).isEqualTo(Main.CONFIG_ERROR);
    assertThat(err()).contains("egressd.toml:2:").contains("egressd.toml:3:").contains("alowed_domains");
  }

  @Test
  void runRefusesToServeWhenDisabled() throws Exception {
    Path file = config("[network]\nenabled = false\n");
    assertThat(run("run", "--config", file.toString(), "--listen", "127.0.0.1:0")).isEqualTo(Main.CONFIG_ERROR);
    assertThat(err()).contains("disabled").contains("enabled = true");
  }

  @Test
  void missingConfigFileIsAConfigError() {
    assertThat(run("check", "--config", dir.resolve("nope.toml").toString(), "example.com:443"))
        .isEqualTo(Main.CONFIG_ERROR);
    assertThat(err()).contains("config file not found");
  }

  @Test
  void versionPrintsTheVersion() {
    assertThat(run("--version")).isZero();
    assertThat(out()).startsWith("egressd ");
  }
}
