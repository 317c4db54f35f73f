package dev.egressd.audit.otel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import dev.egressd.audit.AuditEvent;
import dev.egressd.config.TelemetrySettings;
import dev.egressd.policy.Protocol;
import dev.egressd.policy.Reason;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The daemon's telemetry wiring: log export on or off, Prometheus text, the JSON-lines file. The SDK also reads
 * {@code OTEL_*} environment variables; system properties override them, so the settings these tests do not
 * exercise are pinned that way, and the log-export choice tests are skipped when the environment makes it.
 */
@Timeout(60)
class TelemetryTest {
  private static final List<String> LOG_EXPORT_SETTINGS = List.of("otel.logs.exporter", "otel.exporter.otlp.endpoint",
      "otel.exporter.otlp.logs.endpoint");

  private final Map<String, String> savedProperties = new HashMap<>();
  private final List<Telemetry> started = new ArrayList<>();

  @BeforeEach
  void pinSdkSettings() {
    pin("otel.sdk.disabled", "false");
    pin("otel.traces.exporter", "none");
    pin("otel.metrics.exporter", "none");
  }

  @AfterEach
  void restore() {
    started.forEach(Telemetry::close);
    savedProperties.forEach((key, value) -> {
      if (value == null) {
        System.clearProperty(key);
      } else {
        System.setProperty(key, value);
      }
    });
  }

  @Test
  void defaultsExportNoLogRecords() throws IOException {
    assumeLogExportNotSetOutside();

    Telemetry telemetry = start(TelemetrySettings.DEFAULTS, AuditMetadata.NONE);

    assertThat(telemetry.exportingLogs()).isFalse();
  }

  @Test
  void aConfiguredExporterTurnsLogExportOn() throws IOException {
    assumeLogExportNotSetOutside();
    // Nothing is recorded, so nothing is sent to this closed loopback port.
    TelemetrySettings settings = new TelemetrySettings(new TelemetrySettings.Exporter.OtlpHttp(
        "http://127.0.0.1:1/v1/logs", Map.of("x-api-key", "k"), false), "test", "e", null, null, null, 16, null);

    Telemetry telemetry = start(settings, AuditMetadata.NONE);

    assertThat(telemetry.exportingLogs()).isTrue();
  }

  @Test
  void prometheusTextCarriesDecisionsConnectionsAndDrops() throws IOException {
    pin("otel.logs.exporter", "none");
    Telemetry telemetry = start(TelemetrySettings.DEFAULTS, AuditMetadata.NONE);

    telemetry.auditSink().record(Events.decision("a.example:443", Protocol.HTTPS_CONNECT, null,
        Events.deny(Reason.NOT_ALLOWED)));
    telemetry.auditSink().record(Events.allowedGet(80));
    telemetry.auditSink().record(Events.allowedGet(81));
    telemetry.proxyMetrics().connectionOpened("http");

    List<Sample> samples = Sample.parse(new String(telemetry.prometheusText(), StandardCharsets.UTF_8));
    assertThat(value(samples, "egressd_decisions_total",
        Map.of("decision", "deny", "reason", "not_allowed", "protocol", "https_connect"))).isEqualTo(1.0);
    assertThat(value(samples, "egressd_decisions_total",
        Map.of("decision", "allow", "reason", "allow", "protocol", "http"))).isEqualTo(2.0);
    assertThat(value(samples, "egressd_connections_active", Map.of("listener", "http"))).isEqualTo(1.0);
    assertThat(value(samples, "egressd_audit_dropped_total", Map.of())).isEqualTo(0.0);
    assertThat(telemetry.droppedEvents()).isZero();
    assertThat(Telemetry.prometheusContentType()).startsWith("text/plain; version=0.0.4");
  }

  @Test
  void prometheusNamesAreTheDocumentedOnes() throws IOException {
    pin("otel.logs.exporter", "none");
    Telemetry telemetry = start(TelemetrySettings.DEFAULTS, AuditMetadata.NONE);
    var request = Events.request("a.example:443", Protocol.HTTPS_CONNECT, "CONNECT");

    telemetry.auditSink().record(new AuditEvent.TunnelOpened(Events.AT, request));
    telemetry.auditSink().record(new AuditEvent.TunnelOpened(Events.AT, request));
    telemetry.auditSink().record(new AuditEvent.TunnelClosed(Events.AT, request, 3, 4, 2000));
    telemetry.auditSink().record(new AuditEvent.UpstreamFailed(Events.AT, request, "dns_failure"));
    telemetry.proxyMetrics().upstreamConnect(1_000_000, true);
    telemetry.proxyMetrics().dnsLookup(1_000_000, false);

    List<Sample> samples = Sample.parse(new String(telemetry.prometheusText(), StandardCharsets.UTF_8));
    assertThat(value(samples, "egressd_tunnels_active", Map.of("protocol", "https_connect"))).isEqualTo(1.0);
    assertThat(value(samples, "egressd_relayed_bytes_total", Map.of("protocol", "https_connect", "direction", "up")))
        .isEqualTo(3.0);
    assertThat(value(samples, "egressd_relayed_bytes_total",
        Map.of("protocol", "https_connect", "direction", "down"))).isEqualTo(4.0);
    assertThat(value(samples, "egressd_tunnel_duration_seconds_sum", Map.of("protocol", "https_connect")))
        .isEqualTo(2.0);
    assertThat(value(samples, "egressd_upstream_connect_duration_seconds_count", Map.of("outcome", "connected")))
        .isEqualTo(1.0);
    assertThat(value(samples, "egressd_dns_lookup_duration_seconds_count", Map.of("outcome", "failed")))
        .isEqualTo(1.0);
    assertThat(value(samples, "egressd_upstream_failures_total", Map.of("cause", "dns_failure"))).isEqualTo(1.0);
  }

