package dev.egressd.it;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import dev.egressd.it.OtlpCollector.Export;
import dev.egressd.it.OtlpCollector.ExportedRecord;
import io.opentelemetry.proto.logs.v1.SeverityNumber;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@code [otel] exporter = { otlp-http = ... }}: one OTel log record per final decision, decoded from the real
 * protobuf the daemon sends to an in-test collector, with every attribute checked; and no URL path, query, header
 * value or credential from the client's request in what is exported, written to the audit file or logged.
 */
@Timeout(value = 60, unit = SECONDS)
class OtlpExportIT {
  private static final String EVENT_NAME = "codex.network_proxy.policy_decision";
  private static final String API_KEY = "it-collector-key-5150";
  private static final String PATH_SECRET = "secret-path-a1b2c3";
  private static final String QUERY_SECRET = "hunter2";
  private static final String BEARER_SECRET = "s3cr3t-bearer-token";
  private static final String PROXY_USER = "proxy-alice";
  private static final String PROXY_PASSWORD = "pr0xy-passw0rd";
  private static final String COOKIE_SECRET = "c00kie-session-value";
  private static final String PROXY_BASIC = Base64.getEncoder()
      .encodeToString((PROXY_USER + ":" + PROXY_PASSWORD).getBytes(StandardCharsets.UTF_8));
  /** Everything above that must never leave the request: in plain text, and as the Basic token that carries it. */
  private static final List<String> SECRETS = List.of(PATH_SECRET, QUERY_SECRET, BEARER_SECRET, PROXY_USER,
      PROXY_PASSWORD, PROXY_BASIC, COOKIE_SECRET);
  private static final List<String> ATTRIBUTE_KEYS = List.of("event.name", "event.timestamp",
      "network.policy.scope", "network.policy.decision", "network.policy.source", "network.policy.reason",
      "network.transport.protocol", "server.address", "server.port", "http.request.method", "client.address",
      "network.policy.override", "egressd.connection.id", "conversation.id", "app.version", "user.account_id");

  @RegisterExtension
  static final OtlpCollector collector = OtlpCollector.start();

  @RegisterExtension
  static final OriginServer http = OriginServer.http();

  // Limited mode: an allowed GET, a denied host and a refused method are three different final decisions.
  @RegisterExtension
  static final Daemon egressd = Daemon.withConfig("""
      [network]
      mode = "limited"
      allowed_domains = ["allowed.test", "127.0.0.1"]
      denied_domains = ["denied.test"]

      [otel]
      environment = "it-env"
      exporter = { otlp-http = { endpoint = "%s", headers = { "x-api-key" = "%s" }, protocol = "binary" } }

      [audit]
      file = "audit.jsonl"
      conversation_id = "conv-it-42"
      user_account_id = "acct-it-7"
      """.formatted(collector.endpoint(), API_KEY));

  @Test
  void allowedRequestIsExportedAsOneRecordWithEveryAttribute() throws Exception {
    Instant before = Instant.now().minusMillis(5);
    AuditedRequest sent = send("GET", http.authority("allowed.test"));
    Instant after = Instant.now().plusMillis(5);

    assertThat(sent.reply().status()).as("%s", sent.reply()).isEqualTo(200);
    ExportedRecord record = awaitOnlyRecordFrom(sent.client());
    List<String> allowKeys = new ArrayList<>(ATTRIBUTE_KEYS);
    allowKeys.add("network.route"); // on allows only: how the connection left
    assertThat(record.attributes()).containsOnlyKeys(allowKeys).containsEntry("network.route", "direct")
        .containsEntry("event.name", EVENT_NAME)
        .containsEntry("network.policy.scope", "domain")
        .containsEntry("network.policy.decision", "allow")
        .containsEntry("network.policy.source", "baseline_policy")
        .containsEntry("network.policy.reason", "allow")
        .containsEntry("network.transport.protocol", "http")
        .containsEntry("server.address", "allowed.test")
        .containsEntry("server.port", (long) http.port())
        .containsEntry("http.request.method", "GET")
        .containsEntry("client.address", sent.client())
        .containsEntry("network.policy.override", false)
        .containsEntry("conversation.id", "conv-it-42")
        .containsEntry("user.account_id", "acct-it-7");
    assertThat(record.attributes().get("egressd.connection.id")).isInstanceOfSatisfying(Long.class,
        id -> assertThat(id).isPositive());
    assertThat((String) record.attributes().get("app.version")).matches("\\d+\\.\\d+\\.\\d+\\S*");
    String timestamp = (String) record.attributes().get("event.timestamp");
    assertThat(timestamp).matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z");
    assertThat(Instant.parse(timestamp)).isBetween(before, after);
    assertThat(Instant.ofEpochSecond(0, record.log().getTimeUnixNano())).isEqualTo(Instant.parse(timestamp));
  }

