package dev.egressd.it;

import static dev.egressd.it.TestData.connect;
import static dev.egressd.it.TestData.randomBytes;
import static dev.egressd.it.TestData.sha256;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/** CONNECT tunnels to a local TLS origin: allowed tunnels relay end-to-end TLS, refused ones never dial. */
@Timeout(value = 90, unit = SECONDS)
class ConnectIT {
  // The table form of the host rules.
  private static final String CONFIG = """
      [network]
      mode = "full"

      [network.domains]
      "allowed.test" = "allow"
      "private.test" = "allow"
      "denied.test" = "deny"
      "127.0.0.1" = "allow"
      """;

  @RegisterExtension
  static final OriginServer origin = OriginServer.https();

  @RegisterExtension
  static final Daemon egressd = Daemon.withConfig(CONFIG);

  private static String caFile() {
    return TestCertificates.get().caPem().toString();
  }

  @Test
  void curlReachesTheTlsOriginThroughAnAllowedTunnel() throws Exception {
    Curl.Result curl = Curl.fetch("-x", egressd.url(), "--cacert", caFile(), origin.url("allowed.test", "/secure"));

    assertThat(curl.exitCode()).as("%s", curl).isZero();
    assertThat(curl.reply().status()).isEqualTo(200);
    assertThat(curl.reply().text()).isEqualTo("origin saw GET /secure body=0\n");
    assertThat(origin.connectionCount()).isEqualTo(1);
    assertThat(origin.onlyRequest().header("Host")).isEqualTo(origin.authority("allowed.test"));
    egressd.awaitStderr("decision=allow", "host=allowed.test", "port=" + origin.port());
  }

  @Test
  void tlsIsEndToEndSoAnUntrustedOriginCertificateFailsTheClient() {
    // Without --cacert curl must reject the origin's certificate: the proxy relays TLS, it does not terminate it.
    Curl.Result curl = Curl.fetch("-x", egressd.url(), origin.url("allowed.test", "/"));

    assertThat(curl.exitCode()).as("curl: SSL certificate problem\n%s", curl).isEqualTo(60);
    assertThat(origin.connectionCount()).isEqualTo(1);
  }

  @Test
  void oneTunnelCarriesSeveralRequests() {
    ProcessResult curl = Curl.run("-x", egressd.url(), "--cacert", caFile(), "-w", "%{http_code}\n",
        "-o", "/dev/null", origin.url("allowed.test", "/a"), "-o", "/dev/null", origin.url("allowed.test", "/b"));

    assertThat(curl.exitCode()).as("%s", curl).isZero();
    assertThat(curl.stdout()).isEqualTo("200\n200\n");
    assertThat(origin.connectionCount()).isEqualTo(1);
    assertThat(origin.requestCount()).isEqualTo(2);
  }

  @Test
  void largeDownloadStreamsThroughTheTunnel() {
    long length = 64L * 1024 * 1024;
    origin.respond("/big", new OriginResponse.Streamed(length));

    ProcessResult curl = Curl.run("-x", egressd.url(), "--cacert", caFile(), "-o", "/dev/null",
        "-w", "%{http_code} %{size_download}", origin.url("allowed.test", "/big"));

    assertThat(curl.exitCode()).as("%s", curl).isZero();
    assertThat(curl.stdout()).isEqualTo("200 " + length + "\n");
  }

  @Test
  void deniedTunnelFailsInCurlWithTheProxys403() {
    ProcessResult curl = Curl.run("-v", "-x", egressd.url(), "--cacert", caFile(),
        origin.url("denied.test", "/"));

    assertThat(curl.exitCode()).as("CURLE_RECV_ERROR: CONNECT tunnel failed\n%s", curl).isEqualTo(56);
    assertThat(curl.stderr()).contains("< HTTP/1.1 403").containsIgnoringCase("< x-proxy-error: blocked-by-denylist");
    assertThat(origin.connectionCount()).isZero();
  }

