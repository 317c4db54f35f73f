package dev.egressd.proxy.testing;

import dev.egressd.audit.AuditEvent;
import dev.egressd.audit.AuditSink;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** Records every audit event for assertions on the whole sequence. */
public final class RecordingAuditSink implements AuditSink {
  private final List<AuditEvent> events = new CopyOnWriteArrayList<>();

  @Override
  public void record(AuditEvent event) {
    events.add(event);
  }

  public List<AuditEvent> events() {
    return List.copyOf(events);
  }

  public List<AuditEvent.PolicyDecision> decisions() {
    return events.stream().filter(AuditEvent.PolicyDecision.class::isInstance)
        .map(AuditEvent.PolicyDecision.class::cast).toList();
  }
}
