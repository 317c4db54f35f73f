package dev.egressd.audit;

/**
 * Receives audit events. Called on the proxy's event loops: implementations must not block; queue and drop rather
 * than wait.
 */
@FunctionalInterface
public interface AuditSink {
  /** Discards every event. */
  AuditSink NONE = event -> {};

  /** Accepts one event; must not throw and must not block. */
  void record(AuditEvent event);
}
