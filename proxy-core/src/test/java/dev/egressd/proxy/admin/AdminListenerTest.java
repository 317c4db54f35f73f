package dev.egressd.proxy.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;

import dev.egressd.audit.AuditEvent;
import dev.egressd.policy.PolicyEngine;
import dev.egressd.policy.Reason;
import dev.egressd.proxy.ProxyOptions;
import dev.egressd.proxy.ProxyServer;
import dev.egressd.proxy.testing.FakeResolver;
import dev.egressd.proxy.testing.RecordingAuditSink;
import dev.egressd.proxy.testing.TestPolicies;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.NullSource;
import org.junit.jupiter.params.provider.ValueSource;

/** The admin listener on a real loopback socket, next to the proxy's HTTP listener. */
@Timeout(30)
class AdminListenerTest {
  private static final String METRICS = "# TYPE egressd_decisions_total counter\negressd_decisions_total 3.0\n";
  private static final String METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8";

  private final AtomicBoolean ready = new AtomicBoolean(true);
  private final AtomicInteger metricsCalls = new AtomicInteger();
  private final RecordingAuditSink audit = new RecordingAuditSink();
  private final AdminEndpoints endpoints = new AdminEndpoints() {
    @Override
    public byte[] metrics() {
      metricsCalls.incrementAndGet();
      return METRICS.getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public String metricsContentType() {
      return METRICS_TYPE;
    }

    @Override
    public boolean ready() {
      return ready.get();
    }
  };
  private ProxyServer proxy;
  private int adminPort;

  @BeforeEach
  void setUp() throws InterruptedException {
    PolicyEngine engine = TestPolicies.standard(); // allows 127.0.0.1, so only the loop guard stands in the way
    proxy = ProxyServer.start(ProxyOptions.builder().httpListen(new InetSocketAddress("127.0.0.1", 0)).build(),
        () -> engine, new FakeResolver(), audit,
        List.of(AdminListener.at(new InetSocketAddress("127.0.0.1", 0), endpoints)), null);
    adminPort = proxy.address(AdminListener.NAME).getPort();
  }

  @AfterEach
  void tearDown() {
    proxy.close();
  }

  @Test
  void metricsAreTheEndpointsBytesWithTheirContentType() throws IOException {
    Response response = get("/metrics", "127.0.0.1:" + adminPort);

    assertThat(response.status()).isEqualTo(200);
    assertThat(response.headers()).containsEntry("content-type", METRICS_TYPE)
        .containsEntry("content-length", Integer.toString(METRICS.length()));
    assertThat(response.body()).isEqualTo(METRICS);
    assertThat(metricsCalls).hasValue(1);
  }

  @Test
  void metricsIgnoresAQueryString() throws IOException {
    Response response = get("/metrics?name[]=egressd_decisions_total", "localhost");

    assertThat(response.status()).isEqualTo(200);
    assertThat(response.body()).isEqualTo(METRICS);
  }

  @Test
  void healthzIsOk() throws IOException {
    Response response = get("/healthz", "localhost");

    assertThat(response.status()).isEqualTo(200);
    assertThat(response.body()).isEqualTo("ok\n");
    assertThat(response.headers()).containsEntry("content-type", "text/plain; charset=utf-8")
        .containsEntry("cache-control", "no-store");
  }

  @Test
  void readyzIsOkUntilReadinessEnds() throws IOException {
    Response before = get("/readyz", "localhost");
    ready.set(false);
    Response after = get("/readyz", "localhost");

    assertThat(before.status()).isEqualTo(200);
    assertThat(before.body()).isEqualTo("ready\n");
    assertThat(after.status()).isEqualTo(503);
    assertThat(after.body()).isEqualTo("shutting down\n");
    assertThat(get("/healthz", "localhost").status()).as("health does not follow readiness").isEqualTo(200);
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"/", "/metrics/", "/metricsz", "/healthz/x", "/admin", "http://localhost/metrics"})
  void unknownPathIs404(String path) throws IOException {
    Response response = get(path, "localhost");

    assertThat(response.status()).isEqualTo(404);
    assertThat(response.body()).contains("/metrics", "/healthz", "/readyz");
    assertThat(metricsCalls).hasValue(0);
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"POST", "PUT", "DELETE", "OPTIONS", "PATCH"})
  void methodsOtherThanGetAndHeadAre405WithAllow(String method) throws IOException {
    Response response = exchange(method + " /metrics HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n"
        + "Connection: close\r\n\r\nhi");

    assertThat(response.status()).isEqualTo(405);
    assertThat(response.headers()).containsEntry("allow", "GET, HEAD");
    assertThat(metricsCalls).hasValue(0);
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"evil.example", "evil.example:" + 1234, "localhost.evil.example", "127.0.0.1.nip.io",
      "10.0.0.1", "0.0.0.0", "[::2]", "localhost:http"})
  void foreignHostIs403(String host) throws IOException {
    Response response = get("/metrics", host);

    assertThat(response.status()).isEqualTo(403);
    assertThat(response.body()).contains("Host");
    assertThat(metricsCalls).as("a rebinding page must not read the metrics").hasValue(0);
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"localhost:1234", "localhost", "LocalHost", "127.0.0.1", "127.1.2.3:9464", "[::1]:9",
      "[::1]"})
  void loopbackHostIsAccepted(String host) throws IOException {
    assertThat(get("/metrics", host).status()).isEqualTo(200);
  }

  @Test
  void missingHostIs403() throws IOException {
    Response http11 = exchange("GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n");
    Response http10 = exchange("GET /metrics HTTP/1.0\r\n\r\n");

    assertThat(http11.status()).isEqualTo(403);
    assertThat(http10.status()).isEqualTo(403);
    assertThat(metricsCalls).hasValue(0);
  }

  @Test
  void foreignHostIsRefusedBeforeTheMethod() throws IOException {
    assertThat(exchange("POST /metrics HTTP/1.1\r\nHost: evil.example\r\nContent-Length: 0\r\nConnection: close"
        + "\r\n\r\n").status()).isEqualTo(403);
  }

  @Test
  void malformedRequestLineIs400AndCloses() throws IOException {
    Response response = exchange("GARBAGE\r\nHost: localhost\r\n\r\n");

    assertThat(response.status()).isEqualTo(400);
    assertThat(response.headers()).containsEntry("connection", "close");
  }

  @Test
  void headHasTheGetHeadersAndNoBody() throws IOException {
    // Pipelined on one connection: if HEAD sent a body, it would precede the second status line.
    String raw = exchangeRaw("HEAD /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n"
        + "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");

    int firstEnd = raw.indexOf("\r\n\r\n") + 4;
    Response head = Response.parse(raw.substring(0, firstEnd));
    assertThat(head.status()).isEqualTo(200);
    assertThat(head.headers()).containsEntry("content-type", METRICS_TYPE)
        .containsEntry("content-length", Integer.toString(METRICS.length()));
    assertThat(raw.substring(firstEnd)).startsWith("HTTP/1.1 200 OK\r\n").endsWith("\r\n\r\nok\n");
  }

  @Test
  void keepAliveConnectionServesSeveralRequests() throws IOException {
    String raw = exchangeRaw("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"
        + "GET /readyz HTTP/1.1\r\nHost: localhost\r\n\r\n"
        + "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");

    assertThat(raw.split("HTTP/1.1 200 OK\r\n", -1)).hasSize(4);
    assertThat(raw).endsWith(METRICS);
  }

  @Test
  void theProxyRefusesToForwardToTheAdminListener() throws IOException {
    String authority = "127.0.0.1:" + adminPort;
    Response forward = exchange(proxy.httpAddress().getPort(), "GET http://" + authority + "/metrics HTTP/1.1\r\n"
        + "Host: " + authority + "\r\nConnection: close\r\n\r\n");
    Response tunnel = exchange(proxy.httpAddress().getPort(), "CONNECT " + authority + " HTTP/1.1\r\nHost: "
        + authority + "\r\n\r\n");

    assertThat(forward.status()).isEqualTo(403);
    assertThat(forward.headers()).containsEntry("x-proxy-error", "blocked-by-policy");
    assertThat(forward.body()).contains("\"reason\":\"proxy_loop\"");
    assertThat(tunnel.status()).isEqualTo(403);
    assertThat(tunnel.headers()).containsEntry("x-proxy-error", "blocked-by-policy");
    assertThat(metricsCalls).as("nothing reached the admin listener").hasValue(0);
    assertThat(audit.decisions()).hasSize(2)
        .allSatisfy(d -> assertThat(d.decision().reason()).isEqualTo(Reason.PROXY_LOOP));
    assertThat(audit.events()).noneMatch(AuditEvent.TunnelOpened.class::isInstance);
  }

  @Test
  void onlyLoopbackAddressesCanBeListenedOn() {
    assertThatIllegalArgumentException()
        .isThrownBy(() -> AdminListener.at(new InetSocketAddress("0.0.0.0", 9464), endpoints))
        .withMessageContaining("0.0.0.0").withMessageContaining("expected: a loopback address");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> AdminListener.at(new InetSocketAddress("10.0.0.1", 9464), endpoints));
    assertThat(AdminListener.at(new InetSocketAddress("::1", 0), endpoints).name()).isEqualTo("admin");
  }

  @ParameterizedTest(name = "\"{0}\"")
  @ValueSource(strings = {"localhost", "LOCALHOST", "localhost:9464", "localhost.", "localhost.:1", " localhost ",
      "127.0.0.1", "127.0.0.1:9464", "127.255.255.254", "127.0.0.1:65535", "[::1]", "[::1]:9", "[::1]:9464"})
  void loopbackHostAcceptsLoopbackNamesWithOrWithoutPort(String host) {
    assertThat(AdminListener.loopbackHost(host)).isTrue();
  }

  @ParameterizedTest(name = "\"{0}\"")
  @NullSource
  @ValueSource(strings = {"", " ", "evil.example", "evil.example:9464", "localhost.evil.example", "sub.localhost",
      "localhostx", "127.0.0.1.nip.io", "1127.0.0.1", "128.0.0.1", "10.0.0.1", "0.0.0.0", "127.0.0.1:",
      "127.0.0.1:abc", "127.0.0.1:123456", "localhost:80:80", "localhost@evil.example", "127.0.0.1 evil.example",
      "::1", "[::1", "[::1]evil", "[::1]:", "[::2]", "[::ffff:127.0.0.1]", "[]"})
  void loopbackHostRefusesEverythingElse(String host) {
    assertThat(AdminListener.loopbackHost(host)).isFalse();
  }

  private Response get(String target, String host) throws IOException {
    return exchange("GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n");
  }

  private Response exchange(String request) throws IOException {
    return Response.parse(exchangeRaw(request));
  }

  private Response exchange(int port, String request) throws IOException {
    return Response.parse(exchangeRaw(port, request));
  }

  private String exchangeRaw(String request) throws IOException {
    return exchangeRaw(adminPort, request);
  }

  /** Sends {@code request} to 127.0.0.1:{@code port} and reads until the server closes (or 5 s of silence). */
  private static String exchangeRaw(int port, String request) throws IOException {
    try (Socket socket = new Socket("127.0.0.1", port)) {
      socket.setSoTimeout(5000);
      socket.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
      socket.getOutputStream().flush();
      ByteArrayOutputStream all = new ByteArrayOutputStream();
      try {
        socket.getInputStream().transferTo(all);
      } catch (SocketTimeoutException e) {
        // a kept-alive connection: what arrived is the answer
      }
      return all.toString(StandardCharsets.ISO_8859_1);
    }
  }

  /** One HTTP/1.1 response: status, headers with lower-case names, body. */
  private record Response(int status, Map<String, String> headers, String body) {
    static Response parse(String raw) {
      int end = raw.indexOf("\r\n\r\n");
      assertThat(end).as("a complete response head in: " + raw).isPositive();
      String[] lines = raw.substring(0, end).split("\r\n");
      assertThat(lines[0]).startsWith("HTTP/1.1 ");
      Map<String, String> headers = new LinkedHashMap<>();
      for (int i = 1; i < lines.length; i++) {
        int colon = lines[i].indexOf(':');
        headers.put(lines[i].substring(0, colon).toLowerCase(Locale.ROOT), lines[i].substring(colon + 1).strip());
      }
      return new Response(Integer.parseInt(lines[0].substring(9, 12)), headers, raw.substring(end + 4));
    }
  }
}
