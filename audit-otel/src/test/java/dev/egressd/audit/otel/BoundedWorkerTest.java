package dev.egressd.audit.otel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.BooleanSupplier;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The queue and worker thread behind both audit sinks: drops, batches, idle work and shutdown. */
@Timeout(30)
class BoundedWorkerTest {
  private final LongAdder dropped = new LongAdder();
  private final Recorder recorder = new Recorder();
  private final List<BoundedWorker<Integer>> workers = new ArrayList<>();

  @AfterEach
  void tearDown() {
    recorder.release.countDown();
    workers.forEach(w -> w.close(Duration.ofSeconds(5)));
  }

  @Test
  void aFullQueueDropsAndCountsWithoutBlockingTheCaller() throws InterruptedException {
    recorder.blockFirstBatch();
    BoundedWorker<Integer> worker = worker(4, Duration.ZERO, () -> {});
    worker.offer(1);
    assertThat(recorder.entered.await(10, TimeUnit.SECONDS)).isTrue(); // the worker holds item 1

    long start = System.nanoTime();
    List<Boolean> queued = IntStream.rangeClosed(2, 8).mapToObj(worker::offer).toList();

    assertThat(System.nanoTime() - start).isLessThan(TimeUnit.SECONDS.toNanos(1));
    assertThat(queued).containsExactly(true, true, true, true, false, false, false);
    assertThat(worker.dropped()).isEqualTo(3);
    assertThat(dropped.sum()).as("drops go to the counter the owner passed in").isEqualTo(3);
    assertThat(worker.queued()).isEqualTo(4);
    recorder.release.countDown();
    assertThat(worker.close(Duration.ofSeconds(10))).isEqualTo(new BoundedWorker.Closed(true, 0));
    assertThat(recorder.items).containsExactly(1, 2, 3, 4, 5);
  }

  @Test
  void batchesArriveInOfferOrderAndHoldAtMostTheBatchSize() throws InterruptedException {
    recorder.blockFirstBatch();
    BoundedWorker<Integer> worker = worker(2048, Duration.ZERO, () -> {});
    worker.offer(0);
    assertThat(recorder.entered.await(10, TimeUnit.SECONDS)).isTrue();
    IntStream.rangeClosed(1, 1000).forEach(worker::offer);

    recorder.release.countDown();
    worker.close(Duration.ofSeconds(10));

    assertThat(recorder.items).containsExactlyElementsOf(IntStream.rangeClosed(0, 1000).boxed().toList());
    assertThat(recorder.batchSizes).containsExactly(1, 256, 256, 256, 232);
    assertThat(recorder.threads).containsOnly("test-worker");
  }

  @Test
  void queueEmptyTellsWhetherABatchEndedTheBurst() throws InterruptedException {
    recorder.blockFirstBatch();
    BoundedWorker<Integer> worker = worker(2048, Duration.ZERO, () -> {});
    worker.offer(0);
    assertThat(recorder.entered.await(10, TimeUnit.SECONDS)).isTrue();
    IntStream.rangeClosed(1, 300).forEach(worker::offer);

    recorder.release.countDown();
    worker.close(Duration.ofSeconds(10));

    assertThat(recorder.emptyAfterBatch).containsExactly(false, false, true);
  }

  @Test
  void closeHandlesWhatIsQueuedWithinTheTimeout() throws InterruptedException {
    recorder.blockFirstBatch();
    BoundedWorker<Integer> worker = worker(64, Duration.ZERO, () -> {});
    worker.offer(1);
    assertThat(recorder.entered.await(10, TimeUnit.SECONDS)).isTrue();
    IntStream.rangeClosed(2, 50).forEach(worker::offer);
    releaseAfter(Duration.ofMillis(200));

    BoundedWorker.Closed closed = worker.close(Duration.ofSeconds(10));

    assertThat(closed).isEqualTo(new BoundedWorker.Closed(true, 0));
    assertThat(recorder.items).containsExactlyElementsOf(IntStream.rangeClosed(1, 50).boxed().toList());
  }

