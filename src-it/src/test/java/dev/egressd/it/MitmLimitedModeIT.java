package dev.egressd.it;

import static dev.egressd.it.TestData.connect;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * mode = "limited" with {@code mitm = true}: CONNECT tunnels are TLS-terminated with the egressd CA, and every request
 * inside is decided like a plain-HTTP one (GET, HEAD and OPTIONS only), must name the tunnel's host, and goes to the
 * origin over verified TLS. Clients trust the egressd CA with {@code --cacert}; the origin's own test CA is known to
 * egressd only through {@code mitm_upstream_ca_bundle}.
 */
@Timeout(value = 90, unit = SECONDS)
class MitmLimitedModeIT {
  private static final String CONFIG = """
      [network]
      mode = "limited"
      mitm = true
      allowed_domains = ["allowed.test", "127.0.0.1"]
      denied_domains = ["denied.test"]
      mitm_upstream_ca_bundle = '%s'
      """.formatted(TestCertificates.get().caPem());

  @RegisterExtension
  static final OriginServer origin = OriginServer.https();

  @RegisterExtension
  static final Daemon egressd = Daemon.withConfig(CONFIG);

  /** The same policy with allowed.test in mitm_bypass, which only full mode honours. */
  @RegisterExtension
  static final Daemon withBypass = Daemon.withConfig(CONFIG + "mitm_bypass = [\"allowed.test\"]\n");

  private static String egressdCa() throws InterruptedException {
    return egressd.mitmCaCertificate().toString();
  }

  private static SSLContext trustingEgressd() throws InterruptedException {
    return TrustFiles.trusting(egressd.mitmCaCertificate());
  }

  /** A raw client inside a TLS-terminated tunnel to allowed.test at the origin's port. */
  private static RawClient interceptedTunnel() throws Exception {
    RawClient client = RawClient.connect(egressd.port());
    HttpReply established = client.send(connect(origin.authority("allowed.test"))).readConnectResponse();
    assertThat(established.status()).as("%s", established).isEqualTo(200);
    return client.startTls(trustingEgressd(), "allowed.test", origin.port());
  }

  private List<String> auditLines(String... fragments) {
    return egressd.stderrOfThisTest().stream()
        .filter(line -> List.of(fragments).stream().allMatch(line::contains))
        .toList();
  }

  @Test
  void curlGetWithTheEgressdCaReachesTheOriginAndIsDecidedInside() throws Exception {
    Curl.Result curl = Curl.fetch("-x", egressd.url(), "--cacert", egressdCa(), origin.url("allowed.test", "/inner"));

    assertThat(curl.exitCode()).as("%s", curl).isZero();
    assertThat(curl.reply().status()).isEqualTo(200);
    assertThat(curl.reply().text()).isEqualTo("origin saw GET /inner body=0\n");
    assertThat(origin.onlyRequest().header("Host")).isEqualTo(origin.authority("allowed.test"));
    String tunnel = egressd.awaitStderr("decision=allow", "protocol=https_connect", "host=allowed.test",
        "port=" + origin.port());
    String inner = egressd.awaitStderr("decision=allow", "protocol=https ", "host=allowed.test",
        "port=" + origin.port(), "method=GET");
    List<String> lines = egressd.stderrOfThisTest();
    assertThat(lines.indexOf(tunnel)).as("the tunnel is decided before the request inside it")
        .isLessThan(lines.indexOf(inner));
    assertThat(inner).doesNotContain("/inner");
  }

  @Test
  void mitmBypassCannotExemptAHostFromLimitedMode() throws Exception {
    String ca = withBypass.mitmCaCertificate().toString();

    Curl.Result get = Curl.fetch("-x", withBypass.url(), "--cacert", ca, origin.url("allowed.test", "/bypass-get"));
    Curl.Result post = Curl.fetch("-x", withBypass.url(), "--cacert", ca, "-d", "x=1",
        origin.url("allowed.test", "/bypass-post"));

    assertThat(get.exitCode()).as("intercepted, so the egressd CA verifies\n%s", get).isZero();
    assertThat(get.reply().status()).isEqualTo(200);
    assertThat(post.reply().status()).as("%s", post).isEqualTo(403);
    assertThat(origin.requests()).extracting(RecordedRequest::target).containsExactly("/bypass-get");
  }

