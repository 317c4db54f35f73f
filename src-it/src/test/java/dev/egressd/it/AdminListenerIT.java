package dev.egressd.it;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code [admin] listen}: Prometheus text on {@code /metrics}, {@code /healthz} and {@code /readyz} on loopback,
 * answered only for a loopback {@code Host}, never reachable through the proxy, and never bound to a non-loopback
 * address.
 */
@Timeout(value = 60, unit = SECONDS)
class AdminListenerIT {
  private static final String NETWORK = """
      [network]
      allowed_domains = ["allowed.test", "127.0.0.1"]
      denied_domains = ["denied.test"]
      """;
  private static final String DECISIONS = "egressd_decisions_total";

  @RegisterExtension
  static final OriginServer http = OriginServer.http();

  @RegisterExtension
  static final Daemon egressd = Daemon.withConfig(NETWORK + """

      [admin]
      listen = "127.0.0.1:0"
      """);

  @TempDir
  Path dir;

  private AdminClient admin;

  @BeforeEach
  void connectAdmin() throws InterruptedException {
    admin = new AdminClient(egressd.adminPort());
  }

  @Test
  void metricsAreStrictPrometheusTextWithTheDocumentedFamilies() throws Exception {
    PrometheusText metrics = admin.metrics();

    assertThat(metrics.samples()).isNotEmpty();
    assertThat(metrics.named("egressd_audit_dropped_total")).singleElement()
        .satisfies(s -> assertThat(s.value()).isZero());
    // The scrape's own connection is open while the text is rendered.
    assertThat(metrics.sum("egressd_connections_active", "listener", "admin")).isGreaterThanOrEqualTo(1);
  }

  @Test
  void oneAllowedAndOneDeniedRequestAreCountedOnceEach() throws Exception {
    PrometheusText before = admin.metrics();

    try (RawClient client = RawClient.connect(egressd.port())) {
      HttpReply reply = client.send(TestData.get(http.authority("allowed.test"), "/counted")).readResponse();
      assertThat(reply.status()).as("%s", reply).isEqualTo(200);
    }
    try (RawClient client = RawClient.connect(egressd.port())) {
      HttpReply reply = client.send(TestData.get(http.authority("denied.test"), "/counted")).readResponse();
      assertThat(reply.status()).as("%s", reply).isEqualTo(403);
    }
    PrometheusText after = admin.metrics();

    assertThat(delta(before, after, DECISIONS, "decision", "allow", "reason", "allow", "protocol", "http"))
        .isEqualTo(1);
    assertThat(delta(before, after, DECISIONS, "decision", "deny", "reason", "denied", "protocol", "http"))
        .isEqualTo(1);
    assertThat(delta(before, after, DECISIONS)).as("all decisions").isEqualTo(2);
    // The allowed name was looked up and dialled once; the denied one never was.
    assertThat(delta(before, after, "egressd_dns_lookup_duration_seconds_count")).isEqualTo(1);
    assertThat(delta(before, after, "egressd_upstream_connect_duration_seconds_count", "outcome", "connected"))
        .isEqualTo(1);
  }

  @Test
  void openProxyConnectionIsCountedUnderTheHttpListener() throws Exception {
    double idle = admin.metrics().sum("egressd_connections_active", "listener", "http");

    try (RawClient client = RawClient.connect(egressd.port())) {
      HttpReply reply = client.send(TestData.get(http.authority("allowed.test"), "/keep-alive")).readResponse();
      assertThat(reply.status()).as("%s", reply).isEqualTo(200);

      assertThat(admin.metrics().sum("egressd_connections_active", "listener", "http")).isEqualTo(idle + 1);
    }
    assertThat(OriginServer.eventually(() -> httpConnections() == idle, Duration.ofSeconds(10)))
        .as("egressd_connections_active{listener=\"http\"} back to %s", idle).isTrue();
  }

