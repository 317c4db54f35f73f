package dev.egressd.audit.otel;

import static org.assertj.core.api.Assertions.assertThat;

import dev.egressd.policy.Decision;
import dev.egressd.policy.PolicySource;
import dev.egressd.policy.Protocol;
import dev.egressd.policy.Reason;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.AttributeType;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.logs.Severity;
import io.opentelemetry.sdk.logs.SdkLoggerProvider;
import io.opentelemetry.sdk.logs.data.LogRecordData;
import io.opentelemetry.sdk.logs.export.BatchLogRecordProcessor;
import io.opentelemetry.sdk.logs.export.SimpleLogRecordProcessor;
import io.opentelemetry.sdk.testing.exporter.InMemoryLogRecordExporter;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Decisions as OTel log records through the SDK's batch processor, within the export budget. */
@Timeout(30)
class OtelDecisionWriterTest {
  private static final int QUEUE = 8;

  private final InMemoryLogRecordExporter exporter = InMemoryLogRecordExporter.create();
  private final ExportBudget budget = new ExportBudget(QUEUE);
  private final LongAdder dropped = new LongAdder();
  private final SdkLoggerProvider provider = SdkLoggerProvider.builder()
      .addLogRecordProcessor(BatchLogRecordProcessor.builder(budget.track(exporter))
          // Room for twice the budget, so a full queue never triggers an export of its own: exports happen only
          // at the test's flushes, which makes the order and the budget's release deterministic.
          .setMaxQueueSize(2 * QUEUE).setMaxExportBatchSize(2 * QUEUE).setScheduleDelay(Duration.ofHours(1))
          .build())
      .build();
  private final OtelDecisionWriter writer = new OtelDecisionWriter(provider.get("dev.egressd"), budget, dropped);

  @AfterEach
  void tearDown() {
    provider.shutdown().join(10, TimeUnit.SECONDS);
  }

  @Test
  void recordIsAnEventWithEveryAttributeTyped() {
    Map<String, Object> attributes = AuditAttributes.of(Events.decision("api.example.com:8443",
        Protocol.SOCKS5_TCP, null, Events.deny(Reason.NOT_ALLOWED)), "codex.network_proxy.policy_decision",
        new AuditMetadata("1.2.3", "conv-1", "acct-1"));

    writer.write(attributes);
    flushUntilExported(1);

    LogRecordData record = single();
    assertThat(record.getEventName()).isEqualTo("codex.network_proxy.policy_decision");
    assertThat(record.getSeverity()).isEqualTo(Severity.INFO);
    assertThat(record.getSeverityText()).isEqualTo("INFO");
    assertThat(record.getBodyValue().asString()).isEqualTo("codex.network_proxy.policy_decision");
    assertThat(record.getTimestampEpochNanos())
        .isEqualTo(TimeUnit.MILLISECONDS.toNanos(Instant.parse("2026-11-23T10:15:30.123Z").toEpochMilli()));
    assertThat(record.getInstrumentationScopeInfo().getName()).isEqualTo("dev.egressd");
    Attributes exported = record.getAttributes();
    assertThat(exported.size()).isEqualTo(attributes.size());
    assertThat(exported.get(AttributeKey.longKey("server.port"))).isEqualTo(8443L);
    assertThat(exported.get(AttributeKey.booleanKey("network.policy.override"))).isFalse();
    assertThat(exported.get(AttributeKey.stringKey("server.address"))).isEqualTo("api.example.com");
    assertThat(exported.get(AttributeKey.stringKey("http.request.method"))).isEqualTo("none");
    assertThat(exported.get(AttributeKey.stringKey("network.policy.reason"))).isEqualTo("not_allowed");
    assertThat(exported.get(AttributeKey.stringKey("conversation.id"))).isEqualTo("conv-1");
    exported.forEach((key, value) -> {
      AttributeType expected = switch (key.getKey()) {
        case "server.port" -> AttributeType.LONG;
        case "network.policy.override" -> AttributeType.BOOLEAN;
        default -> AttributeType.STRING;
      };
      assertThat(key.getType()).as(key.getKey()).isEqualTo(expected);
      assertThat(value).as(key.getKey()).isEqualTo(attributes.get(key.getKey()));
    });
  }

  @Test
  void overrideIsExportedAsABooleanTrue() {
    writer.write(AuditAttributes.of(Events.decision("a.example:1", Protocol.HTTP, "GET",
        new Decision(Decision.Verdict.ALLOW, Reason.ALLOW, PolicySource.DECIDER, Optional.empty(), "")), "e",
        AuditMetadata.NONE));
    flushUntilExported(1);

    assertThat(single().getAttributes().get(AttributeKey.booleanKey("network.policy.override"))).isTrue();
  }

  @Test
  void recordsArriveInOrderAndLeaveTheBudgetOnceExported() {
    IntStream.rangeClosed(1, QUEUE).forEach(port -> writer.write(attributes(port)));
    flushUntilExported(QUEUE);
    IntStream.rangeClosed(QUEUE + 1, 2 * QUEUE).forEach(port -> writer.write(attributes(port)));
    flushUntilExported(2 * QUEUE);

    assertThat(exporter.getFinishedLogRecordItems())
        .extracting(r -> r.getAttributes().get(AttributeKey.longKey("server.port")))
        .containsExactlyElementsOf(IntStream.rangeClosed(1, 2 * QUEUE).mapToObj(p -> (long) p).toList());
    assertThat(dropped.sum()).isZero();
    assertThat(budget.pending()).isZero();
  }

  @Test
  void writesBeyondTheBudgetAreDroppedAndCounted() {
    InMemoryLogRecordExporter emitted = InMemoryLogRecordExporter.create();
    ExportBudget small = new ExportBudget(2);
    small.track(InMemoryLogRecordExporter.create()); // a processor that never exports
    LongAdder drops = new LongAdder();
    try (SdkLoggerProvider direct = SdkLoggerProvider.builder()
        .addLogRecordProcessor(SimpleLogRecordProcessor.create(emitted)).build()) {
      OtelDecisionWriter limited = new OtelDecisionWriter(direct.get("dev.egressd"), small, drops);

      IntStream.rangeClosed(1, 5).forEach(port -> limited.write(attributes(port)));

      assertThat(emitted.getFinishedLogRecordItems())
          .extracting(r -> r.getAttributes().get(AttributeKey.longKey("server.port")))
          .containsExactly(1L, 2L);
      assertThat(drops.sum()).isEqualTo(3);
    }
  }

  private static Map<String, Object> attributes(int port) {
    return AuditAttributes.of(Events.allowedGet(port), "e", AuditMetadata.NONE);
  }

  /**
   * Flushes until {@code expected} records have been exported. One forceFlush is not enough: right after a flush
   * completes, the batch processor's worker may not yet have cleared its pending-flush slot, and a forceFlush in that
   * window returns the old, already completed result without exporting anything.
   */
  private void flushUntilExported(int expected) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    do {
      assertThat(provider.forceFlush().join(10, TimeUnit.SECONDS).isSuccess()).isTrue();
      if (exporter.getFinishedLogRecordItems().size() >= expected) {
        return;
      }
      Thread.onSpinWait();
    } while (System.nanoTime() < deadline);
    assertThat(exporter.getFinishedLogRecordItems()).as("records exported within 10 s").hasSize(expected);
  }

  private LogRecordData single() {
    List<LogRecordData> records = exporter.getFinishedLogRecordItems();
    assertThat(records).hasSize(1);
    return records.get(0);
  }
}
