package dev.egressd.audit.otel;

import static org.assertj.core.api.Assertions.assertThat;

import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.logs.data.LogRecordData;
import io.opentelemetry.sdk.logs.export.LogRecordExporter;
import io.opentelemetry.sdk.testing.exporter.InMemoryLogRecordExporter;
import io.opentelemetry.sdk.testing.logs.TestLogRecordData;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The count of records a batch processor still holds, kept below the processor's queue size. */
class ExportBudgetTest {
  @Test
  void refusesOnceCapacityRecordsAreUnexportedAndAllowsOneMorePerExportedRecord() {
    ExportBudget budget = new ExportBudget(3);
    LogRecordExporter tracked = budget.track(InMemoryLogRecordExporter.create());

    assertThat(acquireAll(budget, 10)).isEqualTo(3);
    assertThat(budget.pending()).isEqualTo(3);

    tracked.export(batch(2));

    assertThat(budget.pending()).isEqualTo(1);
    assertThat(acquireAll(budget, 10)).isEqualTo(2);
    assertThat(budget.pending()).isEqualTo(3);
  }

  @Test
  void refusedAcquisitionsAreNotCountedAsEmitted() {
    ExportBudget budget = new ExportBudget(2);
    LogRecordExporter tracked = budget.track(InMemoryLogRecordExporter.create());
    acquireAll(budget, 2);
    for (int i = 0; i < 100; i++) {
      assertThat(budget.tryAcquire()).isFalse();
    }

    tracked.export(batch(1));

    assertThat(acquireAll(budget, 10)).isEqualTo(1);
  }

  @Test
  void theSlowestExporterSetsTheBudget() {
    ExportBudget budget = new ExportBudget(2);
    LogRecordExporter fast = budget.track(InMemoryLogRecordExporter.create());
    budget.track(InMemoryLogRecordExporter.create());
    acquireAll(budget, 2);

    fast.export(batch(2));

    assertThat(budget.tryAcquire()).isFalse();
    assertThat(budget.pending()).isEqualTo(2);
  }

  @Test
  void withoutTrackedExportersNothingIsRefused() {
    ExportBudget budget = new ExportBudget(1);

    assertThat(acquireAll(budget, 1000)).isEqualTo(1000);
    assertThat(budget.pending()).isZero();
  }

  @Test
  void anExporterTrackedLaterStartsWithNothingPending() {
    ExportBudget budget = new ExportBudget(2);
    acquireAll(budget, 5);

    budget.track(InMemoryLogRecordExporter.create());

    assertThat(budget.pending()).isZero();
    assertThat(acquireAll(budget, 10)).isEqualTo(2);
  }

  @Test
  void trackedExporterDelegatesEveryCall() {
    AtomicInteger flushes = new AtomicInteger();
    AtomicInteger shutdowns = new AtomicInteger();
    InMemoryLogRecordExporter memory = InMemoryLogRecordExporter.create();
    LogRecordExporter inner = new LogRecordExporter() {
      @Override
      public CompletableResultCode export(Collection<LogRecordData> logs) {
        return memory.export(logs);
      }

      @Override
      public CompletableResultCode flush() {
        flushes.incrementAndGet();
        return CompletableResultCode.ofSuccess();
      }

      @Override
      public CompletableResultCode shutdown() {
        shutdowns.incrementAndGet();
        return CompletableResultCode.ofFailure();
      }

      @Override
      public String toString() {
        return "Inner";
      }
    };
    LogRecordExporter tracked = new ExportBudget(4).track(inner);
    List<LogRecordData> logs = batch(3);

    assertThat(tracked.export(logs).isSuccess()).isTrue();
    assertThat(tracked.flush().isSuccess()).isTrue();
    assertThat(tracked.shutdown().isSuccess()).as("the inner result is passed on").isFalse();
    assertThat(memory.getFinishedLogRecordItems()).containsExactlyElementsOf(logs);
    assertThat(flushes).hasValue(1);
    assertThat(shutdowns).hasValue(1);
    assertThat(tracked).hasToString("Counted{Inner}");
  }

  private static int acquireAll(ExportBudget budget, int attempts) {
    int acquired = 0;
    for (int i = 0; i < attempts; i++) {
      if (budget.tryAcquire()) {
        acquired++;
      }
    }
    return acquired;
  }

  static List<LogRecordData> batch(int n) {
    return Collections.nCopies(n, TestLogRecordData.builder().setBody("x").build());
  }
}