  @Test
  void closeWithAStuckHandlerReturnsAfterTheTimeoutAndReportsWhatWasLeft() throws InterruptedException {
    recorder.blockFirstBatch();
    BoundedWorker<Integer> worker = worker(64, Duration.ZERO, () -> {});
    worker.offer(1);
    assertThat(recorder.entered.await(10, TimeUnit.SECONDS)).isTrue();
    IntStream.rangeClosed(2, 11).forEach(worker::offer);

    long start = System.nanoTime();
    BoundedWorker.Closed closed = worker.close(Duration.ofMillis(300));
    long elapsed = System.nanoTime() - start;

    assertThat(elapsed).isBetween(TimeUnit.MILLISECONDS.toNanos(250), TimeUnit.SECONDS.toNanos(5));
    assertThat(closed).isEqualTo(new BoundedWorker.Closed(false, 10));
    assertThat(recorder.interrupted.await(10, TimeUnit.SECONDS)).as("the handler is interrupted").isTrue();
    recorder.workerThread.join(10_000);
    assertThat(recorder.workerThread.isAlive()).isFalse();
    assertThat(recorder.items).as("the worker stops after the stuck batch").containsExactly(1);
  }

  @Test
  void theIdleCallbackRunsOnTheWorkerWhileNothingIsOffered() throws InterruptedException {
    CountDownLatch idled = new CountDownLatch(3);
    List<String> idleThreads = new CopyOnWriteArrayList<>();
    worker(4, Duration.ZERO, () -> {
      idleThreads.add(Thread.currentThread().getName());
      idled.countDown();
    });

    assertThat(idled.await(10, TimeUnit.SECONDS)).isTrue();
    assertThat(idleThreads).containsOnly("test-worker");
  }

  @Test
  void offersMadeDuringTheLingerFormOneBatch() throws InterruptedException {
    BoundedWorker<Integer> worker = worker(64, Duration.ofMillis(500), () -> {});
    worker.offer(1);
    assertThat(recorder.handled.await(10, TimeUnit.SECONDS)).isTrue();

    IntStream.rangeClosed(2, 4).forEach(worker::offer);
    worker.close(Duration.ofSeconds(10));

    assertThat(recorder.batchSizes).containsExactly(1, 3);
  }

  @Test
  void closeCutsTheLingerShort() throws InterruptedException {
    BoundedWorker<Integer> worker = worker(64, Duration.ofMinutes(1), () -> {});
    worker.offer(1);
    assertThat(recorder.handled.await(10, TimeUnit.SECONDS)).isTrue();
    worker.offer(2);

    long start = System.nanoTime();
    BoundedWorker.Closed closed = worker.close(Duration.ofSeconds(20));

    assertThat(System.nanoTime() - start).isLessThan(TimeUnit.SECONDS.toNanos(5));
    assertThat(closed).isEqualTo(new BoundedWorker.Closed(true, 0));
    assertThat(recorder.items).containsExactly(1, 2);
  }

  @Test
  void aCapacityBelowOneIsRejected() {
    assertThatThrownBy(() -> new BoundedWorker<Integer>("test-worker", 0, Duration.ZERO, dropped, recorder, () -> {}))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("capacity: 0 (expected: >= 1)");
  }

  private BoundedWorker<Integer> worker(int capacity, Duration linger, Runnable idle) {
    BoundedWorker<Integer> worker = new BoundedWorker<>("test-worker", capacity, linger, dropped, recorder, idle);
    workers.add(worker);
    return worker;
  }

  private void releaseAfter(Duration delay) {
    Thread releaser = new Thread(() -> {
      try {
        Thread.sleep(delay.toMillis());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      recorder.release.countDown();
    });
    releaser.setDaemon(true);
    releaser.start();
  }

  /** Records each batch it is handed; can block on its first batch until released or interrupted. */
  private static final class Recorder implements BoundedWorker.BatchHandler<Integer> {
    final List<Integer> items = new CopyOnWriteArrayList<>();
    final List<Integer> batchSizes = new CopyOnWriteArrayList<>();
    final List<Boolean> emptyAfterBatch = new CopyOnWriteArrayList<>();
    final List<String> threads = new CopyOnWriteArrayList<>();
    final CountDownLatch entered = new CountDownLatch(1);
    final CountDownLatch handled = new CountDownLatch(1);
    final CountDownLatch interrupted = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(0);
    volatile Thread workerThread;

    void blockFirstBatch() {
      release = new CountDownLatch(1);
    }

    @Override
    public void handle(List<Integer> batch, BooleanSupplier queueEmpty) {
      workerThread = Thread.currentThread();
      threads.add(Thread.currentThread().getName());
      items.addAll(batch);
      batchSizes.add(batch.size());
      entered.countDown();
      try {
        release.await();
      } catch (InterruptedException e) {
        interrupted.countDown();
        Thread.currentThread().interrupt();
        return;
      }
      emptyAfterBatch.add(queueEmpty.getAsBoolean());
      handled.countDown();
    }
  }
}
