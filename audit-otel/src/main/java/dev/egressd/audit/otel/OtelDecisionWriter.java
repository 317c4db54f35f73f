package dev.egressd.audit.otel;

import io.opentelemetry.api.logs.Logger;
import io.opentelemetry.api.logs.Severity;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/**
 * Emits each decision as an OTel log record (an event) named after {@code event.name}. The SDK's batch processor
 * drops silently when its queue is full; {@link ExportBudget} keeps this writer from ever filling it, so every drop
 * happens here and is counted.
 */
final class OtelDecisionWriter implements DecisionWriter {
  private final Logger logger;
  private final ExportBudget budget;
  private final LongAdder dropped;

  OtelDecisionWriter(Logger logger, ExportBudget budget, LongAdder dropped) {
    this.logger = logger;
    this.budget = budget;
    this.dropped = dropped;
  }

  @Override
  public void write(Map<String, Object> attributes) {
    if (!budget.tryAcquire()) {
      dropped.increment();
      return;
    }
    String name = (String) attributes.get("event.name");
    var record = logger.logRecordBuilder()
        .setEventName(name)
        .setSeverity(Severity.INFO)
        .setSeverityText("INFO")
        .setBody(name);
    for (Map.Entry<String, Object> e : attributes.entrySet()) {
      Object value = e.getValue();
      if (value instanceof Long n) {
        record.setAttribute(e.getKey(), (long) n);
      } else if (value instanceof Boolean b) {
        record.setAttribute(e.getKey(), (boolean) b);
      } else {
        record.setAttribute(e.getKey(), String.valueOf(value));
      }
    }
    record.setTimestamp(Instant.parse((String) attributes.get("event.timestamp"))).emit();
  }
}
