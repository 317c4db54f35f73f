package dev.egressd.audit.otel;

import dev.egressd.audit.AuditSink;
import dev.egressd.audit.ProxyMetrics;
import dev.egressd.config.TelemetrySettings;
import dev.egressd.config.TelemetrySettings.Exporter;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.exporter.prometheus.PrometheusMetricReader;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.autoconfigure.AutoConfiguredOpenTelemetrySdk;
import io.opentelemetry.sdk.autoconfigure.spi.ConfigProperties;
import io.opentelemetry.sdk.resources.Resource;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;
import java.util.stream.Collectors;

/**
 * The daemon's telemetry: an OTel SDK configured from the {@code [otel]} table and the standard {@code OTEL_*}
 * environment variables (which win, as the OTel specification says), the audit pipeline that exports decisions
 * as OTel log records and/or JSON lines, and the metrics served as Prometheus text on the admin listener.
 *
 * <p>Audit log records are exported only when asked for: by {@code [otel] exporter}, by
 * {@code OTEL_LOGS_EXPORTER}, or by an OTLP endpoint in the environment. Metrics go to {@link #prometheusText()};
 * {@code OTEL_METRICS_EXPORTER=otlp} also pushes them.
 */
public final class Telemetry implements AutoCloseable {
  /** The OTel service name unless {@code OTEL_SERVICE_NAME} says otherwise. */
  public static final String SERVICE_NAME = "egressd";
  private static final String SCOPE = "dev.egressd";
  private static final int DEFAULT_SDK_QUEUE = 2048;

  private final OpenTelemetrySdk sdk;
  private final PrometheusMetricReader prometheus;
  private final AuditPipeline pipeline;
  private final ProxyInstruments instruments;
  private final LongAdder dropped;
  private final boolean exportingLogs;

  private Telemetry(OpenTelemetrySdk sdk, PrometheusMetricReader prometheus, AuditPipeline pipeline,
      ProxyInstruments instruments, LongAdder dropped, boolean exportingLogs) {
    this.sdk = sdk;
    this.prometheus = prometheus;
    this.pipeline = pipeline;
    this.instruments = instruments;
    this.dropped = dropped;
    this.exportingLogs = exportingLogs;
  }

  /**
   * Starts the SDK, opens the audit file and starts the audit worker.
   *
   * @throws IOException when the audit file cannot be opened for appending
   * @throws IllegalStateException (from the SDK) when the OTel environment variables are invalid
   */
  public static Telemetry start(TelemetrySettings settings, AuditMetadata metadata) throws IOException {
    Objects.requireNonNull(settings, "settings");
    Objects.requireNonNull(metadata, "metadata");
    SdkLogging.routeToSlf4j();
    PrometheusMetricReader prometheus = PrometheusMetricReader.create();
    // Set when the SDK configures a log exporter; one budget covers every exporter it configures.
    ExportBudget[] budget = new ExportBudget[1];
    AutoConfiguredOpenTelemetrySdk auto = AutoConfiguredOpenTelemetrySdk.builder()
        .disableShutdownHook()
        .addPropertiesSupplier(defaults(settings))
        .addPropertiesCustomizer(config -> chooseLogsExporter(config, settings.exporter()))
        .addResourceCustomizer((resource, config) -> withEnvironment(resource, settings.environment()))
        .addMeterProviderCustomizer((builder, config) -> builder.registerMetricReader(prometheus))
        .addLogRecordExporterCustomizer((exporter, config) -> {
          if (budget[0] == null) {
            budget[0] = new ExportBudget(config.getInt("otel.blrp.max.queue.size", DEFAULT_SDK_QUEUE));
          }
          return budget[0].track(exporter);
        })
        .build();
    OpenTelemetrySdk sdk = auto.getOpenTelemetrySdk();
    LongAdder dropped = new LongAdder();
    ProxyInstruments instruments = new ProxyInstruments(sdk.getMeterProvider().get(SCOPE), dropped);
    List<DecisionWriter> writers = new ArrayList<>();
    try {
      if (budget[0] != null) {
        writers.add(new OtelDecisionWriter(sdk.getSdkLoggerProvider().get(SCOPE), budget[0], dropped));
      }
      if (settings.auditFile() != null) {
        writers.add(jsonLines(settings));
      }
    } catch (IOException | RuntimeException e) {
      sdk.shutdown().join(5, TimeUnit.SECONDS);
      throw e;
    }
    AuditPipeline pipeline = new AuditPipeline(settings.queueSize(), writers, instruments, settings.eventName(),
        metadata, dropped);
    return new Telemetry(sdk, prometheus, pipeline, instruments, dropped, budget[0] != null);
  }