  @Test
  void auditFileReceivesEachDecisionAsOneJsonLineByClose(@TempDir Path dir) throws IOException {
    pin("otel.logs.exporter", "none");
    Path file = dir.resolve("logs").resolve("audit.jsonl");
    Telemetry telemetry = start(TelemetrySettings.DEFAULTS.withAuditFile(file.toString()),
        new AuditMetadata("9.9.9", "conv-1", null));

    telemetry.auditSink().record(Events.decision("api.example.com:443", Protocol.HTTPS_CONNECT, null,
        Events.deny(Reason.DENIED)));
    close(telemetry);

    List<String> lines = Files.readAllLines(file);
    assertThat(lines).hasSize(1);
    assertThat(FlatJson.parseObject(lines.get(0)))
        .containsEntry("event.name", TelemetrySettings.DEFAULT_EVENT_NAME)
        .containsEntry("network.policy.decision", "deny")
        .containsEntry("network.policy.reason", "denied")
        .containsEntry("server.address", "api.example.com")
        .containsEntry("server.port", 443L)
        .containsEntry("http.request.method", "none")
        .containsEntry("app.version", "9.9.9")
        .containsEntry("conversation.id", "conv-1")
        .doesNotContainKey("user.account_id");
  }

  @Test
  void auditFileIsAppendedTo(@TempDir Path dir) throws IOException {
    pin("otel.logs.exporter", "none");
    Path file = dir.resolve("audit.jsonl");
    Files.writeString(file, "{\"earlier\":true}\n");
    TelemetrySettings settings = TelemetrySettings.DEFAULTS.withAuditFile(file.toString());

    for (int port = 1; port <= 2; port++) {
      Telemetry telemetry = start(settings, AuditMetadata.NONE);
      telemetry.auditSink().record(Events.allowedGet(port));
      close(telemetry);
    }

    List<String> lines = Files.readAllLines(file);
    assertThat(lines).hasSize(3).first().isEqualTo("{\"earlier\":true}");
    assertThat(lines.subList(1, 3)).extracting(l -> FlatJson.parseObject(l).get("server.port"))
        .containsExactly(1L, 2L);
  }

  private Telemetry start(TelemetrySettings settings, AuditMetadata metadata) throws IOException {
    Telemetry telemetry = Telemetry.start(settings, metadata);
    started.add(telemetry);
    return telemetry;
  }

  private void close(Telemetry telemetry) {
    started.remove(telemetry);
    telemetry.close();
  }

  private void pin(String key, String value) {
    savedProperties.putIfAbsent(key, System.getProperty(key));
    System.setProperty(key, value);
  }

  private static void assumeLogExportNotSetOutside() {
    for (String key : LOG_EXPORT_SETTINGS) {
      String env = key.toUpperCase(Locale.ROOT).replace('.', '_');
      assumeThat(System.getenv(env)).as(env + " decides log export").isNull();
      assumeThat(System.getProperty(key)).as(key + " decides log export").isNull();
    }
  }

  private static double value(List<Sample> samples, String name, Map<String, String> labels) {
    List<Sample> matching = samples.stream()
        .filter(s -> s.name().equals(name) && s.labels().entrySet().containsAll(labels.entrySet())).toList();
    assertThat(matching).as(name + labels + " in " + samples).hasSize(1);
    return matching.get(0).value();
  }

  /** One line of the Prometheus text format: {@code name{label="value",...} value}. */
  private record Sample(String name, Map<String, String> labels, double value) {
    static List<Sample> parse(String text) {
      List<Sample> samples = new ArrayList<>();
      for (String line : text.split("\n")) {
        if (line.isBlank() || line.startsWith("#")) {
          continue;
        }
        int brace = line.indexOf('{');
        int space = line.lastIndexOf(' ');
        String name = brace < 0 ? line.substring(0, space) : line.substring(0, brace);
        Map<String, String> labels = new LinkedHashMap<>();
        if (brace >= 0) {
          String body = line.substring(brace + 1, line.lastIndexOf('}'));
          for (String pair : body.split(",(?=[a-zA-Z_][a-zA-Z0-9_]*=\")")) {
            if (!pair.isEmpty()) {
              int eq = pair.indexOf('=');
              labels.put(pair.substring(0, eq), pair.substring(eq + 2, pair.length() - 1));
            }
          }
        }
        samples.add(new Sample(name, labels, Double.parseDouble(line.substring(space + 1))));
      }
      return samples;
    }
  }
}