  private double httpConnections() {
    try {
      return admin.metrics().sum("egressd_connections_active", "listener", "http");
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  @Test
  void healthAndReadinessAnswer200() throws Exception {
    HttpReply health = admin.get("/healthz");
    HttpReply ready = admin.get("/readyz");

    assertThat(health.status()).as("%s", health).isEqualTo(200);
    assertThat(ready.status()).as("%s", ready).isEqualTo(200);
  }

  @ParameterizedTest
  @ValueSource(strings = {"evil.test", "evil.test:9464", "localhost.evil.test", "127.0.0.1.evil.test",
      "127.0.0.1.nip.io", "10.0.0.1", ""})
  void foreignHostHeaderIsRefused(String host) throws Exception {
    HttpReply reply = admin.get("/metrics", host);

    assertThat(reply.status()).as("%s", reply).isEqualTo(403);
    assertThat(reply.text()).doesNotContain("egressd_");
  }

  @ParameterizedTest
  @ValueSource(strings = {"localhost", "LOCALHOST:9464", "127.0.0.1", "127.1.2.3:80", "[::1]:9464"})
  void loopbackHostHeaderIsAnswered(String host) throws Exception {
    HttpReply reply = admin.get("/metrics", host);

    assertThat(reply.status()).as("%s", reply).isEqualTo(200);
    assertThat(reply.text()).contains("egressd_");
  }

  @Test
  void proxyRefusesToForwardToItsOwnAdminListener() throws Exception {
    int adminPort = egressd.adminPort();
    PrometheusText before = admin.metrics();

    try (RawClient client = RawClient.connect(egressd.port())) {
      HttpReply reply = client.send(TestData.get("127.0.0.1:" + adminPort, "/metrics")).readResponse();

      assertThat(reply.status()).as("%s", reply).isEqualTo(403);
      assertThat(reply.json()).containsEntry("reason", "proxy_loop");
      assertThat(reply.text()).doesNotContain("egressd_decisions_total");
    }
    try (RawClient client = RawClient.connect(egressd.port())) {
      HttpReply reply = client.send(TestData.connect("127.0.0.1:" + adminPort)).readConnectResponse();

      assertThat(reply.status()).as("%s", reply).isEqualTo(403);
    }
    egressd.awaitStderr("decision=deny", "reason=proxy_loop", "protocol=http ", "port=" + adminPort);
    egressd.awaitStderr("decision=deny", "reason=proxy_loop", "protocol=https_connect", "port=" + adminPort);
    PrometheusText after = admin.metrics();
    assertThat(delta(before, after, DECISIONS, "decision", "deny", "reason", "proxy_loop")).isEqualTo(2);
  }

  @Test
  void nonLoopbackAdminListenOnTheCommandLineExitsWith2() throws Exception {
    Path config = Files.writeString(dir.resolve("egressd.toml"), NETWORK);

    ProcessResult result = Egressd.cli(dir, "run", "--config", config.toString(), "--listen", "127.0.0.1:0",
        "--socks-listen", "127.0.0.1:0", "--admin-listen", "0.0.0.0:0");

    assertThat(result.exitCode()).as("%s", result).isEqualTo(2);
    assertThat(result.stderr()).contains("--admin-listen", "loopback", "0.0.0.0:0");
    assertThat(result.stdout()).doesNotContain("listening");
  }

  @Test
  void nonLoopbackAdminListenInTheConfigExitsWith2() throws Exception {
    Path config = Files.writeString(dir.resolve("egressd.toml"), NETWORK + """

        [admin]
        listen = "0.0.0.0:9464"
        """);

    ProcessResult result = Egressd.cli(dir, "run", "--config", config.toString(), "--listen", "127.0.0.1:0",
        "--socks-listen", "127.0.0.1:0");

    assertThat(result.exitCode()).as("%s", result).isEqualTo(2);
    assertThat(result.stderr()).contains("admin.listen", "loopback", "0.0.0.0:9464");
    assertThat(result.stdout()).doesNotContain("listening");
  }

  private static double delta(PrometheusText before, PrometheusText after, String name, String... labels) {
    return after.sum(name, labels) - before.sum(name, labels);
  }
}
