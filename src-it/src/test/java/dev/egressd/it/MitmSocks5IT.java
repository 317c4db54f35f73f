package dev.egressd.it;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import dev.egressd.it.Socks5Client.Reply;
import dev.egressd.it.Socks5Client.Status;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * mode = "limited" with {@code mitm = true} on the SOCKS5 listener: a CONNECT to port 443 is allowed and then
 * intercepted exactly like an HTTP CONNECT (GET allowed, POST refused inside); every other port stays refused.
 *
 * <p>Port 443 needs privileges on loopback. The origin binds 127.0.0.1:443 when it can (the tests run as root);
 * if it cannot, the port-443 tests fall back to checking only that a non-443 SOCKS5 CONNECT is refused, and print
 * a note on stderr, since an origin on another port cannot stand in for 443.
 */
@Timeout(value = 60, unit = SECONDS)
class MitmSocks5IT {
  private static final String CONFIG = """
      [network]
      mode = "limited"
      mitm = true
      allowed_domains = ["allowed.test", "127.0.0.1"]
      mitm_upstream_ca_bundle = '%s'
      """.formatted(TestCertificates.get().caPem());

  @RegisterExtension
  static final OriginServer other = OriginServer.https();

  @RegisterExtension
  static final Daemon egressd = Daemon.withConfig(CONFIG);

  /** Full mode: only allowed.test is intercepted, on SOCKS5 port 443 as on HTTP CONNECT. */
  @RegisterExtension
  static final Daemon fullMode = Daemon.withConfig(CONFIG.replace("mode = \"limited\"", "mode = \"full\"")
      + "mitm_domains = [\"allowed.test\"]\n");

  /** The HTTPS origin on 127.0.0.1:443, or null when the port cannot be bound. */
  private static OriginServer port443;

  @BeforeAll
  static void bindPort443() {
    OriginServer origin = OriginServer.https().onPort(443);
    try {
      origin.start();
      port443 = origin;
    } catch (IOException e) {
      System.err.println("MitmSocks5IT: cannot bind 127.0.0.1:443 (" + e + "); the port-443 tests only check that"
          + " a non-443 SOCKS5 CONNECT is refused");
    }
  }

  @AfterAll
  static void closePort443() {
    if (port443 != null) {
      port443.close();
    }
  }

  @BeforeEach
  void resetPort443() {
    if (port443 != null) {
      port443.reset();
    }
  }

  private static String socks() throws InterruptedException {
    return "127.0.0.1:" + egressd.socksPort();
  }

  /** The fallback when 443 is unavailable: what the port-443 tests can still prove. */
  private static void assertNon443ConnectIsRefused() throws Exception {
    try (Socks5Client client = Socks5Client.connect(egressd.socksPort())) {
      Reply reply = client.connectTo(Socks5Address.domain("allowed.test", other.port()));

      assertThat(reply.status()).as("%s", reply).isEqualTo(Status.NOT_ALLOWED_BY_RULESET);
    }
    assertThat(other.connectionCount()).isZero();
  }

  @Test
  void curlSocks5hGetToPort443IsInterceptedAndReachesTheOrigin() throws Exception {
    if (port443 == null) {
      assertNon443ConnectIsRefused();
      return;
    }

    Curl.Result curl = Curl.fetch("--socks5-hostname", socks(), "--cacert", egressd.mitmCaCertificate().toString(),
        "https://allowed.test/socks-inner");

    assertThat(curl.exitCode()).as("%s", curl).isZero();
    assertThat(curl.reply().text()).isEqualTo("origin saw GET /socks-inner body=0\n");
    assertThat(port443.onlyRequest().header("Host")).isEqualTo("allowed.test");
    egressd.awaitStderr("decision=allow", "protocol=socks5_tcp", "host=allowed.test", "port=443");
    egressd.awaitStderr("decision=allow", "protocol=https ", "host=allowed.test", "port=443", "method=GET");
  }

