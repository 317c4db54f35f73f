package dev.egressd.it;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Intercepted tunnels run on BoringSSL by default and on the JDK's TLS with {@code -Degressd.mitm.tls=jdk}; the
 * policy inside the tunnel and the origin's certificate check are the same on both. The property reaches the daemon
 * through {@code JAVA_TOOL_OPTIONS}, as it would for a user.
 */
@Timeout(value = 90, unit = SECONDS)
class MitmTlsImplementationIT {
  private static final String CONFIG = """
      [network]
      mode = "limited"
      mitm = true
      allowed_domains = ["allowed.test", "127.0.0.1"]
      mitm_upstream_ca_bundle = '%s'
      """.formatted(TestCertificates.get().caPem());

  @RegisterExtension
  static final OriginServer origin = OriginServer.https();

  @RegisterExtension
  static final Daemon boringSsl = Daemon.withConfig(CONFIG);

  @RegisterExtension
  static final Daemon jdk = Daemon.withConfig(CONFIG)
      .withEnvironment("JAVA_TOOL_OPTIONS", "-Degressd.mitm.tls=jdk");

  /** The same policy, but the origin's CA is not trusted upstream. */
  @RegisterExtension
  static final Daemon jdkWithoutBundle = Daemon.withConfig("""
      [network]
      mode = "limited"
      mitm = true
      allowed_domains = ["allowed.test", "127.0.0.1"]
      """).withEnvironment("JAVA_TOOL_OPTIONS", "-Degressd.mitm.tls=jdk");

  @TempDir Path temp;

  @Test
  void byDefaultInterceptionAnnouncesBoringSsl() throws Exception {
    assertThat(boringSsl.awaitStdout("egressd: intercepted TLS by")).isEqualTo("egressd: intercepted TLS by BoringSSL");
  }

  @Test
  void thePropertySwitchesToTheJdkAndSaysWhy() throws Exception {
    assertThat(jdk.awaitStdout("egressd: intercepted TLS by"))
        .isEqualTo("egressd: intercepted TLS by the JDK (BoringSSL not in use: forced by -Degressd.mitm.tls)");
  }

  @Test
  void bothImplementationsEnforceTheSamePolicyInsideTheTunnel() throws Exception {
    for (Daemon egressd : new Daemon[] {boringSsl, jdk}) {
      String ca = egressd.mitmCaCertificate().toString();
      Curl.Result get = Curl.fetch("-x", egressd.url(), "--cacert", ca, origin.url("allowed.test", "/tls-get"));
      Curl.Result post = Curl.fetch("-x", egressd.url(), "--cacert", ca, "-d", "x=1",
          origin.url("allowed.test", "/tls-post"));

      assertThat(get.exitCode()).as("%s", get).isZero();
      assertThat(get.reply().status()).isEqualTo(200);
      assertThat(get.reply().text()).isEqualTo("origin saw GET /tls-get body=0\n");
      assertThat(post.reply().status()).as("%s", post).isEqualTo(403);
      assertThat(post.reply().header("x-proxy-error")).isEqualTo("blocked-by-method-policy");
    }
    assertThat(origin.requests()).extracting(RecordedRequest::target).containsExactly("/tls-get", "/tls-get");
  }

  @Test
  void theJdkImplementationStillRefusesAnUntrustedOrigin() throws Exception {
    Curl.Result get = Curl.fetch("-x", jdkWithoutBundle.url(), "--cacert",
        jdkWithoutBundle.mitmCaCertificate().toString(), origin.url("allowed.test", "/untrusted"));

    assertThat(get.reply().status()).as("%s", get).isEqualTo(502);
    assertThat(get.reply().header("x-proxy-error")).isEqualTo("upstream-tls-failure");
    assertThat(origin.requests()).isEmpty();
  }

  @Test
  void anUnknownImplementationStopsTheDaemonWithAClearError() throws Exception {
    Path config = Files.writeString(temp.resolve("egressd.toml"), CONFIG);
    ProcessResult result = Egressd.cli(Map.of("CODEX_HOME", temp.toString(), "HOME", temp.toString(),
        "EGRESSD_HOME", temp.resolve("home").toString(), "JAVA_TOOL_OPTIONS", "-Degressd.mitm.tls=gnutls"),
        "run", "--config", config.toString(), "--listen", "127.0.0.1:0", "--socks-listen", "127.0.0.1:0");

    assertThat(result.exitCode()).as("%s", result).isNotZero();
    assertThat(result.stderr()).contains("-Degressd.mitm.tls=gnutls: expected openssl or jdk")
        .doesNotContain("Exception");
  }
}
