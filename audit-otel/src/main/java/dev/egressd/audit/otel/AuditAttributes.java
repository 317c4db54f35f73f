package dev.egressd.audit.otel;

import dev.egressd.audit.AuditEvent;
import dev.egressd.policy.AccessRequest;
import dev.egressd.policy.Decision;
import dev.egressd.policy.PolicySource;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The attributes of one policy-decision audit event, named as the reference names them so existing dashboards and
 * queries work. The OTel log record and the JSON-lines file carry exactly these. Built only from the host, port,
 * method, protocol and client address: a URL path, query, header value or credential never reaches an event.
 */
public final class AuditAttributes {
  /** RFC 3339, UTC, milliseconds: {@code 2026-11-23T10:15:30.123Z}. */
  static final DateTimeFormatter TIMESTAMP = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'")
      .withZone(ZoneOffset.UTC);

  /** The id shared by every event of one client connection (absent for {@code check}). */
  public static final String CONNECTION_ID = "egressd.connection.id";

  /** The name of the credential whose stand-in a refused request carried ({@code credential_misuse}). */
  public static final String CREDENTIAL = "egressd.credential";

  /** {@code true} on report mode's allow of a request the policy refuses. */
  public static final String WOULD_DENY = "egressd.would_deny";

  private AuditAttributes() {}

  /**
   * The attributes in a stable order; values are {@link String}, {@link Long} or {@link Boolean}.
   *
   * @param eventName the {@code event.name} value
   */
  public static Map<String, Object> of(AuditEvent.PolicyDecision event, String eventName, AuditMetadata metadata) {
    AccessRequest request = event.request();
    Decision decision = event.decision();
    Map<String, Object> attributes = new LinkedHashMap<>();
    attributes.put("event.name", eventName);
    attributes.put("event.timestamp", TIMESTAMP.format(event.timestamp()));
    attributes.put("network.policy.scope", scope(decision.source()));
    attributes.put("network.policy.decision", decision.verdict().label());
    attributes.put("network.policy.source", decision.source().label());
    attributes.put("network.policy.reason", decision.reasonLabel()); // a decider's own text, sanitised
    attributes.put("network.transport.protocol", request.protocol().label());
    attributes.put("server.address", request.destination().host().value());
    attributes.put("server.port", (long) request.destination().port());
    attributes.put("http.request.method", request.method() == null ? "none" : request.method());
    attributes.put("client.address", request.client());
    if (request.executionId() != null) {
      attributes.put("execution.id", request.executionId()); // the run this connection is known to come from
    }
    attributes.put("network.policy.override", decision.overridden());
    if (decision.allowed() && event.route() != null) {
      attributes.put("network.route", event.route().label());
    }
    if (decision.reported()) {
      attributes.put(WOULD_DENY, true); // report mode let it through; the reason is why it would have been refused
    }
    if (decision.credential() != null) {
      attributes.put(CREDENTIAL, decision.credential()); // the name only: values never reach an audit record
    }
    if (request.connectionId() != AccessRequest.NO_CONNECTION) {
      attributes.put(CONNECTION_ID, request.connectionId()); // an egressd extension: joins one connection's events
    }
    putIfPresent(attributes, "conversation.id", metadata.conversationId());
    putIfPresent(attributes, "app.version", metadata.appVersion());
    putIfPresent(attributes, "user.account_id", metadata.userAccountId());
    return Collections.unmodifiableMap(attributes);
  }

  /**
   * {@code domain} for decisions about the destination (host rules, local-address check, decider);
   * {@code non_domain} for decisions about everything else (mode guard, proxy state), as the reference scopes them.
   */
  static String scope(PolicySource source) {
    return source == PolicySource.BASELINE_POLICY || source == PolicySource.DECIDER
        || source == PolicySource.APPROVAL ? "domain" : "non_domain";
  }

  private static void putIfPresent(Map<String, Object> attributes, String key, String value) {
    if (value != null && !value.isEmpty()) {
      attributes.put(key, value);
    }
  }
}
