package dev.egressd.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.egressd.audit.AuditEvent;
import dev.egressd.policy.PolicyEngine;
import dev.egressd.policy.Reason;
import dev.egressd.proxy.testing.FakeResolver;
import dev.egressd.proxy.testing.RecordingAuditSink;
import dev.egressd.proxy.testing.TestOrigin;
import dev.egressd.proxy.testing.TestPolicies;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The proxy on real loopback sockets: forwarding, keep-alive, streaming, tunnels and upstream failures. */
@Timeout(30)
class ProxyServerTest {
  private final FakeResolver resolver = new FakeResolver()
      .map("allowed.test", "127.0.0.1")
      .map("private.test", "127.0.0.2");
  private final RecordingAuditSink audit = new RecordingAuditSink();
  private TestOrigin origin;
  private ProxyServer proxy;
  private HttpClient client;

  @BeforeEach
  void setUp() throws Exception {
    origin = new TestOrigin();
    PolicyEngine engine = TestPolicies.standard();
    proxy = ProxyServer.start(ProxyOptions.builder().httpListen(new InetSocketAddress("127.0.0.1", 0))
        .connectTimeout(Duration.ofSeconds(2)).build(), () -> engine, resolver, audit);
    client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
        .proxy(ProxySelector.of(proxy.httpAddress())).connectTimeout(Duration.ofSeconds(5)).build();
  }

  @AfterEach
  void tearDown() {
    proxy.close();
    origin.close();
  }

