package dev.egressd.config.internal;

import dev.egressd.config.TelemetrySettings;
import dev.egressd.config.TelemetrySettings.Exporter;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.tomlj.TomlTable;

/**
 * Reads {@code [otel]} (the reference's table), {@code [audit]} and {@code [admin]} into {@link TelemetrySettings}.
 *
 * <p>{@code [otel]} keys the reference accepts but egressd has no use for ({@code trace_exporter},
 * {@code metrics_exporter}, {@code log_user_prompt}) and keys neither knows are warnings, not errors: a Codex
 * {@code config.toml} must keep loading when Codex grows a new OTel setting. {@code [audit]} and {@code [admin]}
 * are egressd's own, so an unknown key there is an error.
 */
public final class TelemetryTableReader {
  private static final Set<String> OTEL_KEYS = Set.of("environment", "exporter");
  private static final Set<String> OTEL_IGNORED = Set.of("trace_exporter", "metrics_exporter", "log_user_prompt");
  private static final Set<String> AUDIT_KEYS = Set.of("event_name", "file", "conversation_id", "user_account_id",
      "queue_size");
  private static final Set<String> ADMIN_KEYS = Set.of("listen");
  private static final Set<String> HTTP_KEYS = Set.of("endpoint", "headers", "protocol", "tls");
  private static final Set<String> GRPC_KEYS = Set.of("endpoint", "headers", "tls");
  private static final int DEFAULT_ADMIN_PORT = 9464;
  private static final int MAX_QUEUE_SIZE = 1 << 20;

  private TelemetryTableReader() {}

  /** Reads the three tables from the document root; absent tables keep their defaults. */
  public static TelemetrySettings read(TableNode root, Diagnostics diagnostics) {
    TelemetrySettings d = TelemetrySettings.DEFAULTS;
    Exporter exporter = d.exporter();
    String environment = d.environment();
    TableNode otel = table(root, "otel", diagnostics);
    if (otel != null) {
      for (String key : otel.table().keySet()) {
        if (OTEL_IGNORED.contains(key)) {
          diagnostics.warn(otel.position(key), otel.keyPath(key), "ignored: egressd exports only audit log records"
              + " over OTLP; metrics are served on the admin listener");
        } else if (!OTEL_KEYS.contains(key)) {
          diagnostics.warn(otel.position(key), otel.keyPath(key), "unknown key, ignored"
              + Suggestions.didYouMean(key, new TreeSet<>(OTEL_KEYS)));
        }
      }
      environment = string(otel, "environment", environment, diagnostics);
      if (otel.get("exporter") != null) {
        exporter = exporter(otel, diagnostics);
      }
    }
    String eventName = d.eventName();
    String file = null;
    String conversation = null;
    String account = null;
    int queueSize = d.queueSize();
    TableNode audit = table(root, "audit", diagnostics);
    if (audit != null) {
      rejectUnknown(audit, AUDIT_KEYS, diagnostics);
      eventName = string(audit, "event_name", eventName, diagnostics);
      if (eventName.isBlank()) {
        diagnostics.error(audit.position("event_name"), audit.keyPath("event_name"), "must not be empty");
        eventName = d.eventName();
      }
      file = string(audit, "file", null, diagnostics);
      if (file != null && file.isBlank()) {
        diagnostics.error(audit.position("file"), audit.keyPath("file"),
            "must be a path, or \"-\" for standard output");
        file = null;
      }
      conversation = string(audit, "conversation_id", null, diagnostics);
      account = string(audit, "user_account_id", null, diagnostics);
      Object size = audit.get("queue_size");
      if (size != null) {
        if (!(size instanceof Long n) || n < 1 || n > MAX_QUEUE_SIZE) {
          diagnostics.error(audit.position("queue_size"), audit.keyPath("queue_size"),
              "expected an integer from 1 to " + MAX_QUEUE_SIZE + ", found " + (size instanceof Long ? size
                  : describe(size)));
        } else {
          queueSize = (int) (long) n;
        }
      }
    }
    InetSocketAddress admin = null;
    TableNode adminTable = table(root, "admin", diagnostics);
    if (adminTable != null) {
      rejectUnknown(adminTable, ADMIN_KEYS, diagnostics);
      String listen = string(adminTable, "listen", null, diagnostics);
      if (listen != null) {
        admin = adminAddress(adminTable, listen, diagnostics);
      }
    }
    return new TelemetrySettings(exporter, environment, eventName, file, conversation, account, queueSize, admin);
  }

  /**
   * Parses an admin listen address: loopback only, with no opt-out, because {@code /metrics} describes what the
   * agent tried to reach.
   *
   * @throws IllegalArgumentException naming the input
   */
  public static InetSocketAddress adminAddress(String input) {
    List<String> warnings = new ArrayList<>();
    InetSocketAddress address = ListenAddresses.parse(input, DEFAULT_ADMIN_PORT, true, warnings);
    // A host name other than localhost comes back as 127.0.0.1 with a warning; dropping that warning would
    // silently correct the address.
    if (!address.getAddress().isLoopbackAddress() || !warnings.isEmpty()) {
      throw new IllegalArgumentException("the admin listener must be on a loopback address, got \"" + input + "\"");
    }
    return address;
  }

