package dev.egressd.it;

import static dev.egressd.it.TestData.connect;
import static dev.egressd.it.TestData.sha256;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.EOFException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * mode = "full" with {@code mitm = true}: only hosts in {@code mitm_domains} and not in {@code mitm_bypass} are
 * intercepted (every method allowed, inner host still checked); other tunnels stay end-to-end TLS, and non-TLS
 * bytes into an intercepted tunnel are relayed raw.
 */
@Timeout(value = 90, unit = SECONDS)
class MitmFullModeIT {
  private static final String BUNDLE = "mitm_upstream_ca_bundle = '" + TestCertificates.get().caPem() + "'\n";
  private static final String FULL_MITM = """
      [network]
      mode = "full"
      mitm = true
      allowed_domains = ["allowed.test", "127.0.0.1"]
      """ + BUNDLE;

  @RegisterExtension
  static final OriginServer https = OriginServer.https();

  @RegisterExtension
  static final OriginServer http = OriginServer.http();

  /** Intercepts allowed.test only; 127.0.0.1 is a plain tunnel. */
  @RegisterExtension
  static final Daemon egressd = Daemon.withConfig(FULL_MITM + "mitm_domains = [\"allowed.test\"]\n");

  /** Lists both hosts in mitm_domains, and allowed.test in mitm_bypass too. */
  @RegisterExtension
  static final Daemon bypassing = Daemon.withConfig(FULL_MITM
      + "mitm_domains = [\"allowed.test\", \"127.0.0.1\"]\nmitm_bypass = [\"allowed.test\"]\n");

  @TempDir
  Path temp;

  private static String originCa() {
    return TestCertificates.get().caPem().toString();
  }

  @Test
  void hostOutsideMitmDomainsIsTunnelledWithTheOriginsOwnCertificate() throws Exception {
    // Only the origin's CA is trusted: success means curl saw the origin's certificate, end to end.
    Curl.Result curl = Curl.fetch("-x", egressd.url(), "--cacert", originCa(), https.url("127.0.0.1", "/opaque"));

    assertThat(curl.exitCode()).as("%s", curl).isZero();
    assertThat(curl.reply().text()).isEqualTo("origin saw GET /opaque body=0\n");
    egressd.awaitStderr("tunnel_closed", "protocol=https_connect", "host=127.0.0.1");
    assertThat(egressd.stderrOfThisTest()).noneMatch(line -> line.contains("protocol=https "));
  }

  @Test
  void hostOutsideMitmDomainsIsNotSignedByTheEgressdCa() throws Exception {
    Curl.Result curl = Curl.fetch("-x", egressd.url(), "--cacert", egressd.mitmCaCertificate().toString(),
        https.url("127.0.0.1", "/"));

    assertThat(curl.exitCode()).as("curl: SSL certificate problem\n%s", curl).isEqualTo(60);
    assertThat(https.connectionCount()).as("the tunnel reached the origin").isEqualTo(1);
    assertThat(https.requestCount()).isZero();
  }

  @Test
  void hostInMitmDomainsIsIntercepted() throws Exception {
    Curl.Result curl = Curl.fetch("-x", egressd.url(), "--cacert", egressd.mitmCaCertificate().toString(),
        https.url("allowed.test", "/intercepted"));

    assertThat(curl.exitCode()).as("%s", curl).isZero();
    assertThat(curl.reply().text()).isEqualTo("origin saw GET /intercepted body=0\n");
    egressd.awaitStderr("decision=allow", "protocol=https ", "host=allowed.test", "method=GET");
  }

  @Test
  void hostInMitmDomainsNoLongerShowsTheOriginsCertificate() {
    Curl.Result curl = Curl.fetch("-x", egressd.url(), "--cacert", originCa(), https.url("allowed.test", "/"));

    assertThat(curl.exitCode()).as("curl: SSL certificate problem\n%s", curl).isEqualTo(60);
    assertThat(https.connectionCount()).isZero();
  }

  @Test
  void writeMethodsAreForwardedInsideAFullModeInterception() throws Exception {
    byte[] body = TestData.randomBytes(4 * 1024 * 1024 + 5);
    Path file = Files.write(temp.resolve("upload.bin"), body);

    Curl.Result curl = Curl.fetch("-x", egressd.url(), "--cacert", egressd.mitmCaCertificate().toString(),
        "--data-binary", "@" + file, https.url("allowed.test", "/upload"));

    assertThat(curl.exitCode()).as("%s", curl).isZero();
    assertThat(curl.reply().text()).isEqualTo("origin saw POST /upload body=" + body.length + "\n");
    assertThat(https.onlyRequest().bodySha256()).isEqualTo(sha256(body));
    egressd.awaitStderr("decision=allow", "protocol=https ", "host=allowed.test", "method=POST");
  }

