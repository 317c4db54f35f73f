package dev.egressd.it;

import static java.util.concurrent.TimeUnit.SECONDS;
import static dev.egressd.it.TestData.get;
import static dev.egressd.it.TestData.randomBytes;
import static dev.egressd.it.TestData.sha256;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** Absolute-form HTTP through the proxy with curl and raw sockets: decisions, forwarding, streaming, keep-alive. */
@Timeout(value = 90, unit = SECONDS)
class PlainHttpIT {
  private static final String CONFIG = """
      [network]
      mode = "full"
      # denied.test is in both lists: deny wins. Loopback is granted explicitly, only 127.0.0.1.
      allowed_domains = ["allowed.test", "denied.test", "private.test", "mixed.test", "127.0.0.1"]
      denied_domains = ["denied.test"]
      """;

  @RegisterExtension
  static final OriginServer origin = OriginServer.http().withPrivateDecoy();

  @RegisterExtension
  static final Daemon egressd = Daemon.withConfig(CONFIG);

  @TempDir
  Path temp;

  @Test
  void allowedRequestIsForwardedInOriginFormToTheOrigin() throws Exception {
    Curl.Result curl = Curl.fetch("-x", egressd.url(), origin.url("allowed.test", "/hello?x=1"));

    assertThat(curl.exitCode()).as("%s", curl).isZero();
    assertThat(curl.reply().status()).isEqualTo(200);
    assertThat(curl.reply().text()).isEqualTo("origin saw GET /hello?x=1 body=0\n");
    assertThat(curl.reply().header("X-Origin")).as("end-to-end response header").isEqualTo("egressd-it");
    RecordedRequest seen = origin.onlyRequest();
    assertThat(seen.target()).as("a proxy sends origin-form to the origin").isEqualTo("/hello?x=1");
    assertThat(seen.header("Host")).isEqualTo(origin.authority("allowed.test"));
    assertThat(seen.localAddress()).isEqualTo("127.0.0.1");
    egressd.awaitStderr("decision=allow", "protocol=http", "host=allowed.test", "port=" + origin.port(),
        "method=GET");
  }

  @Test
  void hopByHopHeadersAreNotForwarded() {
    Curl.Result curl = Curl.fetch("-x", egressd.url(), "--proxy-user", "agent:s3cret",
        "-H", "Proxy-Connection: keep-alive",
        "-H", "Connection: keep-alive, X-Hop-Secret",
        "-H", "X-Hop-Secret: must-not-leave",
        "-H", "Keep-Alive: timeout=5",
        "-H", "TE: trailers",
        "-H", "X-End-To-End: kept",
        origin.url("allowed.test", "/headers"));

    assertThat(curl.exitCode()).as("%s", curl).isZero();
    assertThat(curl.reply().status()).isEqualTo(200);
    RecordedRequest seen = origin.onlyRequest();
    assertThat(seen.headers().names())
        .doesNotContain("proxy-authorization", "proxy-connection", "x-hop-secret", "keep-alive", "te");
    assertThat(seen.header("X-End-To-End")).isEqualTo("kept");
  }

  @Test
  void deniedHostGets403JsonAndTheOriginIsNeverContacted() throws Exception {
    Curl.Result curl = Curl.fetch("-x", egressd.url(), origin.url("denied.test", "/secret-path"));

    assertThat(curl.exitCode()).as("%s", curl).isZero();
    HttpReply reply = curl.reply();
    assertThat(reply.status()).as("%s", reply).isEqualTo(403);
    assertThat(reply.header("x-proxy-error")).isEqualTo("blocked-by-denylist");
    assertThat(reply.header("Content-Type")).startsWith("application/json");
    Map<String, Object> json = reply.json();
    assertThat(json).containsEntry("status", "blocked").containsEntry("host", "denied.test")
        .containsEntry("reason", "denied").containsEntry("decision", "deny").containsEntry("protocol", "http")
        .containsEntry("port", (long) origin.port()).containsKeys("source", "message");
    assertThat((String) json.get("message")).isNotBlank();
    assertThat(origin.connectionCount()).isZero();
    String audit = egressd.awaitStderr("decision=deny", "reason=denied", "protocol=http", "host=denied.test",
        "port=" + origin.port(), "method=GET");
    assertThat(audit).as("audit lines never carry the path").doesNotContain("secret-path");
  }