  private static InetSocketAddress adminAddress(TableNode table, String input, Diagnostics diagnostics) {
    try {
      return adminAddress(input);
    } catch (IllegalArgumentException e) {
      diagnostics.error(table.position("listen"), table.keyPath("listen"), e.getMessage());
      return null;
    }
  }

  private static Exporter exporter(TableNode otel, Diagnostics diagnostics) {
    Object value = otel.get("exporter");
    String key = otel.keyPath("exporter");
    if (value instanceof String s) {
      if (s.equals("none")) {
        return new Exporter.None();
      }
      diagnostics.error(otel.position("exporter"), key, "unsupported exporter \"" + s + "\" (expected \"none\","
          + " { otlp-http = { endpoint = \"...\" } } or { otlp-grpc = { endpoint = \"...\" } })");
      return new Exporter.None();
    }
    if (!(value instanceof TomlTable table) || table.size() != 1) {
      diagnostics.error(otel.position("exporter"), key, "expected \"none\" or a table with exactly one of"
          + " otlp-http, otlp-grpc, found " + describe(value));
      return new Exporter.None();
    }
    TableNode node = otel.child("exporter");
    String kind = table.keySet().iterator().next();
    if (!kind.equals("otlp-http") && !kind.equals("otlp-grpc")) {
      diagnostics.error(node.position(kind), node.keyPath(kind), "unsupported exporter" + Suggestions.didYouMean(
          kind, new TreeSet<>(Set.of("otlp-http", "otlp-grpc"))));
      return new Exporter.None();
    }
    TableNode settings = table(node, kind, diagnostics);
    if (settings == null) {
      return new Exporter.None();
    }
    boolean http = kind.equals("otlp-http");
    rejectUnknown(settings, http ? HTTP_KEYS : GRPC_KEYS, diagnostics);
    if (settings.get("tls") != null) {
      diagnostics.error(settings.position("tls"), settings.keyPath("tls"), "not supported: egressd verifies the"
          + " collector against the JDK trust store; use an https endpoint with a trusted certificate");
    }
    if (settings.get("endpoint") == null) {
      diagnostics.error(node.position(kind), settings.keyPath("endpoint"), "missing (e.g. \"http://127.0.0.1:"
          + (http ? "4318/v1/logs" : "4317") + "\")");
      return new Exporter.None();
    }
    String endpoint = string(settings, "endpoint", null, diagnostics);
    if (endpoint == null) {
      return new Exporter.None();
    }
    if (!validEndpoint(endpoint)) {
      diagnostics.error(settings.position("endpoint"), settings.keyPath("endpoint"),
          "expected an http:// or https:// URL with a host, found \"" + endpoint + "\"");
    }
    Map<String, String> headers = headers(settings, diagnostics);
    if (!http) {
      return new Exporter.OtlpGrpc(endpoint, headers);
    }
    String protocol = string(settings, "protocol", "binary", diagnostics);
    if (!protocol.equals("binary") && !protocol.equals("json")) {
      diagnostics.error(settings.position("protocol"), settings.keyPath("protocol"),
          "expected \"binary\" or \"json\", found \"" + protocol + "\"");
    }
    return new Exporter.OtlpHttp(endpoint, headers, protocol.equals("json"));
  }

  private static boolean validEndpoint(String endpoint) {
    try {
      URI uri = new URI(endpoint);
      return ("http".equals(uri.getScheme()) || "https".equals(uri.getScheme())) && uri.getHost() != null;
    } catch (URISyntaxException e) {
      return false;
    }
  }

  private static Map<String, String> headers(TableNode settings, Diagnostics diagnostics) {
    Map<String, String> headers = new LinkedHashMap<>();
    TableNode table = table(settings, "headers", diagnostics);
    if (table == null) {
      return headers;
    }
    for (String name : table.table().keySet()) {
      Object value = table.get(name);
      if (value instanceof String s) {
        headers.put(name, s);
      } else {
        // Never echo the value: headers carry API keys.
        diagnostics.error(table.position(name), table.keyPath(name), "expected a string, found " + describe(value));
      }
    }
    return headers;
  }

  private static TableNode table(TableNode parent, String key, Diagnostics diagnostics) {
    Object value = parent.get(key);
    if (value == null) {
      return null;
    }
    if (!(value instanceof TomlTable)) {
      diagnostics.error(parent.position(key), parent.keyPath(key), "expected a table, found " + describe(value));
      return null;
    }
    return parent.child(key);
  }

  private static String string(TableNode table, String key, String fallback, Diagnostics diagnostics) {
    Object value = table.get(key);
    if (value == null) {
      return fallback;
    }
    if (!(value instanceof String s)) {
      diagnostics.error(table.position(key), table.keyPath(key), "expected a string, found " + describe(value));
      return fallback;
    }
    return s;
  }

  private static void rejectUnknown(TableNode table, Set<String> known, Diagnostics diagnostics) {
    List<String> keys = new ArrayList<>(table.table().keySet());
    for (String key : keys) {
      if (!known.contains(key)) {
        diagnostics.error(table.position(key), table.keyPath(key),
            "unknown key" + Suggestions.didYouMean(key, new TreeSet<>(known)));
      }
    }
  }

  private static String describe(Object value) {
    return TableNode.typeOf(value);
  }
}