  private HttpResponse<String> get(String path) throws Exception {
    return client.send(HttpRequest.newBuilder(URI.create("http://allowed.test:" + origin.port() + path)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void forwardsAllowedRequestInOriginFormWithHostHeader() throws Exception {
    HttpResponse<String> response = get("/echo?q=1");
    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.body()).startsWith("GET /echo?q=1\n").contains("host: allowed.test:" + origin.port());
    assertThat(audit.decisions()).singleElement()
        .satisfies(d -> assertThat(d.decision().reason()).isEqualTo(Reason.ALLOW));
  }

  @Test
  void keepAliveRequestsReuseOneUpstreamConnectionAndAreEachDecided() throws Exception {
    for (int i = 0; i < 3; i++) {
      assertThat(get("/echo").statusCode()).isEqualTo(200);
    }
    assertThat(origin.connections()).isEqualTo(1);
    assertThat(audit.decisions()).hasSize(3);
    assertThat(resolver.lookups()).hasSize(3);
  }

  @Test
  void hopByHopHeadersAreStrippedButEndToEndHeadersKept() throws Exception {
    String response = raw("GET http://allowed.test:" + origin.port() + "/echo HTTP/1.1\r\n"
        + "Host: allowed.test:" + origin.port() + "\r\nProxy-Authorization: Basic c2VjcmV0\r\n"
        + "Proxy-Connection: keep-alive\r\nConnection: close, X-Hop\r\nX-Hop: drop-me\r\nTE: trailers\r\n"
        + "X-Keep: yes\r\n\r\n");
    assertThat(response).startsWith("HTTP/1.1 200").contains("x-keep: yes");
    assertThat(response).doesNotContain("proxy-authorization", "proxy-connection", "x-hop", "\nte:");
    assertThat(response).doesNotContain("keep-alive: timeout").contains("connection: close");
  }

  @Test
  void connectionHeaderCannotRemoveHostOrFraming() throws Exception {
    String response = raw("POST http://allowed.test:" + origin.port() + "/echo HTTP/1.1\r\n"
        + "Host: allowed.test:" + origin.port() + "\r\nConnection: close, Host, Content-Length\r\n"
        + "Content-Length: 3\r\n\r\nabc");
    assertThat(response).startsWith("HTTP/1.1 200").contains("host: allowed.test").contains("body-length: 3");
  }

  @Test
  void largeResponseStreamsThrough() throws Exception {
    long size = 16L << 20;
    HttpResponse<InputStream> response = client.send(HttpRequest.newBuilder(
        URI.create("http://allowed.test:" + origin.port() + "/big?n=" + size)).build(),
        HttpResponse.BodyHandlers.ofInputStream());
    long total = 0;
    try (InputStream in = response.body()) {
      byte[] buf = new byte[65536];
      for (int n; (n = in.read(buf)) > 0; ) {
        total += n;
      }
    }
    assertThat(total).isEqualTo(size);
  }

  @Test
  void largeUploadWithExpectContinueStreamsThrough() throws Exception {
    byte[] body = new byte[8 << 20];
    HttpResponse<String> response = client.send(HttpRequest.newBuilder(
            URI.create("http://allowed.test:" + origin.port() + "/echo"))
        .expectContinue(true).POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.body()).contains("body-length: " + body.length).doesNotContain("expect:");
  }

  @Test
  void headRequestOnKeptAliveConnection() throws Exception {
    HttpResponse<String> head = client.send(HttpRequest.newBuilder(
        URI.create("http://allowed.test:" + origin.port() + "/echo")).method("HEAD",
        HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(head.statusCode()).isEqualTo(200);
    assertThat(head.body()).isEmpty();
    assertThat(get("/echo").body()).startsWith("GET /echo");
    assertThat(origin.connections()).isEqualTo(1);
  }

  @Test
  void closeDelimitedResponseIsRelayedWhole() throws Exception {
    HttpResponse<String> response = get("/close");
    assertThat(response.body()).isEqualTo("until close");
  }

  @Test
  void refusedRequestNeverReachesTheOrigin() throws Exception {
    HttpResponse<String> denied = client.send(HttpRequest.newBuilder(
        URI.create("http://denied.test:" + origin.port() + "/")).build(), HttpResponse.BodyHandlers.ofString());
    HttpResponse<String> privateAnswer = client.send(HttpRequest.newBuilder(
        URI.create("http://private.test:" + origin.port() + "/")).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(denied.statusCode()).isEqualTo(403);
    assertThat(denied.headers().firstValue("x-proxy-error")).hasValue("blocked-by-denylist");
    assertThat(privateAnswer.statusCode()).isEqualTo(403);
    assertThat(privateAnswer.body()).contains("not_allowed_local");
    assertThat(origin.connections()).isZero();
    assertThat(resolver.lookups()).containsExactly("private.test");
  }

  @Test
  void upgradeInFullModeBecomesATunnelAfter101() throws Exception {
    try (Socket socket = new Socket("127.0.0.1", proxy.httpAddress().getPort())) {
      socket.setSoTimeout(5000);
      OutputStream out = socket.getOutputStream();
      out.write(("GET http://allowed.test:" + origin.port() + "/upgrade HTTP/1.1\r\nHost: allowed.test:"
          + origin.port() + "\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      out.flush();
      InputStream in = socket.getInputStream();
      String head = readHead(in).toLowerCase(java.util.Locale.ROOT);
      assertThat(head).startsWith("http/1.1 101").contains("upgrade: echo").contains("connection: upgrade");
      out.write("frame-1".getBytes(StandardCharsets.US_ASCII));
      out.flush();
      assertThat(new String(in.readNBytes(7), StandardCharsets.US_ASCII)).isEqualTo("frame-1");
    }
    assertThat(origin.requestLines()).containsExactly("GET /upgrade");
  }

  @Test
  void closeDoesNotWaitForIdleKeptAliveConnections() throws Exception {
    assertThat(get("/echo").statusCode()).isEqualTo(200); // leaves a pooled keep-alive connection open
    long start = System.nanoTime();
    proxy.close(Duration.ofSeconds(10));
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(3));
    assertThat(proxy.openConnections()).isZero();
  }

  @Test
  void responsesFromHttp10OriginsAndToHttp10ClientsUseTheProxysVersionAndFraming() throws Exception {
    String response = raw("GET http://allowed.test:" + origin.port() + "/big?n=10 HTTP/1.0\r\n\r\n");
    assertThat(response).startsWith("HTTP/1.1 200").doesNotContainIgnoringCase("transfer-encoding")
        .contains("connection: close").endsWith("xxxxxxxxxx");
  }

  @Test
  void requestToTheProxysOwnListenerIsRefusedAsALoop() throws Exception {
    int self = proxy.httpAddress().getPort();
    String forward = raw("GET http://127.0.0.1:" + self + "/ HTTP/1.1\r\nConnection: close\r\n\r\n");
    String tunnel = raw("CONNECT 127.0.0.1:" + self + " HTTP/1.1\r\n\r\n");
    assertThat(forward).startsWith("HTTP/1.1 403").contains("\"reason\":\"proxy_loop\"")
        .contains("x-proxy-error: blocked-by-policy");
    assertThat(tunnel).startsWith("HTTP/1.1 403").contains("own listener");
    assertThat(proxy.openConnections()).isLessThanOrEqualTo(1);
  }

  @Test
  void connectToClosedPortIs502Refused() throws Exception {
    int closedPort;
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      closedPort = s.getLocalPort();
    }
    String response = raw("CONNECT allowed.test:" + closedPort + " HTTP/1.1\r\n\r\n");
    assertThat(response).startsWith("HTTP/1.1 502").contains("x-proxy-error: upstream-connect-refused");
    assertThat(audit.events()).last().isInstanceOf(AuditEvent.UpstreamFailed.class);
  }

  @Test
  void connectTunnelRelaysBytesBothWaysAndRecordsTunnelClosed() throws Exception {
    try (ServerSocket echo = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      Thread echoThread = new Thread(() -> {
        try (Socket s = echo.accept()) {
          s.getInputStream().transferTo(s.getOutputStream());
        } catch (IOException ignored) {
          // test ends
        }
      });
      echoThread.start();
      try (Socket socket = new Socket("127.0.0.1", proxy.httpAddress().getPort())) {
        socket.setSoTimeout(5000);
        OutputStream out = socket.getOutputStream();
        // Early data right behind the CONNECT head must reach the origin too.
        out.write(("CONNECT allowed.test:" + echo.getLocalPort() + " HTTP/1.1\r\n\r\nearly-")
            .getBytes(StandardCharsets.US_ASCII));
        out.flush();
        InputStream in = socket.getInputStream();
        String head = readHead(in);
        assertThat(head).startsWith("HTTP/1.1 200 Connection Established");
        out.write("ping".getBytes(StandardCharsets.US_ASCII));
        out.flush();
        assertThat(new String(in.readNBytes(10), StandardCharsets.US_ASCII)).isEqualTo("early-ping");
      }
      echoThread.join(5000);
    }
    long deadline = System.nanoTime() + 5_000_000_000L;
    while (audit.events().stream().noneMatch(AuditEvent.TunnelClosed.class::isInstance)
        && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    assertThat(audit.events()).filteredOn(AuditEvent.TunnelClosed.class::isInstance).singleElement()
        .satisfies(e -> {
          AuditEvent.TunnelClosed closed = (AuditEvent.TunnelClosed) e;
          assertThat(closed.bytesUp()).isEqualTo(10);
          assertThat(closed.bytesDown()).isEqualTo(10);
        });
  }

  private String raw(String request) throws IOException {
    try (Socket socket = new Socket("127.0.0.1", proxy.httpAddress().getPort())) {
      socket.setSoTimeout(5000);
      socket.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
      socket.getOutputStream().flush();
      ByteArrayOutputStream all = new ByteArrayOutputStream();
      try {
        socket.getInputStream().transferTo(all);
      } catch (java.net.SocketTimeoutException e) {
        // keep-alive response: what arrived is enough
      }
      return all.toString(StandardCharsets.ISO_8859_1);
    }
  }

  private static String readHead(InputStream in) throws IOException {
    StringBuilder sb = new StringBuilder();
    while (!sb.toString().endsWith("\r\n\r\n")) {
      int c = in.read();
      if (c < 0) {
        break;
      }
      sb.append((char) c);
    }
    return sb.toString();
  }

  @Test
  void malformedChunkedBodyIsRefusedAndTheOriginNeverSeesACompleteRequest() throws Exception {
    String host = "allowed.test:" + origin.port();
    String reply;
    try (Socket socket = new Socket(proxy.httpAddress().getAddress(), proxy.httpAddress().getPort())) {
      socket.setSoTimeout(10_000);
      socket.getOutputStream().write(("POST http://" + host + "/echo HTTP/1.1\r\nHost: " + host
          + "\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n")
          .getBytes(StandardCharsets.US_ASCII));
      reply = new String(socket.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
    }

    assertThat(reply).startsWith("HTTP/1.1 400").contains("x-proxy-error: malformed-request");
    Thread.sleep(200); // let a (wrongly) completed request reach the origin's aggregator before looking
    assertThat(origin.requestLines()).as("complete requests at the origin").isEmpty();
  }
}
