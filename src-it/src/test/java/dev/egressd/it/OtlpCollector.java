package dev.egressd.it;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest;
import io.opentelemetry.proto.collector.logs.v1.ExportLogsServiceResponse;
import io.opentelemetry.proto.common.v1.AnyValue;
import io.opentelemetry.proto.common.v1.KeyValue;
import io.opentelemetry.proto.logs.v1.LogRecord;
import io.opentelemetry.proto.logs.v1.ResourceLogs;
import io.opentelemetry.proto.logs.v1.ScopeLogs;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Predicate;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * An OTLP/HTTP logs receiver on 127.0.0.1 (port 0) that keeps every export request exactly as it arrived (headers,
 * raw body) and decodes the body as the real protobuf {@link ExportLogsServiceRequest}. It is bound when created,
 * so a daemon config can name its port in a static initializer; register it {@code static} so it closes after the
 * class.
 */
final class OtlpCollector implements AfterAllCallback {
  /** The path the daemon's config points at. */
  static final String PATH = "/v1/logs";

  private final HttpServer server;
  private final ExecutorService threads;
  private final List<Export> exports = new CopyOnWriteArrayList<>();

  private OtlpCollector(HttpServer server, ExecutorService threads) {
    this.server = server;
    this.threads = threads;
  }

  /** Binds and starts the receiver. */
  static OtlpCollector start() {
    try {
      HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0), 16);
      ExecutorService threads = Executors.newFixedThreadPool(2, r -> {
        Thread t = new Thread(r, "otlp-collector");
        t.setDaemon(true);
        return t;
      });
      OtlpCollector collector = new OtlpCollector(server, threads);
      server.createContext("/", collector::handle);
      server.setExecutor(threads);
      server.start();
      return collector;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public void afterAll(ExtensionContext context) {
    server.stop(0);
    threads.shutdownNow();
  }

  /** The logs endpoint URL, {@code http://127.0.0.1:PORT/v1/logs}. */
  String endpoint() {
    return "http://127.0.0.1:" + server.getAddress().getPort() + PATH;
  }

  /** Every export request received so far, in arrival order. */
  List<Export> exports() {
    return List.copyOf(exports);
  }

  /** Every log record received so far, in arrival order. */
  List<ExportedRecord> records() {
    List<ExportedRecord> all = new ArrayList<>();
    for (Export export : exports) {
      all.addAll(export.records());
    }
    return all;
  }

  /** The records whose {@code client.address} attribute is {@code client}. */
  List<ExportedRecord> recordsFrom(String client) {
    return records().stream().filter(r -> client.equals(r.attributes().get("client.address"))).toList();
  }

  /** Waits for a record that matches; empty when none came within {@code timeout}. */
  Optional<ExportedRecord> await(Predicate<ExportedRecord> matcher, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      Optional<ExportedRecord> match = records().stream().filter(matcher).findFirst();
      if (match.isPresent() || System.nanoTime() > deadline) {
        return match;
      }
      Thread.sleep(20);
    }
  }

  private void handle(HttpExchange exchange) throws IOException {
    try (exchange) {
      byte[] raw = exchange.getRequestBody().readAllBytes();
      Map<String, List<String>> headers = new LinkedHashMap<>();
      exchange.getRequestHeaders().forEach((name, values) ->
          headers.put(name.toLowerCase(Locale.ROOT), List.copyOf(values)));
      String encoding = exchange.getRequestHeaders().getFirst("Content-Encoding");
      byte[] body = "gzip".equalsIgnoreCase(encoding) ? gunzip(raw) : raw;
      ExportLogsServiceRequest request = null;
      String error = null;
      try {
        request = ExportLogsServiceRequest.parseFrom(body);
      } catch (IOException e) {
        error = e.toString();
      }
      exports.add(new Export(exchange.getRequestMethod(), exchange.getRequestURI().toString(), headers, raw,
          request, error));
      byte[] answer = ExportLogsServiceResponse.getDefaultInstance().toByteArray();
      exchange.getResponseHeaders().set("Content-Type", "application/x-protobuf");
      exchange.sendResponseHeaders(request == null ? 400 : 200, answer.length == 0 ? -1 : answer.length);
      exchange.getResponseBody().write(answer);
    }
  }

  private static byte[] gunzip(byte[] bytes) throws IOException {
    try (InputStream in = new GZIPInputStream(new ByteArrayInputStream(bytes))) {
      return in.readAllBytes();
    }
  }

  /** An OTLP {@code AnyValue} as a Java value: String, Long, Boolean, Double, or its text form for the rest. */
  static Object value(AnyValue value) {
    return switch (value.getValueCase()) {
      case STRING_VALUE -> value.getStringValue();
      case INT_VALUE -> value.getIntValue();
      case BOOL_VALUE -> value.getBoolValue();
      case DOUBLE_VALUE -> value.getDoubleValue();
      default -> value.toString();
    };
  }

  /** Key-value pairs as an ordered map; a repeated key fails, as it would confuse every backend. */
  static Map<String, Object> attributes(List<KeyValue> pairs) {
    Map<String, Object> map = new LinkedHashMap<>();
    for (KeyValue pair : pairs) {
      if (map.put(pair.getKey(), value(pair.getValue())) != null) {
        throw new AssertionError("attribute " + pair.getKey() + " appears twice in " + pairs);
      }
    }
    return map;
  }

  /**
   * One export request.
   *
   * @param method the HTTP method
   * @param target the request target
   * @param headers header fields, names in lower case
   * @param raw the body exactly as received (before any Content-Encoding was undone)
   * @param request the decoded message, or null when the body did not decode
   * @param error why the body did not decode, or null
   */
  record Export(String method, String target, Map<String, List<String>> headers, byte[] raw,
      ExportLogsServiceRequest request, String error) {
    /** The first value of a header, or null. */
    String header(String name) {
      List<String> values = headers.get(name.toLowerCase(Locale.ROOT));
      return values == null || values.isEmpty() ? null : values.get(0);
    }

    /** The log records in this request, each with its resource and scope. */
    List<ExportedRecord> records() {
      if (request == null) {
        return List.of();
      }
      List<ExportedRecord> records = new ArrayList<>();
      for (ResourceLogs resourceLogs : request.getResourceLogsList()) {
        Map<String, Object> resource = attributes(resourceLogs.getResource().getAttributesList());
        for (ScopeLogs scopeLogs : resourceLogs.getScopeLogsList()) {
          for (LogRecord log : scopeLogs.getLogRecordsList()) {
            records.add(new ExportedRecord(resource, scopeLogs.getScope().getName(), log,
                attributes(log.getAttributesList())));
          }
        }
      }
      return records;
    }
  }

  /**
   * One exported log record.
   *
   * @param resource the resource attributes
   * @param scope the instrumentation scope name
   * @param log the record itself
   * @param attributes the record's attributes, decoded
   */
  record ExportedRecord(Map<String, Object> resource, String scope, LogRecord log, Map<String, Object> attributes) {
    @Override
    public String toString() {
      return "record " + attributes + " event_name=" + log.getEventName() + " body=" + value(log.getBody());
    }
  }
}
