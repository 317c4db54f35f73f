package dev.egressd.config;

import dev.egressd.config.internal.TelemetryTableReader;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;

/**
 * Where audit events, metrics and health go: the {@code [otel]} table (the reference's format), egressd's
 * {@code [audit]} table and its {@code [admin]} table.
 *
 * @param exporter where OTel log records (the audit events) are exported; {@link Exporter.None} by default
 * @param environment {@code [otel] environment}, exported as the {@code deployment.environment.name} resource
 *     attribute
 * @param eventName the audit event's name, {@code codex.network_proxy.policy_decision} by default
 * @param auditFile a JSON-lines file that receives one object per decision, {@code -} for standard output, or null
 * @param conversationId the {@code conversation.id} attribute, or null
 * @param userAccountId the {@code user.account_id} attribute, or null
 * @param queueSize how many audit events may wait for export before new ones are dropped (and counted)
 * @param adminListen the loopback address of the admin listener ({@code /metrics}, {@code /healthz},
 *     {@code /readyz}), or null when it is off (the default)
 */
public record TelemetrySettings(Exporter exporter, String environment, String eventName, String auditFile,
    String conversationId, String userAccountId, int queueSize, InetSocketAddress adminListen) {

  /** The reference's audit event name, so existing dashboards and queries keep working. */
  public static final String DEFAULT_EVENT_NAME = "codex.network_proxy.policy_decision";

  /** The default audit queue capacity. */
  public static final int DEFAULT_QUEUE_SIZE = 8192;

  /** No export, no audit file, no admin listener. */
  public static final TelemetrySettings DEFAULTS = new TelemetrySettings(new Exporter.None(), "dev",
      DEFAULT_EVENT_NAME, null, null, null, DEFAULT_QUEUE_SIZE, null);

  /** Null checks and range checks. */
  public TelemetrySettings {
    Objects.requireNonNull(exporter, "exporter");
    Objects.requireNonNull(environment, "environment");
    Objects.requireNonNull(eventName, "eventName");
    if (queueSize < 1) {
      throw new IllegalArgumentException("queueSize: " + queueSize + " (expected: >= 1)");
    }
  }

  /**
   * Parses an admin listen address ({@code [admin] listen}, {@code --admin-listen}): host and port as for the proxy
   * listeners, default port 9464, and loopback only, with no opt-out.
   *
   * @throws IllegalArgumentException naming the input
   */
  public static InetSocketAddress parseAdminAddress(String input) {
    return TelemetryTableReader.adminAddress(input);
  }

  /** A copy writing the audit file {@code path} ({@code -} for standard output). */
  public TelemetrySettings withAuditFile(String path) {
    return new TelemetrySettings(exporter, environment, eventName, path, conversationId, userAccountId, queueSize,
        adminListen);
  }

  /** A copy with the admin listener at {@code address} (null turns it off). */
  public TelemetrySettings withAdminListen(InetSocketAddress address) {
    return new TelemetrySettings(exporter, environment, eventName, auditFile, conversationId, userAccountId,
        queueSize, address);
  }

  /** The audit file as a path, or null when there is none or it is standard output. */
  public Path auditPath() {
    return auditFile == null || auditFile.equals("-") ? null : Path.of(auditFile);
  }

  /** Where OTel log records are exported. */
  public sealed interface Exporter {
    /** No export from the config; the standard {@code OTEL_*} environment variables may still enable it. */
    record None() implements Exporter {}

    /**
     * OTLP over HTTP.
     *
     * @param endpoint the logs endpoint URL, e.g. {@code http://127.0.0.1:4318/v1/logs}
     * @param headers extra request headers (e.g. an API key)
     * @param json true for {@code protocol = "json"}, false for {@code "binary"} (protobuf, the default)
     */
    record OtlpHttp(String endpoint, Map<String, String> headers, boolean json) implements Exporter {
      /** Null checks and a defensive copy. */
      public OtlpHttp {
        Objects.requireNonNull(endpoint, "endpoint");
        headers = Map.copyOf(headers);
      }

      @Override
      public String toString() {
        return "OtlpHttp[endpoint=" + endpoint + ", headers=" + headers.keySet() + ", json=" + json + "]";
      }
    }

    /**
     * OTLP over gRPC.
     *
     * @param endpoint the collector URL, e.g. {@code http://127.0.0.1:4317}
     * @param headers extra request metadata
     */
    record OtlpGrpc(String endpoint, Map<String, String> headers) implements Exporter {
      /** Null checks and a defensive copy. */
      public OtlpGrpc {
        Objects.requireNonNull(endpoint, "endpoint");
        headers = Map.copyOf(headers);
      }

      @Override
      public String toString() {
        return "OtlpGrpc[endpoint=" + endpoint + ", headers=" + headers.keySet() + "]";
      }
    }
  }
}