  @Test
  void curlSocks5hPostToPort443Gets403AndTheOriginSeesNothing() throws Exception {
    if (port443 == null) {
      assertNon443ConnectIsRefused();
      return;
    }

    Curl.Result curl = Curl.fetch("--socks5-hostname", socks(), "--cacert", egressd.mitmCaCertificate().toString(),
        "-d", "x=1", "https://allowed.test/socks-post");

    assertThat(curl.exitCode()).as("%s", curl).isZero();
    assertThat(curl.reply().status()).isEqualTo(403);
    assertThat(curl.reply().header("x-proxy-error")).isEqualTo("blocked-by-method-policy");
    assertThat(port443.connectionCount()).isZero();
    egressd.awaitStderr("decision=deny", "reason=method_not_allowed", "protocol=https ", "port=443",
        "method=POST");
  }

  @Test
  void curlSocks5hToPort443WithoutTheEgressdCaFailsVerification() throws Exception {
    if (port443 == null) {
      assertNon443ConnectIsRefused();
      return;
    }

    Curl.Result curl = Curl.fetch("--socks5-hostname", socks(), "--cacert", TestCertificates.get().caPem().toString(),
        "https://allowed.test/");

    assertThat(curl.exitCode()).as("curl: SSL certificate problem\n%s", curl).isEqualTo(60);
    assertThat(port443.connectionCount()).isZero();
  }

  @Test
  void nonTlsBytesIntoASocks5Port443TunnelAreRefused() throws Exception {
    if (port443 == null) {
      assertNon443ConnectIsRefused();
      return;
    }
    try (Socks5Client client = Socks5Client.connect(egressd.socksPort())) {
      Reply reply = client.connectTo(Socks5Address.domain("allowed.test", 443));
      assertThat(reply.status()).as("%s", reply).isEqualTo(Status.SUCCEEDED);

      client.send("GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));

      assertThat(client.readUntilClosed(Duration.ofSeconds(10))).isEmpty();
    }
    assertThat(port443.connectionCount()).isZero();
    egressd.awaitStderr("decision=deny", "reason=opaque_tunnel", "host=allowed.test", "port=443");
  }

  @Test
  void fullModeInterceptsASocks5Port443TunnelToAHostInMitmDomains() throws Exception {
    if (port443 == null) {
      assertNon443ConnectIsRefused();
      return;
    }

    Curl.Result curl = Curl.fetch("--socks5-hostname", "127.0.0.1:" + fullMode.socksPort(), "--cacert",
        fullMode.mitmCaCertificate().toString(), "-d", "x=1", "https://allowed.test/full-socks");

    assertThat(curl.exitCode()).as("%s", curl).isZero();
    assertThat(curl.reply().text()).as("full mode allows POST").isEqualTo("origin saw POST /full-socks body=3\n");
    fullMode.awaitStderr("decision=allow", "protocol=https ", "host=allowed.test", "port=443", "method=POST");
  }

  @Test
  void fullModeRelaysASocks5Port443TunnelToAHostOutsideMitmDomainsEndToEnd() throws Exception {
    if (port443 == null) {
      assertNon443ConnectIsRefused();
      return;
    }

    Curl.Result curl = Curl.fetch("--socks5-hostname", "127.0.0.1:" + fullMode.socksPort(), "--cacert",
        TestCertificates.get().caPem().toString(), "https://127.0.0.1/full-socks-opaque");

    assertThat(curl.exitCode()).as("%s", curl).isZero();
    assertThat(curl.reply().text()).isEqualTo("origin saw GET /full-socks-opaque body=0\n");
    assertThat(fullMode.stderrOfThisTest()).noneMatch(line -> line.contains("protocol=https "));
  }

  @Test
  void curlSocks5hToAnotherPortIsStillRefused() throws Exception {
    Curl.Result curl = Curl.fetch("--socks5-hostname", socks(), "--cacert", egressd.mitmCaCertificate().toString(),
        other.url("allowed.test", "/"));

    assertThat(curl.exitCode()).as("CURLE_PROXY\n%s", curl).isEqualTo(97);
    assertThat(other.connectionCount()).isZero();
    egressd.awaitStderr("decision=deny", "reason=method_not_allowed", "protocol=socks5_tcp", "host=allowed.test",
        "port=" + other.port());
  }
}