  @Test
  void innerHostMismatchIsRefusedInFullModeToo() throws Exception {
    Curl.Result curl = Curl.fetch("-x", egressd.url(), "--cacert", egressd.mitmCaCertificate().toString(),
        "-H", "Host: " + https.authority("other.test"), https.url("allowed.test", "/"));

    assertThat(curl.reply().status()).as("%s", curl).isEqualTo(421);
    assertThat(curl.reply().header("x-proxy-error")).isEqualTo("host-mismatch");
    assertThat(https.connectionCount()).isZero();
  }

  @Test
  void mitmBypassWinsOverMitmDomains() throws Exception {
    Curl.Result curl = Curl.fetch("-x", bypassing.url(), "--cacert", originCa(),
        https.url("allowed.test", "/bypassed"));

    assertThat(curl.exitCode()).as("%s", curl).isZero();
    assertThat(curl.reply().text()).isEqualTo("origin saw GET /bypassed body=0\n");
    bypassing.awaitStderr("tunnel_closed", "protocol=https_connect", "host=allowed.test");
    assertThat(bypassing.stderrOfThisTest()).noneMatch(line -> line.contains("protocol=https "));
  }

  @Test
  void hostInMitmDomainsButNotInMitmBypassIsStillIntercepted() throws Exception {
    Curl.Result curl = Curl.fetch("-x", bypassing.url(), "--cacert", bypassing.mitmCaCertificate().toString(),
        https.url("127.0.0.1", "/not-bypassed"));

    assertThat(curl.exitCode()).as("%s", curl).isZero();
    assertThat(curl.reply().text()).isEqualTo("origin saw GET /not-bypassed body=0\n");
    bypassing.awaitStderr("decision=allow", "protocol=https ", "host=127.0.0.1", "method=GET");
  }

  @Test
  void plainHttpBytesIntoAnInterceptedTunnelAreRelayedRaw() throws Exception {
    String authority = http.authority("allowed.test");
    try (RawClient client = RawClient.connect(egressd.port())) {
      HttpReply established = client.send(connect(authority)).readConnectResponse();
      assertThat(established.status()).as("%s", established).isEqualTo(200);

      HttpReply reply = client.send("GET /raw HTTP/1.1\r\nHost: " + authority + "\r\n\r\n").readResponse();

      assertThat(reply.text()).isEqualTo("origin saw GET /raw body=0\n");
    }
    assertThat(http.connectionCount()).isEqualTo(1);
    assertThat(http.onlyRequest().target()).isEqualTo("/raw");
  }

  @Test
  void nonTlsMessageShorterThanATlsRecordHeaderIsRelayedAtOnce() throws Exception {
    // "X" CR LF: three bytes, whose first already rules out TLS (a TLS record starts with 0x14-0x17).
    try (RawClient client = RawClient.connect(egressd.port())) {
      HttpReply established = client.send(connect(http.authority("allowed.test"))).readConnectResponse();
      assertThat(established.status()).as("%s", established).isEqualTo(200);
      long start = System.nanoTime();

      HttpReply reply;
      try {
        reply = client.send("X\r\n").readResponse();
      } catch (EOFException e) {
        throw new AssertionError("egressd closed the tunnel after "
            + Duration.ofNanos(System.nanoTime() - start).toMillis() + " ms without relaying the 3 bytes", e);
      }

      long millis = Duration.ofNanos(System.nanoTime() - start).toMillis();
      assertThat(reply.text()).as("the origin's answer to the three bytes").isEqualTo("bad request line\n");
      assertThat(millis).as("relayed without waiting for more bytes; took %d ms", millis).isLessThan(5_000);
    }
    assertThat(http.connectionCount()).isEqualTo(1);
  }

  @Test
  void sshBytesIntoAnInterceptedTunnelReachTheOriginUnchanged() throws Exception {
    try (RawClient client = RawClient.connect(egressd.port())) {
      HttpReply established = client.send(connect(http.authority("allowed.test"))).readConnectResponse();
      assertThat(established.status()).as("%s", established).isEqualTo(200);

      // The HTTP origin cannot parse an SSH banner: its 400 proves the bytes arrived as they were sent.
      HttpReply reply = client.send("SSH-2.0-egressd-it\r\n").readResponse();

      assertThat(reply.status()).as("%s", reply).isEqualTo(400);
      assertThat(reply.text()).isEqualTo("bad request line\n");
    }
    assertThat(http.connectionCount()).isEqualTo(1);
    assertThat(OriginServer.eventually(() -> egressd.stderrOfThisTest().stream()
        .anyMatch(line -> line.contains("tunnel_closed") && line.contains("host=allowed.test")),
        Duration.ofSeconds(10))).as("tunnel_closed audit line").isTrue();
  }
}