  @Test
  void recordIsANamedEventFromTheEgressdService() throws Exception {
    AuditedRequest sent = send("GET", http.authority("allowed.test"));

    ExportedRecord record = awaitOnlyRecordFrom(sent.client());
    assertThat(record.log().getEventName()).isEqualTo(EVENT_NAME);
    assertThat(OtlpCollector.value(record.log().getBody())).isEqualTo(EVENT_NAME);
    assertThat(record.log().getSeverityNumber()).isEqualTo(SeverityNumber.SEVERITY_NUMBER_INFO);
    assertThat(record.scope()).isEqualTo("dev.egressd");
    assertThat(record.resource()).containsEntry("service.name", "egressd")
        .containsEntry("deployment.environment.name", "it-env");
  }

  @Test
  void deniedHostIsExportedAsOneDenyRecord() throws Exception {
    AuditedRequest sent = send("GET", http.authority("denied.test"));

    assertThat(sent.reply().status()).as("%s", sent.reply()).isEqualTo(403);
    ExportedRecord record = awaitOnlyRecordFrom(sent.client());
    assertThat(record.attributes()).containsOnlyKeys(ATTRIBUTE_KEYS)
        .containsEntry("network.policy.scope", "domain")
        .containsEntry("network.policy.decision", "deny")
        .containsEntry("network.policy.source", "baseline_policy")
        .containsEntry("network.policy.reason", "denied")
        .containsEntry("network.transport.protocol", "http")
        .containsEntry("server.address", "denied.test")
        .containsEntry("server.port", (long) http.port())
        .containsEntry("http.request.method", "GET")
        .containsEntry("network.policy.override", false);
    assertThat(http.connectionCount()).isZero();
  }

  @Test
  void refusedMethodIsExportedAsOneModeGuardRecord() throws Exception {
    AuditedRequest sent = send("POST", http.authority("allowed.test"));

    assertThat(sent.reply().status()).as("%s", sent.reply()).isEqualTo(403);
    assertThat(sent.reply().header("x-proxy-error")).isEqualTo("blocked-by-method-policy");
    ExportedRecord record = awaitOnlyRecordFrom(sent.client());
    assertThat(record.attributes()).containsOnlyKeys(ATTRIBUTE_KEYS)
        .containsEntry("network.policy.scope", "non_domain")
        .containsEntry("network.policy.decision", "deny")
        .containsEntry("network.policy.source", "mode_guard")
        .containsEntry("network.policy.reason", "method_not_allowed")
        .containsEntry("server.address", "allowed.test")
        .containsEntry("server.port", (long) http.port())
        .containsEntry("http.request.method", "POST");
    assertThat(http.connectionCount()).isZero();
  }

  @Test
  void everyExportIsProtobufToTheConfiguredPathWithTheConfiguredHeader() throws Exception {
    awaitOnlyRecordFrom(send("GET", http.authority("denied.test")).client());

    assertThat(collector.exports()).isNotEmpty().allSatisfy(export -> {
      assertThat(export.method()).isEqualTo("POST");
      assertThat(export.target()).isEqualTo(OtlpCollector.PATH);
      assertThat(export.header("x-api-key")).isEqualTo(API_KEY);
      assertThat(export.header("content-type")).isEqualTo("application/x-protobuf");
      assertThat(export.error()).as("protobuf decoding").isNull();
    });
  }

  @Test
  void noPathQueryHeaderValueOrCredentialIsExportedWrittenOrLogged() throws Exception {
    List<String> clients = new ArrayList<>();
    clients.add(send("GET", http.authority("allowed.test")).client());
    clients.add(send("GET", http.authority("denied.test")).client());
    clients.add(send("POST", http.authority("allowed.test")).client());
    clients.add(curlWithSecrets());
    awaitOnlyRecordsFrom(clients);

    for (Export export : collector.exports()) {
      assertNoSecret("an OTLP export request body (raw bytes)", new String(export.raw(), StandardCharsets.ISO_8859_1));
      assertNoSecret("an OTLP export request's headers", export.headers().toString());
      for (ExportedRecord record : export.records()) {
        assertNoSecret("an exported record", record.attributes() + " " + record.resource() + " "
            + OtlpCollector.value(record.log().getBody()) + " " + record.log().getEventName());
      }
    }
    Path auditFile = egressd.configDirectory().resolve("audit.jsonl");
    String audit = awaitAuditLines(auditFile, clients);
    assertNoSecret("the audit file", audit);
    for (String line : audit.split("\n")) {
      Map<String, Object> attributes = Json.object(line);
      List<String> expected = new ArrayList<>(ATTRIBUTE_KEYS);
      if ("allow".equals(attributes.get("network.policy.decision"))) {
        expected.add("network.route");
      }
      assertThat(attributes).containsOnlyKeys(expected);
    }
    assertNoSecret("egressd's stderr", egressd.stderr());
    assertNoSecret("egressd's stdout", egressd.stdout());
  }