  @Test
  void hostOutsideTheAllowlistGets403NotAllowed() throws Exception {
    HttpReply reply = Curl.fetch("-x", egressd.url(), origin.url("other.test", "/")).reply();

    assertThat(reply.status()).as("%s", reply).isEqualTo(403);
    assertThat(reply.header("x-proxy-error")).isEqualTo("blocked-by-allowlist");
    assertThat(reply.json()).containsEntry("reason", "not_allowed").containsEntry("host", "other.test");
    assertThat(origin.connectionCount()).isZero();
    egressd.awaitStderr("decision=deny", "reason=not_allowed", "host=other.test");
  }

  @Test
  void unresolvableHostOutsideTheAllowlistIsRefusedAsNotAllowedWithoutALookup() {
    // ghost.test is in neither list nor the hosts file: the allowlist miss must come first (no DNS side channel).
    HttpReply reply = Curl.fetch("-x", egressd.url(), "http://ghost.test:" + origin.port() + "/").reply();

    assertThat(reply.status()).as("%s", reply).isEqualTo(403);
    assertThat(reply.header("x-proxy-error")).isEqualTo("blocked-by-allowlist");
    assertThat(reply.json()).containsEntry("reason", "not_allowed");
  }

  @Test
  void allowedNameResolvingToAnUnvettedLoopbackAddressGets403NotAllowedLocal() throws Exception {
    // private.test -> 127.0.0.2, where the origin's decoy listens on the same port: a dial would be counted.
    HttpReply reply = Curl.fetch("-x", egressd.url(), origin.url("private.test", "/")).reply();

    assertThat(reply.status()).as("%s", reply).isEqualTo(403);
    assertThat(reply.header("x-proxy-error")).isEqualTo("blocked-by-allowlist");
    assertThat(reply.json()).containsEntry("reason", "not_allowed_local").containsEntry("host", "private.test");
    assertThat(origin.connectionCount()).isZero();
    egressd.awaitStderr("decision=deny", "reason=not_allowed_local", "host=private.test");
  }

  @Test
  void allowedNameWithOneUnvettedAnswerAmongSeveralIsRefused() {
    // mixed.test -> 127.0.0.1 (allowed) and 127.0.0.2 (not): any unvetted answer refuses the whole name.
    HttpReply reply = Curl.fetch("-x", egressd.url(), origin.url("mixed.test", "/")).reply();

    assertThat(reply.status()).as("%s", reply).isEqualTo(403);
    assertThat(reply.json()).containsEntry("reason", "not_allowed_local");
    assertThat(origin.connectionCount()).isZero();
  }

  @Test
  void requestBodyIsForwardedUnchanged() throws Exception {
    byte[] body = randomBytes(3 * 1024 * 1024 + 17);
    Path file = Files.write(temp.resolve("upload.bin"), body);

    Curl.Result curl = Curl.fetch("-x", egressd.url(), "-H", "Content-Type: application/octet-stream",
        "--data-binary", "@" + file, origin.url("allowed.test", "/upload"));

    assertThat(curl.exitCode()).as("%s", curl).isZero();
    assertThat(curl.reply().text()).isEqualTo("origin saw POST /upload body=" + body.length + "\n");
    RecordedRequest seen = origin.onlyRequest();
    assertThat(seen.bodyLength()).isEqualTo(body.length);
    assertThat(seen.bodySha256()).isEqualTo(sha256(body));
  }

  @Test
  void uploadExpectingContinueCompletes() throws Exception {
    byte[] body = randomBytes(64 * 1024);
    Path file = Files.write(temp.resolve("expect.bin"), body);

    Curl.Result curl = Curl.fetch("-x", egressd.url(), "-H", "Expect: 100-continue", "--data-binary", "@" + file,
        origin.url("allowed.test", "/expect"));

    assertThat(curl.exitCode()).as("%s", curl).isZero();
    assertThat(curl.reply().status()).isEqualTo(200);
    assertThat(origin.onlyRequest().bodySha256()).isEqualTo(sha256(body));
  }

  @Test
  void chunkedRequestBodyIsForwardedUnchanged() throws Exception {
    byte[] body = randomBytes(700_001);
    Path file = Files.write(temp.resolve("chunked.bin"), body);

    Curl.Result curl = Curl.fetch("-x", egressd.url(), "-H", "Transfer-Encoding: chunked",
        "--data-binary", "@" + file, origin.url("allowed.test", "/chunked"));

    assertThat(curl.exitCode()).as("%s", curl).isZero();
    assertThat(curl.reply().status()).isEqualTo(200);
    RecordedRequest seen = origin.onlyRequest();
    assertThat(seen.method()).isEqualTo("POST");
    assertThat(seen.bodyLength()).isEqualTo(body.length);
    assertThat(seen.bodySha256()).isEqualTo(sha256(body));
  }

