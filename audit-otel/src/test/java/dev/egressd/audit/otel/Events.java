package dev.egressd.audit.otel;

import dev.egressd.audit.AuditEvent;
import dev.egressd.policy.AccessRequest;
import dev.egressd.policy.Decision;
import dev.egressd.policy.Destination;
import dev.egressd.policy.PolicySource;
import dev.egressd.policy.Protocol;
import dev.egressd.policy.Reason;
import dev.egressd.policy.Rule;
import java.time.Instant;

/** Requests, decisions and audit events for the audit-otel tests. */
final class Events {
  static final Instant AT = Instant.parse("2026-11-23T10:15:30.123456789Z");
  static final String CLIENT = "127.0.0.1:5555";

  private Events() {}

  static AccessRequest request(String authority, Protocol protocol, String method) {
    return AccessRequest.of(Destination.parseAuthority(authority), protocol, method, CLIENT);
  }

  static Decision allow() {
    return Decision.allow(Rule.allow("x", "origin"));
  }

  static Decision deny(Reason reason) {
    return Decision.deny(reason, PolicySource.BASELINE_POLICY, null, "hint");
  }

  static AuditEvent.PolicyDecision decision(String authority, Protocol protocol, String method, Decision decision) {
    return new AuditEvent.PolicyDecision(AT, request(authority, protocol, method), decision);
  }

  /** An allowed GET to {@code example.com:port}; distinct ports make the order of a sequence visible. */
  static AuditEvent.PolicyDecision allowedGet(int port) {
    return decision("example.com:" + port, Protocol.HTTP, "GET", allow());
  }
}