  /** curl through {@code http://USER:PASSWORD@proxy} with an Authorization header and a secret path and query. */
  private static String curlWithSecrets() throws Exception {
    int localPort = TestData.closedPort();
    String proxy = "http://" + PROXY_USER + ":" + PROXY_PASSWORD + "@127.0.0.1:" + egressd.port();
    Curl.Result curl = Curl.fetch("--local-port", Integer.toString(localPort), "-x", proxy,
        "-H", "Authorization: Bearer " + BEARER_SECRET, "-H", "Cookie: session=" + COOKIE_SECRET,
        http.url("allowed.test", "/" + PATH_SECRET + "?token=" + QUERY_SECRET));
    assertThat(curl.reply().status()).as("%s", curl).isEqualTo(200);
    // Proof that the secrets did travel: the origin saw them, so only the audit path could have dropped them.
    RecordedRequest seen = http.requests().get(http.requests().size() - 1);
    assertThat(seen.target()).isEqualTo("/" + PATH_SECRET + "?token=" + QUERY_SECRET);
    assertThat(seen.header("Authorization")).isEqualTo("Bearer " + BEARER_SECRET);
    return "127.0.0.1:" + localPort;
  }

  private static void assertNoSecret(String where, String text) {
    for (String secret : SECRETS) {
      if (text.contains(secret)) {
        fail("%s contains the client's secret \"%s\":\n%s", where, secret, text);
      }
    }
  }

  /** Waits until the audit file has a line for every client, and returns the whole file. */
  private static String awaitAuditLines(Path file, List<String> clients) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (true) {
      String text = Files.exists(file) ? Files.readString(file) : "";
      if (clients.stream().allMatch(c -> text.contains("\"client.address\":\"" + c + "\""))) {
        return text;
      }
      if (System.nanoTime() > deadline) {
        return fail("audit file %s lacks a line for one of %s:\n%s", file, clients, text);
      }
      Thread.sleep(20);
    }
  }

  /**
   * Sends {@code METHOD http://AUTHORITY/secret-path?token=...} carrying every kind of secret a client has (an
   * Authorization header, proxy credentials, a cookie).
   */
  private static AuditedRequest send(String method, String authority) throws IOException {
    String body = method.equals("POST") ? "token=" + QUERY_SECRET : "";
    return AuditedRequest.send(egressd, method + " http://" + authority + "/" + PATH_SECRET + "?token="
        + QUERY_SECRET + " HTTP/1.1\r\nHost: " + authority + "\r\nAuthorization: Bearer " + BEARER_SECRET
        + "\r\nProxy-Authorization: Basic " + PROXY_BASIC + "\r\nCookie: session=" + COOKIE_SECRET
        + "\r\nContent-Length: " + body.length() + "\r\nConnection: close\r\n\r\n" + body);
  }

  /**
   * Sends a sentinel request from another connection and waits for its record. The decisions of earlier requests
   * were recorded before their responses were sent, and records are exported in order, so by then each earlier
   * client's record, and any second record for it, has arrived.
   */
  private static ExportedRecord awaitOnlyRecordFrom(String client) throws Exception {
    awaitOnlyRecordsFrom(List.of(client));
    return collector.recordsFrom(client).get(0);
  }

  private static void awaitOnlyRecordsFrom(List<String> clients) throws Exception {
    awaitRecordFrom(sendSentinel());
    for (String client : clients) {
      assertThat(collector.recordsFrom(client)).as("records for client %s among\n%s", client, collector.records())
          .hasSize(1);
    }
  }

  private static void awaitRecordFrom(String client) throws InterruptedException {
    if (collector.await(r -> client.equals(r.attributes().get("client.address")), Duration.ofSeconds(15))
        .isEmpty()) {
      fail("no OTLP record for client %s within 15 s; received:\n%s\n--- egressd stderr ---\n%s", client,
          collector.records(), egressd.stderr());
    }
  }

  private static String sendSentinel() throws IOException {
    return AuditedRequest.get(egressd, "denied.test", "/sentinel").client();
  }
}