  @Test
  void deniedConnectGets403WithATextReason() throws Exception {
    try (RawClient client = RawClient.connect(egressd.port())) {
      HttpReply reply = client.send(connect(origin.authority("denied.test"))).readConnectResponse();

      assertThat(reply.statusLine()).startsWith("HTTP/1.1 403");
      assertThat(reply.header("x-proxy-error")).isEqualTo("blocked-by-denylist");
      assertThat(reply.header("Content-Type")).startsWith("text/plain");
      assertThat(reply.text()).isNotBlank().doesNotStartWith("{");
      assertThat(reply.text().strip()).as("one line").doesNotContain("\n");
    }
    assertThat(origin.connectionCount()).isZero();
    egressd.awaitStderr("decision=deny", "reason=denied", "host=denied.test", "port=" + origin.port());
  }

  @Test
  void connectOutsideTheAllowlistGets403NotAllowed() throws Exception {
    try (RawClient client = RawClient.connect(egressd.port())) {
      HttpReply reply = client.send(connect(origin.authority("other.test"))).readConnectResponse();

      assertThat(reply.status()).isEqualTo(403);
      assertThat(reply.header("x-proxy-error")).isEqualTo("blocked-by-allowlist");
    }
    assertThat(origin.connectionCount()).isZero();
    egressd.awaitStderr("decision=deny", "reason=not_allowed", "host=other.test");
  }

  @Test
  void connectToANameResolvingToAnUnvettedAddressGets403NotAllowedLocal() throws Exception {
    try (RawClient client = RawClient.connect(egressd.port())) {
      HttpReply reply = client.send(connect(origin.authority("private.test"))).readConnectResponse();

      assertThat(reply.status()).isEqualTo(403);
      assertThat(reply.header("x-proxy-error")).isEqualTo("blocked-by-allowlist");
    }
    assertThat(origin.connectionCount()).isZero();
    egressd.awaitStderr("decision=deny", "reason=not_allowed_local", "host=private.test");
  }

  @Test
  void tunnelRelaysBytesInBothDirections() throws Exception {
    int downloadLength = 8 * 1024 * 1024;
    origin.respond("/download", new OriginResponse.Streamed(downloadLength));
    byte[] upload = randomBytes(2 * 1024 * 1024 + 3);
    String authority = origin.authority("allowed.test");
    try (RawClient client = RawClient.connect(egressd.port())) {
      HttpReply established = client.send(connect(authority)).readConnectResponse();
      assertThat(established.status()).as("%s", established).isEqualTo(200);
      client.startTls(TestCertificates.get().client(), "allowed.test", origin.port());

      client.send("POST /upload HTTP/1.1\r\nHost: " + authority + "\r\nContent-Length: " + upload.length + "\r\n\r\n");
      client.send(upload);
      HttpReply uploaded = client.readResponse();
      HttpReply downloaded = client.send("GET /download HTTP/1.1\r\nHost: " + authority + "\r\n\r\n").readResponse();

      assertThat(uploaded.text()).isEqualTo("origin saw POST /upload body=" + upload.length + "\n");
      assertThat(origin.requests().get(0).bodySha256()).isEqualTo(sha256(upload));
      assertThat(downloaded.body()).hasSize(downloadLength);
      assertThat(sha256(downloaded.body())).isEqualTo(sha256(OriginResponse.Pattern.bytes(downloadLength)));
    }
    assertThat(origin.connectionCount()).isEqualTo(1);
  }

  @Test
  void connectToAnAllowedIpLiteralIsRelayed() throws Exception {
    try (RawClient client = RawClient.connect(egressd.port())) {
      HttpReply established = client.send(connect(origin.authority("127.0.0.1"))).readConnectResponse();
      assertThat(established.status()).as("%s", established).isEqualTo(200);
      client.startTls(TestCertificates.get().client(), "127.0.0.1", origin.port());

      HttpReply reply = client.send("GET /by-ip HTTP/1.1\r\nHost: " + origin.authority("127.0.0.1")
          + "\r\n\r\n").readResponse();

      assertThat(reply.text()).isEqualTo("origin saw GET /by-ip body=0\n");
    }
  }
}
