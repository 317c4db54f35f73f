package dev.egressd.audit.otel;

import static java.util.Objects.requireNonNull;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/**
 * A bounded queue drained by one worker thread: the way to hand work off an event loop without ever making the
 * event loop wait. {@link #offer} never blocks; when the queue is full the item is dropped and counted. The worker
 * takes items off in batches of at most {@value #BATCH}, in the order they were offered, and hands each batch to a
 * {@link BatchHandler}. {@link #close} lets it finish what is queued, within a timeout.
 *
 * <p>The worker is a daemon thread, started by the constructor. The handler and the idle callback always run on it,
 * one at a time, so they may keep state without synchronisation. They should not throw: an exception ends the
 * worker, after which offers fill the queue and are then dropped.
 *
 * @param <T> the type of the queued items
 */
public final class BoundedWorker<T> {
  /** The most items one batch holds. */
  public static final int BATCH = 256;
  private static final long IDLE_WAIT_MILLIS = 100;

  private final BlockingQueue<T> queue;
  private final BooleanSupplier queueEmpty;
  private final long lingerNanos;
  private final LongAdder dropped;
  private final BatchHandler<T> handler;
  private final Runnable idle;
  private final Thread thread;
  private volatile boolean closing;

  /**
   * Creates the queue and starts the worker thread.
   *
   * @param threadName the worker thread's name
   * @param capacity how many items may wait; an offer beyond that is dropped
   * @param linger how long the worker pauses after each batch, unless closing; offers made meanwhile land
   *     without waking it (each wake-up costs the offering thread a system call). Zero for no pause
   * @param dropped counts the dropped offers; it may be shared with other counts of lost items
   * @param handler handles each batch, on the worker thread
   * @param idle runs on the worker thread each time it finds the queue empty, before it waits for more, so at least
   *     every 100 ms while nothing is offered: for periodic work such as reporting drops
   */
  public BoundedWorker(String threadName, int capacity, Duration linger, LongAdder dropped,
      BatchHandler<T> handler, Runnable idle) {
    requireNonNull(threadName, "threadName");
    if (capacity < 1) {
      throw new IllegalArgumentException("capacity: " + capacity + " (expected: >= 1)");
    }
    if (requireNonNull(linger, "linger").isNegative()) {
      throw new IllegalArgumentException("linger: " + linger + " (expected: >= 0)");
    }
    this.queue = new ArrayBlockingQueue<>(capacity);
    this.queueEmpty = queue::isEmpty;
    this.lingerNanos = linger.toNanos();
    this.dropped = requireNonNull(dropped, "dropped");
    this.handler = requireNonNull(handler, "handler");
    this.idle = requireNonNull(idle, "idle");
    this.thread = new Thread(this::run, threadName);
    thread.setDaemon(true);
    thread.start();
  }

  /**
   * Queues {@code item} for the worker, or drops and counts it when the queue is full; never blocks. Items offered
   * after {@link #close} began may not be handled.
   *
   * @return whether the item was queued
   */
  public boolean offer(T item) {
    if (queue.offer(item)) {
      return true;
    }
    dropped.increment();
    return false;
  }

  /** The sum of the drop counter: offers dropped so far, plus whatever else its owner counts into it. */
  public long dropped() {
    return dropped.sum();
  }

  /** How many items are waiting, not counting the batch the handler is working on. */
  public int queued() {
    return queue.size();
  }

  private void run() {
    List<T> batch = new ArrayList<>(BATCH);
    try {
      while (takeBatch(batch)) {
        handler.handle(batch, queueEmpty);
        batch.clear();
        if (lingerNanos > 0 && !closing) {
          LockSupport.parkNanos(lingerNanos);
        }
      }
    } catch (InterruptedException e) {
      // close() gave up waiting; what is queued stays unhandled.
    }
  }

  /** Fills {@code batch}, waiting as long as it takes; false once closing finds the queue empty, or close gave up. */
  private boolean takeBatch(List<T> batch) throws InterruptedException {
    if (Thread.currentThread().isInterrupted()) {
      return false;
    }
    while (queue.drainTo(batch, BATCH) == 0) {
      if (closing) {
        return false;
      }
      idle.run();
      T first = queue.poll(IDLE_WAIT_MILLIS, TimeUnit.MILLISECONDS);
      if (first != null) {
        batch.add(first);
        queue.drainTo(batch, BATCH - 1);
        return true;
      }
    }
    return true;
  }

  /**
   * Lets the worker handle what is queued, waiting at most {@code timeout} for it (zero or negative: no wait). If it
   * is not done by then, it is interrupted and, unless the handler clears the interrupt, stops after the batch it is
   * working on; the items still queued are never handled. An interrupt of the calling thread ends the wait early, as
   * a timeout would, and stays set.
   *
   * @return whether the worker ended in time, and how many items were left in the queue
   */
  public Closed close(Duration timeout) {
    requireNonNull(timeout, "timeout");
    closing = true;
    LockSupport.unpark(thread); // ends a linger pause early
    awaitWorker(timeout);
    boolean finished = !thread.isAlive();
    if (!finished) {
      thread.interrupt();
    }
    return new Closed(finished, queue.size());
  }

  private void awaitWorker(Duration timeout) {
    if (timeout.isNegative() || timeout.isZero()) {
      return; // Thread.join(0) would wait forever
    }
    try {
      thread.join(timeout.toMillis(), timeout.toNanosPart() % 1_000_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Handles the batches a {@link BoundedWorker} takes off its queue.
   *
   * @param <T> the type of the queued items
   */
  @FunctionalInterface
  public interface BatchHandler<T> {
    /**
     * Handles one batch, on the worker thread. The list is reused for the next batch, so it is valid only during
     * this call.
     *
     * @param batch one to {@value BoundedWorker#BATCH} items, in the order they were offered
     * @param queueEmpty tells, each time it is asked, whether nothing is queued at that moment: asked after the
     *     batch is handled, whether the batch ended a burst (a time to flush, say)
     */
    void handle(List<T> batch, BooleanSupplier queueEmpty);
  }

  /**
   * How {@link BoundedWorker#close} ended.
   *
   * @param finished whether the worker thread had ended when close returned: it handled everything queued, unless
   *     the handler threw
   * @param left how many items were still queued when close returned
   */
  public record Closed(boolean finished, int left) {}
}
