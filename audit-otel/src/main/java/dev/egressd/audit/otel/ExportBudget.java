package dev.egressd.audit.otel;

import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.logs.data.LogRecordData;
import io.opentelemetry.sdk.logs.export.LogRecordExporter;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Tracks how many emitted records each batch processor still holds (emitted minus handed to its exporter), so the
 * emitter can stop before a processor's queue is full: the SDK would drop the record without telling anyone.
 * Every exporter is wrapped by {@link #track}; with several exporters the slowest one sets the budget.
 */
final class ExportBudget {
  private final int capacity;
  private final AtomicLong emitted = new AtomicLong();
  private final List<AtomicLong> handed = new CopyOnWriteArrayList<>();

  /** @param capacity the batch processors' queue size ({@code otel.blrp.max.queue.size}) */
  ExportBudget(int capacity) {
    this.capacity = capacity;
  }

  /** Counts one record as emitted unless every processor has room; false means the caller must drop it. */
  boolean tryAcquire() {
    long slowest = Long.MAX_VALUE;
    for (AtomicLong h : handed) {
      slowest = Math.min(slowest, h.get());
    }
    if (slowest != Long.MAX_VALUE && emitted.get() - slowest >= capacity) {
      return false;
    }
    emitted.incrementAndGet();
    return true;
  }

  /** Records still held by the slowest processor, for tests and diagnostics. */
  long pending() {
    long slowest = Long.MAX_VALUE;
    for (AtomicLong h : handed) {
      slowest = Math.min(slowest, h.get());
    }
    return slowest == Long.MAX_VALUE ? 0 : emitted.get() - slowest;
  }

  /** Wraps {@code exporter} so that every batch it is handed counts as having left the processor's queue. */
  LogRecordExporter track(LogRecordExporter exporter) {
    AtomicLong count = new AtomicLong(emitted.get());
    handed.add(count);
    return new LogRecordExporter() {
      @Override
      public CompletableResultCode export(Collection<LogRecordData> logs) {
        count.addAndGet(logs.size());
        return exporter.export(logs);
      }

      @Override
      public CompletableResultCode flush() {
        return exporter.flush();
      }

      @Override
      public CompletableResultCode shutdown() {
        return exporter.shutdown();
      }

      @Override
      public String toString() {
        return "Counted{" + exporter + "}";
      }
    };
  }
}