  @Test
  void curlWithoutTheEgressdCaRejectsTheInterceptedCertificate() throws Exception {
    // The origin's own CA is not enough: the client now talks TLS to egressd, not to the origin.
    Curl.Result curl = Curl.fetch("-x", egressd.url(), "--cacert", TestCertificates.get().caPem().toString(),
        origin.url("allowed.test", "/"));

    assertThat(curl.exitCode()).as("curl: SSL certificate problem\n%s", curl).isEqualTo(60);
    assertThat(origin.connectionCount()).isZero();
  }

  @Test
  void curlPostGets403MethodPolicyAndTheOriginSeesNothing() throws Exception {
    Curl.Result curl = Curl.fetch("-x", egressd.url(), "--cacert", egressdCa(), "-d", "x=1",
        origin.url("allowed.test", "/form"));

    assertThat(curl.exitCode()).as("%s", curl).isZero();
    assertThat(curl.reply().status()).isEqualTo(403);
    assertThat(curl.reply().header("x-proxy-error")).isEqualTo("blocked-by-method-policy");
    assertThat(curl.reply().json()).containsEntry("reason", "method_not_allowed");
    assertThat(origin.connectionCount()).isZero();
    egressd.awaitStderr("decision=deny", "reason=method_not_allowed", "protocol=https ", "host=allowed.test",
        "method=POST");
  }

  @ParameterizedTest
  @ValueSource(strings = {"POST", "PUT", "PATCH", "DELETE", "TRACE"})
  void writeMethodInsideTheTunnelGets403MethodPolicy(String method) throws Exception {
    String authority = origin.authority("allowed.test");
    try (RawClient client = interceptedTunnel()) {
      HttpReply reply = client.send(method + " /write HTTP/1.1\r\nHost: " + authority
          + "\r\nContent-Length: 5\r\n\r\nhello").readResponse();

      assertThat(reply.status()).as("%s", reply).isEqualTo(403);
      assertThat(reply.header("x-proxy-error")).isEqualTo("blocked-by-method-policy");
    }
    assertThat(origin.connectionCount()).isZero();
    egressd.awaitStderr("decision=deny", "reason=method_not_allowed", "protocol=https ", "method=" + method);
  }

  @ParameterizedTest
  @ValueSource(strings = {"GET", "HEAD", "OPTIONS"})
  void readOnlyMethodIsForwarded(String method) throws Exception {
    List<String> methodOption = method.equals("HEAD") ? List.of("--head") : List.of("-X", method);
    List<String> args = new ArrayList<>(List.of("-x", egressd.url(), "--cacert", egressdCa()));
    args.addAll(methodOption);
    args.add(origin.url("allowed.test", "/read"));
    Curl.Result curl = Curl.fetch(args.toArray(String[]::new));

    assertThat(curl.exitCode()).as("%s", curl).isZero();
    assertThat(curl.reply().status()).isEqualTo(200);
    assertThat(origin.onlyRequest().method()).isEqualTo(method);
    egressd.awaitStderr("decision=allow", "protocol=https ", "host=allowed.test", "method=" + method);
  }

  @Test
  void hopByHopAndProxyHeadersAreNotForwardedToTheOrigin() throws Exception {
    String authority = origin.authority("allowed.test");
    try (RawClient client = interceptedTunnel()) {
      HttpReply reply = client.send("GET /headers HTTP/1.1\r\nHost: " + authority
          + "\r\nConnection: X-Hop\r\nX-Hop: secret\r\nProxy-Authorization: Basic dXNlcjpwYXNz\r\n"
          + "Proxy-Connection: keep-alive\r\nX-End-To-End: kept\r\n\r\n").readResponse();

      assertThat(reply.status()).as("%s", reply).isEqualTo(200);
    }
    RecordedRequest seen = origin.onlyRequest();
    assertThat(seen.header("X-End-To-End")).isEqualTo("kept");
    assertThat(seen.header("X-Hop")).isNull();
    assertThat(seen.header("Proxy-Authorization")).isNull();
    assertThat(seen.header("Proxy-Connection")).isNull();
  }

