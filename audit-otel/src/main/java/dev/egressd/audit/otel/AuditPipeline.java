package dev.egressd.audit.otel;

import dev.egressd.audit.AuditEvent;
import dev.egressd.audit.AuditSink;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The audit sink the proxy records to. On the calling event loop it only updates metrics and offers the decision
 * to a bounded queue (when the queue is full the event is dropped and counted, never waited for); one worker
 * thread turns decisions into attributes and hands them to the writers (OTel, JSON lines), so a slow disk or a
 * dead collector never reaches the proxy.
 */
final class AuditPipeline implements AuditSink, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(AuditPipeline.class);

  private final List<DecisionWriter> writers;
  private final ProxyInstruments instruments;
  private final String eventName;
  private final AuditMetadata metadata;
  private final LongAdder dropped;
  private final BoundedWorker<AuditEvent.PolicyDecision> worker;
  private boolean writerFailed;

  AuditPipeline(int capacity, List<DecisionWriter> writers, ProxyInstruments instruments, String eventName,
      AuditMetadata metadata, LongAdder dropped) {
    this.writers = List.copyOf(writers);
    this.instruments = instruments;
    this.eventName = eventName;
    this.metadata = metadata;
    this.dropped = dropped;
    // Last: the worker thread starts here and uses the fields above.
    this.worker = new BoundedWorker<>("egressd-audit", capacity, Duration.ZERO, dropped, this::writeBatch, () -> {});
  }

  @Override
  public void record(AuditEvent event) {
    instruments.observe(event);
    if (event instanceof AuditEvent.PolicyDecision decision && !writers.isEmpty()) {
      worker.offer(decision);
    }
  }

  private void writeBatch(List<AuditEvent.PolicyDecision> batch, BooleanSupplier queueEmpty) {
    for (AuditEvent.PolicyDecision decision : batch) {
      Map<String, Object> attributes = AuditAttributes.of(decision, eventName, metadata);
      for (DecisionWriter writer : writers) {
        write(writer, attributes);
      }
    }
    if (queueEmpty.getAsBoolean()) {
      writers.forEach(DecisionWriter::flush);
    }
  }

  /** One writer failing loses that one event for that writer only, and the loss is counted. */
  private void write(DecisionWriter writer, Map<String, Object> attributes) {
    try {
      writer.write(attributes);
    } catch (RuntimeException e) {
      dropped.increment();
      if (!writerFailed) {
        writerFailed = true;
        log.warn("audit writer {} failed; the event is counted as dropped: {}", writer, e.toString());
      }
    }
  }

  /** Writes what is queued (waiting at most {@code timeout}), then closes the writers. */
  void close(Duration timeout) {
    BoundedWorker.Closed closed = worker.close(timeout);
    if (!closed.finished()) {
      log.warn("{} audit events were not written before shutdown", closed.left());
    }
    writers.forEach(DecisionWriter::close);
  }

  @Override
  public void close() {
    close(Duration.ofSeconds(5));
  }
}