  @Test
  void requestBodyReachesTheOriginBeforeTheClientHasSentAllOfIt() throws Exception {
    int half = 256 * 1024;
    byte[] body = randomBytes(2 * half);
    try (RawClient client = RawClient.connect(egressd.port())) {
      client.send("POST " + origin.url("allowed.test", "/upload") + " HTTP/1.1\r\n"
          + "Host: " + origin.authority("allowed.test") + "\r\n"
          + "Content-Type: application/octet-stream\r\n"
          + "Content-Length: " + body.length + "\r\n\r\n");
      client.send(java.util.Arrays.copyOfRange(body, 0, half));

      assertThat(OriginServer.eventually(() -> origin.bodyBytesReceived() >= half, Duration.ofSeconds(15)))
          .as("the origin received the first half (got %d bytes) before the client sent the rest",
              origin.bodyBytesReceived())
          .isTrue();
      client.send(java.util.Arrays.copyOfRange(body, half, body.length));
      HttpReply reply = client.readResponse();

      assertThat(reply.status()).isEqualTo(200);
      assertThat(origin.onlyRequest().bodySha256()).isEqualTo(sha256(body));
    }
  }

  @Test
  void largeResponseIsStreamedThroughASmallHeap() {
    // egressd runs with -Xmx96m: a proxy that buffered this body would fail.
    long length = 256L * 1024 * 1024;
    origin.respond("/big", new OriginResponse.Streamed(length));

    ProcessResult curl = Curl.run("-x", egressd.url(), "-o", "/dev/null", "-w", "%{http_code} %{size_download}",
        origin.url("allowed.test", "/big"));

    assertThat(curl.exitCode()).as("%s", curl).isZero();
    assertThat(curl.stdout()).isEqualTo("200 " + length + "\n");
  }

