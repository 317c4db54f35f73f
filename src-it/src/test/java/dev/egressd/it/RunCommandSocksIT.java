package dev.egressd.it;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code egressd run -- CMD} and the SOCKS5 listener: the child gets {@code ALL_PROXY}/{@code all_proxy} (and
 * {@code FTP_PROXY}/{@code ftp_proxy}) as {@code socks5h://127.0.0.1:PORT}, and a client that only knows
 * {@code ALL_PROXY} goes through SOCKS5 under the same policy.
 */
@Timeout(value = 90, unit = SECONDS)
class RunCommandSocksIT {
  private static final String CONFIG = """
      [network]
      allowed_domains = ["allowed.test", "127.0.0.1"]
      denied_domains = ["denied.test"]
      """;
  private static final Pattern HTTP_LISTENING = Pattern.compile("HTTP proxy listening on 127\\.0\\.0\\.1:(\\d+)");
  private static final Pattern SOCKS_LISTENING = Pattern.compile("SOCKS5 proxy listening on 127\\.0\\.0\\.1:(\\d+)");
  /** Leaves the child only ALL_PROXY/all_proxy to find the proxy with. */
  private static final List<String> ONLY_ALL_PROXY = List.of("env", "-u", "HTTP_PROXY", "-u", "http_proxy",
      "-u", "HTTPS_PROXY", "-u", "https_proxy");

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

  private static ProcessResult runChild(Path configFile, String... command) {
    List<String> all = new ArrayList<>(List.of("run", "--config", configFile.toString(), "--listen", "127.0.0.1:0",
        "--socks-listen", "127.0.0.1:0", "--"));
    all.addAll(Arrays.asList(command));
    return Egressd.cli(dir, all.toArray(String[]::new));
  }

  private static ProcessResult runWithOnlyAllProxy(String... command) {
    List<String> all = new ArrayList<>(ONLY_ALL_PROXY);
    all.addAll(Arrays.asList(command));
    return runChild(config, all.toArray(String[]::new));
  }

  /** run -- CMD announces on stderr: standard output is the child's. */
  private static int announced(Pattern pattern, ProcessResult result) {
    Matcher matcher = pattern.matcher(result.stderr());
    assertThat(matcher.find()).as("%s in\n%s", pattern, result).isTrue();
    return Integer.parseInt(matcher.group(1));
  }

  @Test
  void childSeesAllProxyNamingTheSocksListenerWithProxySideResolution() {
    ProcessResult result = runChild(config, "sh", "-c", "echo \"ALL_PROXY=$ALL_PROXY\"; echo \"all_proxy=$all_proxy\";"
        + " echo \"FTP_PROXY=$FTP_PROXY\"; echo \"ftp_proxy=$ftp_proxy\"");

    assertThat(result.exitCode()).as("%s", result).isZero();
    String socks = "socks5h://127.0.0.1:" + announced(SOCKS_LISTENING, result);
    assertThat(result.stdout()).contains("ALL_PROXY=" + socks + "\n", "all_proxy=" + socks + "\n",
        "FTP_PROXY=" + socks + "\n", "ftp_proxy=" + socks + "\n");
  }

  @Test
  void exportLineIncludesAllProxy() {
    ProcessResult result = runChild(config, "true");

    assertThat(result.exitCode()).as("%s", result).isZero();
    String socks = "socks5h://127.0.0.1:" + announced(SOCKS_LISTENING, result);
    String httpUrl = "http://127.0.0.1:" + announced(HTTP_LISTENING, result);
    assertThat(result.stdout()).isEmpty();
    assertThat(result.stderr().lines().filter(line -> line.startsWith("export ")))
        .singleElement().asString()
        .contains("HTTP_PROXY=" + httpUrl, "ALL_PROXY=" + socks, "all_proxy=" + socks);
  }

  @Test
  void childCurlWithOnlyAllProxyReachesAnAllowedOriginThroughSocks() {
    ProcessResult result = runWithOnlyAllProxy("curl", "-q", "-v", "-sS", "-f", "--max-time", "20",
        http.url("allowed.test", "/socks-child"));

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(result.stdout()).contains("origin saw GET /socks-child body=0");
    assertThat(result.stderr()).as("curl went through SOCKS5 and let the proxy resolve the name")
        .contains("SOCKS5 connect to allowed.test:" + http.port()).contains("remotely resolved");
    assertThat(http.onlyRequest().target()).isEqualTo("/socks-child");
  }

  @Test
  void childCurlWithOnlyAllProxyReachesAnAllowedTlsOrigin() {
    ProcessResult result = runWithOnlyAllProxy("curl", "-q", "-v", "-sS", "-f", "--max-time", "20",
        "--cacert", TestCertificates.get().caPem().toString(), https.url("allowed.test", "/socks-tls-child"));

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(result.stdout()).contains("origin saw GET /socks-tls-child body=0");
    assertThat(result.stderr()).contains("SOCKS5 connect to allowed.test:" + https.port());
  }

  @Test
  void childCurlWithOnlyAllProxyToADeniedHostFailsWithoutReachingTheOrigin() {
    ProcessResult result = runWithOnlyAllProxy("curl", "-q", "-sS", "-f", "--max-time", "20",
        http.url("denied.test", "/"));

    assertThat(result.exitCode()).as("CURLE_PROXY, returned as the child's status\n%s", result).isEqualTo(97);
    assertThat(http.connectionCount()).isZero();
  }

  @Test
  void withSocksDisabledAllProxyNamesTheHttpListener() throws IOException {
    Path noSocks = Files.writeString(dir.resolve("no-socks.toml"), CONFIG + "enable_socks5 = false\n");

    ProcessResult result = runChild(noSocks, "sh", "-c", "echo \"ALL_PROXY=$ALL_PROXY\"");

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(result.stderr()).contains("HTTP proxy listening").doesNotContain("SOCKS5 proxy listening");
    assertThat(result.stdout()).contains("ALL_PROXY=http://127.0.0.1:" + announced(HTTP_LISTENING, result) + "\n");
  }
}
