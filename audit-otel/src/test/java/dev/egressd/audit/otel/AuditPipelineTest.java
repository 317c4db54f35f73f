package dev.egressd.audit.otel;

import static dev.egressd.audit.otel.Events.AT;
import static dev.egressd.audit.otel.Events.allowedGet;
import static org.assertj.core.api.Assertions.assertThat;

import dev.egressd.audit.AuditEvent;
import dev.egressd.policy.Protocol;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.sdk.metrics.SdkMeterProvider;
import io.opentelemetry.sdk.testing.exporter.InMemoryMetricReader;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.stream.IntStream;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The bounded queue between the event loops and the writers: order, drops, metrics and shutdown. */
@Timeout(30)
class AuditPipelineTest {
  private static final String EVENT = "test.event";

  private final InMemoryMetricReader reader = InMemoryMetricReader.create();
  private final SdkMeterProvider meters = SdkMeterProvider.builder().registerMetricReader(reader).build();
  private final LongAdder dropped = new LongAdder();
  private final ProxyInstruments instruments = new ProxyInstruments(meters.get("test"), dropped);
  private final List<AuditPipeline> pipelines = new ArrayList<>();
  private final List<CountDownLatch> releases = new ArrayList<>();

  @AfterEach
  void tearDown() {
    releases.forEach(CountDownLatch::countDown);
    pipelines.forEach(AuditPipeline::close);
    meters.close();
  }

  @Test
  void decisionsReachEveryWriterInOrderOnTheWorkerThread() {
    RecordingWriter first = new RecordingWriter();
    RecordingWriter second = new RecordingWriter();
    AuditPipeline pipeline = pipeline(1024, first, second);
    List<AuditEvent.PolicyDecision> events = IntStream.rangeClosed(1, 600).mapToObj(Events::allowedGet).toList();

    events.forEach(pipeline::record);
    pipeline.close();

    List<Map<String, Object>> expected = events.stream()
        .map(e -> AuditAttributes.of(e, EVENT, AuditMetadata.NONE)).toList();
    assertThat(first.written).containsExactlyElementsOf(expected);
    assertThat(second.written).containsExactlyElementsOf(expected);
    assertThat(first.threads).containsOnly("egressd-audit");
    assertThat(dropped.sum()).isZero();
  }

  @Test
  void fullQueueDropsAndCountsExactlyTheOverflow() throws InterruptedException {
    int capacity = 4;
    RecordingWriter writer = RecordingWriter.blockingOnFirstWrite();
    releases.add(writer.release);
    AuditPipeline pipeline = pipeline(capacity, writer);
    pipeline.record(allowedGet(1));
    // The worker has taken event 1 off the queue and is stuck writing it, so the queue is empty now.
    assertThat(writer.entered.await(10, TimeUnit.SECONDS)).isTrue();

    IntStream.rangeClosed(2, 1 + capacity + 3).forEach(port -> pipeline.record(allowedGet(port)));

    assertThat(dropped.sum()).isEqualTo(3);
    writer.release.countDown();
    pipeline.close();
    assertThat(writer.ports()).containsExactly(1L, 2L, 3L, 4L, 5L);
    assertThat(dropped.sum()).isEqualTo(3);
    MetricValues metrics = MetricValues.collect(reader);
    assertThat(metrics.longSums("egressd.audit.dropped")).containsExactly(Map.entry(Attributes.empty(), 3L));
    assertThat(metrics.longSums("egressd.decisions").values()).as("dropped events are still counted as decisions")
        .containsExactly(8L);
  }

  @Test
  void nonDecisionEventsUpdateMetricsButAreNotWritten() {
    RecordingWriter writer = new RecordingWriter();
    AuditPipeline pipeline = pipeline(16, writer);
    var request = Events.request("example.com:443", Protocol.HTTPS_CONNECT, "CONNECT");

    pipeline.record(new AuditEvent.TunnelOpened(AT, request));
    pipeline.record(new AuditEvent.TunnelOpened(AT, request));
    pipeline.record(new AuditEvent.TunnelClosed(AT, request, 10, 20, 1000));
    pipeline.record(new AuditEvent.UpstreamFailed(AT, request, "connect_refused"));
    pipeline.record(allowedGet(7));
    pipeline.close();

    assertThat(writer.ports()).containsExactly(7L);
    Attributes connect = Attributes.of(AttributeKey.stringKey("protocol"), "https_connect");
    MetricValues metrics = MetricValues.collect(reader);
    assertThat(metrics.longSums("egressd.tunnels.active")).containsExactly(Map.entry(connect, 1L));
    assertThat(metrics.longSums("egressd.upstream.failures"))
        .containsExactly(Map.entry(Attributes.of(AttributeKey.stringKey("cause"), "connect_refused"), 1L));
    assertThat(metrics.longSums("egressd.relayed").values()).containsExactlyInAnyOrder(10L, 20L);
    assertThat(metrics.histograms("egressd.tunnel.duration").get(connect).getCount()).isEqualTo(1);
  }