  private static DecisionWriter jsonLines(TelemetrySettings settings) throws IOException {
    Path path = settings.auditPath();
    if (path == null) {
      return new JsonLinesWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8), "standard output",
          false);
    }
    Path parent = path.toAbsolutePath().getParent();
    if (parent != null) {
      Files.createDirectories(parent);
    }
    Writer out = Files.newBufferedWriter(path, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
        StandardOpenOption.APPEND, StandardOpenOption.WRITE);
    return new JsonLinesWriter(out, path.toString(), true);
  }

  /** Defaults from the config file; the OTel environment variables and system properties override each. */
  private static Supplier<Map<String, String>> defaults(TelemetrySettings settings) {
    Map<String, String> props = new HashMap<>();
    props.put("otel.service.name", SERVICE_NAME);
    props.put("otel.traces.exporter", "none");
    props.put("otel.metrics.exporter", "none");
    props.put("otel.blrp.max.queue.size", Integer.toString(DEFAULT_SDK_QUEUE));
    props.put("otel.blrp.schedule.delay", "1000");
    if (settings.exporter() instanceof Exporter.OtlpHttp http) {
      props.put("otel.exporter.otlp.logs.protocol", http.json() ? "http/json" : "http/protobuf");
      props.put("otel.exporter.otlp.logs.endpoint", http.endpoint());
      putHeaders(props, http.headers());
    } else if (settings.exporter() instanceof Exporter.OtlpGrpc grpc) {
      props.put("otel.exporter.otlp.logs.protocol", "grpc");
      props.put("otel.exporter.otlp.logs.endpoint", grpc.endpoint());
      putHeaders(props, grpc.headers());
    }
    return () -> props;
  }

  private static void putHeaders(Map<String, String> props, Map<String, String> headers) {
    if (!headers.isEmpty()) {
      props.put("otel.exporter.otlp.logs.headers", headers.entrySet().stream()
          .map(e -> e.getKey() + "=" + URLEncoder.encode(e.getValue(), StandardCharsets.UTF_8).replace("+", "%20"))
          .collect(Collectors.joining(",")));
    }
  }

  /**
   * Exports audit log records when the config names an exporter or the environment gives an OTLP endpoint, unless
   * {@code OTEL_LOGS_EXPORTER} decides explicitly.
   */
  private static Map<String, String> chooseLogsExporter(ConfigProperties config, Exporter exporter) {
    if (config.getString("otel.logs.exporter") != null) {
      return Map.of();
    }
    boolean wanted = !(exporter instanceof Exporter.None)
        || config.getString("otel.exporter.otlp.endpoint") != null
        || config.getString("otel.exporter.otlp.logs.endpoint") != null;
    return Map.of("otel.logs.exporter", wanted ? "otlp" : "none");
  }

  private static Resource withEnvironment(Resource resource, String environment) {
    AttributeKey<String> key = AttributeKey.stringKey("deployment.environment.name");
    if (resource.getAttribute(key) != null) {
      return resource;
    }
    return resource.merge(Resource.builder().put(key, environment).build());
  }

  /** The sink the proxy records audit events to: never blocks, drops and counts when the queue is full. */
  public AuditSink auditSink() {
    return pipeline;
  }

  /** How often each rule decided (also exported as {@code egressd_rule_hits_total}). */
  public RuleHits ruleHits() {
    return instruments.ruleHits();
  }

  /** What the proxy reports connections and latencies to. */
  public ProxyMetrics proxyMetrics() {
    return instruments;
  }

  /** Whether audit events are exported as OTel log records. */
  public boolean exportingLogs() {
    return exportingLogs;
  }

  /** Audit events dropped so far because the queue was full. */
  public long droppedEvents() {
    return dropped.sum();
  }

  /** The current metrics in the Prometheus text exposition format (version 0.0.4). */
  public byte[] prometheusText() {
    ByteArrayOutputStream out = new ByteArrayOutputStream(16 * 1024);
    try {
      PrometheusTextFormatWriter.create().write(out, prometheus.collect(),
          io.prometheus.metrics.config.EscapingScheme.UNDERSCORE_ESCAPING);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  /** The content type of {@link #prometheusText()}. */
  public static String prometheusContentType() {
    return PrometheusTextFormatWriter.CONTENT_TYPE;
  }

  /** Writes the queued audit events, then flushes and shuts the SDK down, waiting at most {@code timeout} each. */
  public void close(Duration timeout) {
    pipeline.close(timeout);
    sdk.shutdown().join(timeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  @Override
  public void close() {
    close(Duration.ofSeconds(5));
  }
}
