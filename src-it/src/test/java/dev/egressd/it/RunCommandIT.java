package dev.egressd.it;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code egressd run}: serving until SIGTERM, and {@code run -- CMD} which runs CMD with the proxy variables set and
 * exits with its status.
 */
@Timeout(value = 90, unit = SECONDS)
class RunCommandIT {
  private static final String CONFIG = """
      [network]
      allowed_domains = ["allowed.test", "127.0.0.1"]
      denied_domains = ["denied.test"]
      """;
  private static final Pattern LISTENING = Pattern.compile("listening on 127\\.0\\.0\\.1:(\\d+)");

  @RegisterExtension
  static final OriginServer http = OriginServer.http();

  @RegisterExtension
  static final OriginServer https = OriginServer.https();

  @TempDir
  static Path dir;

  static Path config;

  @BeforeAll
  static void writeConfig() throws IOException {
    config = Files.writeString(dir.resolve("egressd.toml"), CONFIG);
  }

  private static ProcessResult runChild(String... command) {
    String[] prefix = {"run", "--config", config.toString(), "--listen", "127.0.0.1:0", "--socks-listen",
        "127.0.0.1:0", "--"};
    String[] all = new String[command.length + prefix.length];
    System.arraycopy(prefix, 0, all, 0, prefix.length);
    System.arraycopy(command, 0, all, prefix.length, command.length);
    return Egressd.cli(dir, all);
  }

  private static int announcedPort(ProcessResult result) {
    Matcher matcher = LISTENING.matcher(result.stderr());
    assertThat(matcher.find()).as("listening line in\n%s", result).isTrue();
    return Integer.parseInt(matcher.group(1));
  }

  @Test
  void childSeesTheProxyVariablesAndItsExitStatusIsReturned() {
    ProcessResult result = runChild("sh", "-c",
        "echo \"HTTP_PROXY=$HTTP_PROXY\"; echo \"HTTPS_PROXY=$HTTPS_PROXY\"; echo \"http_proxy=$http_proxy\";"
            + " echo \"https_proxy=$https_proxy\"; exit 7");

    assertThat(result.exitCode()).as("%s", result).isEqualTo(7);
    String proxy = "http://127.0.0.1:" + announcedPort(result);
    assertThat(result.stdout()).contains("HTTP_PROXY=" + proxy + "\n", "HTTPS_PROXY=" + proxy + "\n",
        "http_proxy=" + proxy + "\n", "https_proxy=" + proxy + "\n");
  }

  @Test
  void childCurlReachesAnAllowedOriginThroughTheProxy() {
    ProcessResult result = runChild("curl", "-q", "-sS", "-f", "--max-time", "20", http.url("allowed.test", "/child"));

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(result.stdout()).contains("origin saw GET /child body=0");
    assertThat(http.onlyRequest().target()).isEqualTo("/child");
  }

  @Test
  void childCurlReachesAnAllowedTlsOriginThroughATunnel() {
    ProcessResult result = runChild("curl", "-q", "-sS", "-f", "--max-time", "20",
        "--cacert", TestCertificates.get().caPem().toString(), https.url("allowed.test", "/tls-child"));

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(result.stdout()).contains("origin saw GET /tls-child body=0");
  }

  @Test
  void childCurlToADeniedHostFailsAndItsStatusIsReturned() {
    ProcessResult result = runChild("curl", "-q", "-sS", "-f", "--max-time", "20", http.url("denied.test", "/"));

    assertThat(result.exitCode()).as("curl -f on a 403 exits 22\n%s", result).isEqualTo(22);
    assertThat(result.stderr()).contains("403");
    assertThat(http.connectionCount()).isZero();
  }

  @Test
  void allowFlagsWorkWithoutAConfigFile() {
    ProcessResult result = Egressd.cli(dir.resolve("no-such-codex-home"), "run", "--allow", "allowed.test",
        "--allow", "127.0.0.1", "--listen", "127.0.0.1:0", "--socks-listen", "127.0.0.1:0", "--",
        "curl", "-q", "-sS", "-f", "--max-time", "20", http.url("allowed.test", "/flags"));

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(http.onlyRequest().target()).isEqualTo("/flags");
  }

  @Test
  void nonLoopbackListenAddressIsClampedToLoopback() {
    ProcessResult result = Egressd.cli(dir, "run", "--config", config.toString(), "--listen", "0.0.0.0:0",
        "--socks-listen", "127.0.0.1:0", "--", "sh", "-c", "echo \"HTTP_PROXY=$HTTP_PROXY\"");

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(result.stdout()).contains("HTTP_PROXY=http://127.0.0.1:");
  }

  @Test
  void disabledProxyRefusesToRun() throws IOException {
    Path disabled = Files.writeString(dir.resolve("disabled.toml"), """
        [network]
        enabled = false
        allowed_domains = ["allowed.test"]
        """);

    ProcessResult result = Egressd.cli(dir, "run", "--config", disabled.toString(), "--listen", "127.0.0.1:0",
        "--", "sh", "-c", "echo child-ran");

    assertThat(result.exitCode()).as("%s", result).isNotZero();
    assertThat(result.stderr()).contains("enabled");
    assertThat(result.stdout()).doesNotContain("child-ran");
  }

  @Test
  void invalidConfigRefusesToRunWithFileAndLine() throws IOException {
    Path bad = Files.writeString(dir.resolve("bad-run.toml"), "[network]\nmode = \"sometimes\"\n");

    ProcessResult result = Egressd.cli(dir, "run", "--config", bad.toString(), "--listen", "127.0.0.1:0");

    assertThat(result.exitCode()).as("%s", result).isEqualTo(2);
    assertThat(result.stderr()).contains("bad-run.toml:2");
  }
}