  @Test
  void responseReachesTheClientBeforeTheOriginHasSentAllOfIt() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    byte[] head = randomBytes(16 * 1024);
    byte[] tail = randomBytes(64 * 1024);
    origin.respond("/gated", new OriginResponse.Gated(head, release, tail));
    try (RawClient client = RawClient.connect(egressd.port())) {
      client.send(get(origin.authority("allowed.test"), "/gated"));

      HttpReply reply = client.readHead();
      assertThat(reply.status()).isEqualTo(200);
      assertThat(reply.header("Content-Length")).isEqualTo(String.valueOf(head.length + tail.length));
      assertThat(client.readBody(head.length)).as("first part, before the origin sent the rest").isEqualTo(head);
      release.countDown();
      assertThat(client.readBody(tail.length)).isEqualTo(tail);
    } finally {
      release.countDown();
    }
  }

  @Test
  void curlReusesOneConnectionAndEachRequestIsDecidedOnItsOwn() throws Exception {
    ProcessResult curl = Curl.run("-v", "-x", egressd.url(), "-w", "%{http_code}\n",
        "-o", "/dev/null", origin.url("allowed.test", "/first"),
        "-o", "/dev/null", origin.url("denied.test", "/second"));

    assertThat(curl.exitCode()).as("%s", curl).isZero();
    assertThat(curl.stdout()).isEqualTo("200\n403\n");
    assertThat(curl.stderr()).as("curl kept the proxy connection").contains("Re-using existing connection");
    assertThat(origin.onlyRequest().target()).isEqualTo("/first");
    egressd.awaitStderr("decision=deny", "host=denied.test");
    assertThat(egressd.stderrOfThisTest()).filteredOn(line -> line.contains("decision="))
        .extracting(line -> line.replaceAll(".*(decision=\\S+) .*(host=\\S+) .*", "$1 $2"))
        .containsExactly("decision=allow host=allowed.test", "decision=deny host=denied.test");
  }

  @Test
  void keptAliveConnectionServesAnAllowedRequestThenRefusesADeniedOne() throws Exception {
    try (RawClient client = RawClient.connect(egressd.port())) {
      HttpReply first = client.send(get(origin.authority("allowed.test"), "/one")).readResponse();
      HttpReply second = client.send(get(origin.authority("denied.test"), "/two")).readResponse();

      assertThat(first.status()).isEqualTo(200);
      assertThat(first.text()).isEqualTo("origin saw GET /one body=0\n");
      assertThat(second.status()).isEqualTo(403);
      assertThat(second.header("x-proxy-error")).isEqualTo("blocked-by-denylist");
      assertThat(second.json()).containsEntry("reason", "denied");
      assertThat(origin.onlyRequest().target()).isEqualTo("/one");
    }
  }

  @Test
  void keptAliveConnectionServesManyAllowedRequests() throws Exception {
    try (RawClient client = RawClient.connect(egressd.port())) {
      for (int i = 0; i < 5; i++) {
        HttpReply reply = client.send(get(origin.authority("allowed.test"), "/n" + i)).readResponse();
        assertThat(reply.status()).isEqualTo(200);
        assertThat(reply.text()).isEqualTo("origin saw GET /n" + i + " body=0\n");
      }
      assertThat(origin.requestCount()).isEqualTo(5);
    }
  }

  @Test
  void deniedUploadGets403WithoutReachingTheOrigin() throws Exception {
    Path file = Files.write(temp.resolve("denied-upload.bin"), randomBytes(4 * 1024 * 1024));

    Curl.Result curl = Curl.fetch("-x", egressd.url(), "--data-binary", "@" + file,
        origin.url("denied.test", "/upload"));

    assertThat(curl.reply()).as("%s", curl).isNotNull();
    assertThat(curl.reply().status()).isEqualTo(403);
    assertThat(curl.reply().header("x-proxy-error")).isEqualTo("blocked-by-denylist");
    assertThat(origin.connectionCount()).isZero();
  }

  @Test
  void pipelinedRequestsAreEachDecidedAndAnsweredInOrder() throws Exception {
    try (RawClient client = RawClient.connect(egressd.port())) {
      client.send(get(origin.authority("denied.test"), "/first") + get(origin.authority("allowed.test"), "/second")
          + get(origin.authority("other.test"), "/third") + get(origin.authority("allowed.test"), "/fourth"));

      HttpReply first = client.readResponse();
      HttpReply second = client.readResponse();
      HttpReply third = client.readResponse();
      HttpReply fourth = client.readResponse();

      assertThat(first.status()).isEqualTo(403);
      assertThat(first.json()).containsEntry("reason", "denied");
      assertThat(second.text()).isEqualTo("origin saw GET /second body=0\n");
      assertThat(third.status()).isEqualTo(403);
      assertThat(third.json()).containsEntry("reason", "not_allowed");
      assertThat(fourth.text()).isEqualTo("origin saw GET /fourth body=0\n");
    }
    assertThat(origin.requests()).extracting(RecordedRequest::target).containsExactly("/second", "/fourth");
  }

  @Test
  void headResponseWithoutABodyKeepsTheConnectionInStep() throws Exception {
    try (RawClient client = RawClient.connect(egressd.port())) {
      HttpReply head = client.send(TestData.request("HEAD", origin.authority("allowed.test"), "/head"))
          .readHeadResponse();
      HttpReply next = client.send(get(origin.authority("allowed.test"), "/after-head")).readResponse();

      assertThat(head.status()).isEqualTo(200);
      assertThat(next.status()).isEqualTo(200);
      assertThat(next.text()).isEqualTo("origin saw GET /after-head body=0\n");
    }
  }

  @Test
  void closeDelimitedResponseBodyIsRelayedWhole() throws Exception {
    byte[] body = randomBytes(300_000);
    origin.respond("/until-close", new OriginResponse.CloseDelimited(body));

    Curl.Result curl = Curl.fetch("-x", egressd.url(), origin.url("allowed.test", "/until-close"));

    assertThat(curl.exitCode()).as("%s", curl).isZero();
    assertThat(curl.reply().status()).isEqualTo(200);
    assertThat(sha256(curl.reply().body())).isEqualTo(sha256(body));
  }

  @Test
  void http10RequestWithoutHostIsForwardedWithAHostHeader() throws Exception {
    try (RawClient client = RawClient.connect(egressd.port())) {
      HttpReply reply = client.send("GET " + origin.url("allowed.test", "/old") + " HTTP/1.0\r\n\r\n")
          .readResponse();

      assertThat(reply.status()).as("%s", reply).isEqualTo(200);
      assertThat(reply.text()).isEqualTo("origin saw GET /old body=0\n");
    }
    assertThat(origin.onlyRequest().header("Host")).isEqualTo(origin.authority("allowed.test"));
  }
}