  @Test
  void upgradeInsideTheTunnelIsRefused() throws Exception {
    String authority = origin.authority("allowed.test");
    try (RawClient client = interceptedTunnel()) {
      HttpReply reply = client.send("GET /ws HTTP/1.1\r\nHost: " + authority
          + "\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
          + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n").readResponse();

      assertThat(reply.status()).as("%s", reply).isEqualTo(403);
      assertThat(reply.header("x-proxy-error")).isEqualTo("blocked-by-method-policy");
    }
    assertThat(origin.connectionCount()).isZero();
  }

  @Test
  void curlHostHeaderNamingAnotherHostGets421() throws Exception {
    Curl.Result curl = Curl.fetch("-x", egressd.url(), "--cacert", egressdCa(),
        "-H", "Host: " + origin.authority("other.test"), origin.url("allowed.test", "/elsewhere"));

    assertThat(curl.exitCode()).as("%s", curl).isZero();
    assertThat(curl.reply().status()).isEqualTo(421);
    assertThat(curl.reply().header("x-proxy-error")).isEqualTo("host-mismatch");
    assertThat(origin.connectionCount()).isZero();
  }

  @Test
  void hostHeaderNamingAnotherPortGets421() throws Exception {
    try (RawClient client = interceptedTunnel()) {
      HttpReply reply = client.send("GET / HTTP/1.1\r\nHost: allowed.test:" + (origin.port() == 1 ? 2 : 1)
          + "\r\n\r\n").readResponse();

      assertThat(reply.status()).as("%s", reply).isEqualTo(421);
      assertThat(reply.header("x-proxy-error")).isEqualTo("host-mismatch");
    }
    assertThat(origin.connectionCount()).isZero();
  }

  @Test
  void absoluteFormTargetNamingAnotherHostGets421() throws Exception {
    String other = origin.authority("other.test");
    try (RawClient client = interceptedTunnel()) {
      HttpReply reply = client.send("GET https://" + other + "/ HTTP/1.1\r\nHost: " + other + "\r\n\r\n")
          .readResponse();

      assertThat(reply.status()).as("%s", reply).isEqualTo(421);
      assertThat(reply.header("x-proxy-error")).isEqualTo("host-mismatch");
    }
    assertThat(origin.connectionCount()).isZero();
  }

  @Test
  void curlSniNamingAnotherHostFailsTheHandshake() throws Exception {
    // --connect-to makes curl CONNECT to allowed.test while it sends SNI (and Host) other.test.
    Curl.Result curl = Curl.fetch("-x", egressd.url(), "--cacert", egressdCa(), "--connect-to",
        origin.authority("other.test") + ":" + origin.authority("allowed.test"), origin.url("other.test", "/sni"));

    assertThat(curl.exitCode()).as("curl: TLS handshake failure (35)\n%s", curl).isEqualTo(35);
    assertThat(curl.reply()).isNull();
    assertThat(origin.connectionCount()).isZero();
    egressd.awaitStderr("decision=deny", "reason=host_mismatch", "protocol=https ", "host=allowed.test");
  }

  @Test
  void sniNamingAnotherHostIsRefusedEvenToAClientThatDoesNotCheckNames() throws Exception {
    try (RawClient client = RawClient.connect(egressd.port())) {
      HttpReply established = client.send(connect(origin.authority("allowed.test"))).readConnectResponse();
      assertThat(established.status()).as("%s", established).isEqualTo(200);

      assertThatThrownBy(() -> client.startTlsWithServerName(trustingEgressd(), "other.test"))
          .isInstanceOf(SSLException.class);
    }
    assertThat(origin.connectionCount()).isZero();
    egressd.awaitStderr("decision=deny", "reason=host_mismatch", "protocol=https ", "host=allowed.test");
  }

  @Test
  void connectInsideTheTunnelGets405() throws Exception {
    try (RawClient client = interceptedTunnel()) {
      HttpReply reply = client.send("CONNECT x:1 HTTP/1.1\r\nHost: x:1\r\n\r\n").readResponse();

      assertThat(reply.status()).as("%s", reply).isEqualTo(405);
    }
    assertThat(origin.connectionCount()).isZero();
  }

  @Test
  void twoRequestsOnOneTunnelAreBothDecided() throws Exception {
    ProcessResult curl = Curl.run("-x", egressd.url(), "--cacert", egressdCa(), "-w", "%{http_code}\n",
        "-o", "/dev/null", origin.url("allowed.test", "/a"), "-o", "/dev/null", origin.url("allowed.test", "/b"));

    assertThat(curl.exitCode()).as("%s", curl).isZero();
    assertThat(curl.stdout()).isEqualTo("200\n200\n");
    assertThat(origin.requests()).extracting(RecordedRequest::target).containsExactly("/a", "/b");
    egressd.awaitStderr("decision=allow", "protocol=https ", "method=GET");
    assertThat(OriginServer.eventually(() -> auditLines("decision=allow", "protocol=https ", "method=GET").size() == 2,
        Duration.ofSeconds(10))).as("two inner decisions; this test's stderr:\n%s",
            String.join("\n", egressd.stderrOfThisTest())).isTrue();
    assertThat(auditLines("decision=allow", "protocol=https_connect")).as("one tunnel").hasSize(1);
  }

  @Test
  void keepAliveInsideTheTunnelServesSeveralRawRequests() throws Exception {
    String authority = origin.authority("allowed.test");
    try (RawClient client = interceptedTunnel()) {
      HttpReply first = client.send("GET /one HTTP/1.1\r\nHost: " + authority + "\r\n\r\n").readResponse();
      HttpReply second = client.send("GET /two HTTP/1.1\r\nHost: " + authority + "\r\n\r\n").readResponse();
      HttpReply refused = client.send("DELETE /three HTTP/1.1\r\nHost: " + authority + "\r\n\r\n").readResponse();
      HttpReply third = client.send("GET /four HTTP/1.1\r\nHost: " + authority + "\r\n\r\n").readResponse();

      assertThat(first.text()).isEqualTo("origin saw GET /one body=0\n");
      assertThat(second.text()).isEqualTo("origin saw GET /two body=0\n");
      assertThat(refused.status()).isEqualTo(403);
      assertThat(third.text()).isEqualTo("origin saw GET /four body=0\n");
    }
    assertThat(origin.requests()).extracting(RecordedRequest::target).containsExactly("/one", "/two", "/four");
  }

  @Test
  void largeDownloadStreamsThroughTheInterception() throws Exception {
    // egressd runs with -Xmx96m: a proxy that buffered the body would fail.
    long length = 32L * 1024 * 1024;
    origin.respond("/big", new OriginResponse.Streamed(length));

    ProcessResult curl = Curl.run("-x", egressd.url(), "--cacert", egressdCa(), "-o", "/dev/null",
        "-w", "%{http_code} %{size_download}", origin.url("allowed.test", "/big"));

    assertThat(curl.exitCode()).as("%s", curl).isZero();
    assertThat(curl.stdout()).isEqualTo("200 " + length + "\n");
  }

  @Test
  void responseBodyStreamsBeforeTheOriginHasSentAllOfIt() throws Exception {
    byte[] head = TestData.randomBytes(200_000);
    byte[] tail = TestData.randomBytes(1000);
    CountDownLatch release = new CountDownLatch(1);
    origin.respond("/gated", new OriginResponse.Gated(head, release, tail));
    String authority = origin.authority("allowed.test");
    try (RawClient client = interceptedTunnel()) {
      HttpReply reply = client.send("GET /gated HTTP/1.1\r\nHost: " + authority + "\r\n\r\n").readHead();
      assertThat(reply.status()).as("%s", reply).isEqualTo(200);

      // Within the 15 s read timeout, long before the origin gives up waiting (30 s).
      byte[] first = client.readBody(head.length);
      release.countDown();
      byte[] rest = client.readBody(tail.length);

      assertThat(first).isEqualTo(head);
      assertThat(rest).isEqualTo(tail);
    } finally {
      release.countDown();
    }
  }

  @Test
  void closeDelimitedResponseArrivesWhole() throws Exception {
    byte[] body = TestData.randomBytes(300_000);
    origin.respond("/close", new OriginResponse.CloseDelimited(body));

    ProcessResult curl = Curl.run("-x", egressd.url(), "--cacert", egressdCa(), "-o", "/dev/null",
        "-w", "%{http_code} %{size_download}", origin.url("allowed.test", "/close"));

    assertThat(curl.exitCode()).as("%s", curl).isZero();
    assertThat(curl.stdout()).isEqualTo("200 " + body.length + "\n");
  }

  @Test
  void deniedHostIsRefusedBeforeAnyInterception() throws Exception {
    try (RawClient client = RawClient.connect(egressd.port())) {
      HttpReply reply = client.send(connect(origin.authority("denied.test"))).readConnectResponse();

      assertThat(reply.status()).as("%s", reply).isEqualTo(403);
      assertThat(reply.header("x-proxy-error")).isEqualTo("blocked-by-denylist");
    }
    assertThat(origin.connectionCount()).isZero();
    egressd.awaitStderr("decision=deny", "reason=denied", "protocol=https_connect", "host=denied.test");
  }

  @Test
  void hostOutsideTheAllowlistIsRefusedBeforeAnyInterception() throws Exception {
    try (RawClient client = RawClient.connect(egressd.port())) {
      HttpReply reply = client.send(connect(origin.authority("other.test"))).readConnectResponse();

      assertThat(reply.status()).as("%s", reply).isEqualTo(403);
      assertThat(reply.header("x-proxy-error")).isEqualTo("blocked-by-allowlist");
    }
    assertThat(origin.connectionCount()).isZero();
  }

  @Test
  void duplicateHostHeadersAreRefused() throws Exception {
    String authority = origin.authority("allowed.test");
    try (RawClient client = interceptedTunnel()) {
      HttpReply reply = client.send("GET / HTTP/1.1\r\nHost: " + authority + "\r\nHost: " + authority
          + "\r\n\r\n").readResponse();

      assertThat(reply.status()).as("%s", reply).isIn(400, 421);
      assertThat(reply.header("x-proxy-error")).isEqualTo("host-mismatch");
    }
    assertThat(origin.connectionCount()).isZero();
  }

  @Test
  void sshBytesIntoTheTunnelCloseItAsAnOpaqueTunnel() throws Exception {
    try (RawClient client = RawClient.connect(egressd.port())) {
      HttpReply established = client.send(connect(origin.authority("allowed.test"))).readConnectResponse();
      assertThat(established.status()).as("%s", established).isEqualTo(200);

      client.send("SSH-2.0-OpenSSH_9.6 egressd-it\r\n");

      assertThat(client.closedByPeer(10_000)).as("the proxy closes the tunnel").isTrue();
    }
    assertThat(origin.connectionCount()).isZero();
    egressd.awaitStderr("decision=deny", "reason=opaque_tunnel", "host=allowed.test", "port=" + origin.port());
  }

  @Test
  void nonTlsMessageShorterThanATlsRecordHeaderIsRefusedAtOnceAndAudited() throws Exception {
    try (RawClient client = RawClient.connect(egressd.port())) {
      HttpReply established = client.send(connect(origin.authority("allowed.test"))).readConnectResponse();
      assertThat(established.status()).as("%s", established).isEqualTo(200);

      // Three bytes, whose first already rules out TLS; the client then waits for an answer.
      client.send("X\r\n");

      assertThat(client.closedByPeer(5_000)).as("closed without waiting for the handshake deadline").isTrue();
    }
    assertThat(origin.connectionCount()).isZero();
    egressd.awaitStderr("decision=deny", "reason=opaque_tunnel", "host=allowed.test");
  }

  @Test
  void plainHttpBytesIntoTheTunnelCloseItAsAnOpaqueTunnel() throws Exception {
    String authority = origin.authority("allowed.test");
    try (RawClient client = RawClient.connect(egressd.port())) {
      HttpReply established = client.send(connect(authority)).readConnectResponse();
      assertThat(established.status()).as("%s", established).isEqualTo(200);

      client.send("GET / HTTP/1.1\r\nHost: " + authority + "\r\n\r\n");

      assertThat(client.closedByPeer(10_000)).as("the proxy closes the tunnel").isTrue();
    }
    assertThat(origin.connectionCount()).isZero();
    egressd.awaitStderr("decision=deny", "reason=opaque_tunnel", "host=allowed.test");
  }
}