  @Test
  void closeWritesWhatIsQueuedThenClosesTheWriters() throws InterruptedException {
    RecordingWriter writer = RecordingWriter.blockingOnFirstWrite();
    releases.add(writer.release);
    AuditPipeline pipeline = pipeline(64, writer);
    pipeline.record(allowedGet(1));
    assertThat(writer.entered.await(10, TimeUnit.SECONDS)).isTrue();
    IntStream.rangeClosed(2, 50).forEach(port -> pipeline.record(allowedGet(port)));
    assertThat(writer.ports()).isEmpty();

    writer.release.countDown();
    pipeline.close();

    assertThat(writer.ports()).containsExactlyElementsOf(LongStream.rangeClosed(1, 50).boxed().toList());
    assertThat(writer.closed).isTrue();
    assertThat(writer.flushes.get()).isPositive();
    assertThat(dropped.sum()).isZero();
  }

  @Test
  void writersAreFlushedWhenTheQueueRunsEmpty() throws InterruptedException {
    RecordingWriter writer = new RecordingWriter();
    AuditPipeline pipeline = pipeline(16, writer);

    pipeline.record(allowedGet(1));

    assertThat(writer.flushed.await(10, TimeUnit.SECONDS)).isTrue();
    assertThat(writer.ports()).containsExactly(1L);
    assertThat(writer.closed).isFalse();
  }

  @Test
  void aThrowingWriterDoesNotStopTheWorker() throws InterruptedException {
    RecordingWriter writer = new RecordingWriter();
    writer.throwOnce.set(true);
    AuditPipeline pipeline = pipeline(16, writer);
    pipeline.record(allowedGet(1));
    assertThat(writer.thrown.await(10, TimeUnit.SECONDS)).isTrue();

    pipeline.record(allowedGet(2));
    pipeline.close();

    assertThat(writer.ports()).containsExactly(2L);
    assertThat(dropped.sum()).as("the event the writer failed on is counted as dropped").isEqualTo(1);
  }

  @Test
  void withoutWritersDecisionsAreCountedButNeverQueuedOrDropped() {
    AuditPipeline pipeline = pipeline(1);

    IntStream.rangeClosed(1, 10).forEach(port -> pipeline.record(allowedGet(port)));
    pipeline.close();

    assertThat(dropped.sum()).isZero();
    assertThat(MetricValues.collect(reader).longSums("egressd.decisions").values()).containsExactly(10L);
  }

  private AuditPipeline pipeline(int capacity, DecisionWriter... writers) {
    AuditPipeline pipeline = new AuditPipeline(capacity, List.of(writers), instruments, EVENT, AuditMetadata.NONE,
        dropped);
    pipelines.add(pipeline);
    return pipeline;
  }

  /** Records what the worker hands it; can block on its first write and throw once. */
  private static final class RecordingWriter implements DecisionWriter {
    final List<Map<String, Object>> written = new CopyOnWriteArrayList<>();
    final List<String> threads = new CopyOnWriteArrayList<>();
    final CountDownLatch entered = new CountDownLatch(1);
    final CountDownLatch release;
    final CountDownLatch flushed = new CountDownLatch(1);
    final CountDownLatch thrown = new CountDownLatch(1);
    final AtomicInteger flushes = new AtomicInteger();
    final AtomicBoolean throwOnce = new AtomicBoolean();
    volatile boolean closed;

    RecordingWriter() {
      this(new CountDownLatch(0));
    }

    private RecordingWriter(CountDownLatch release) {
      this.release = release;
    }

    static RecordingWriter blockingOnFirstWrite() {
      return new RecordingWriter(new CountDownLatch(1));
    }

    @Override
    public void write(Map<String, Object> attributes) {
      if (throwOnce.compareAndSet(true, false)) {
        thrown.countDown();
        throw new IllegalStateException("writer failed");
      }
      entered.countDown();
      try {
        release.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
      threads.add(Thread.currentThread().getName());
      written.add(attributes);
    }

    @Override
    public void flush() {
      flushes.incrementAndGet();
      flushed.countDown();
    }

    @Override
    public void close() {
      closed = true;
    }

    List<Long> ports() {
      return written.stream().map(a -> (Long) a.get("server.port")).toList();
    }
  }
}
