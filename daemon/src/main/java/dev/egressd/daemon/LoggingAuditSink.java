package dev.egressd.daemon;

import dev.egressd.audit.AuditEvent;
import dev.egressd.audit.AuditSink;
import dev.egressd.policy.AccessRequest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes one canonical log line per audit event to the {@code egressd.audit} logger. Lines carry host, port,
 * method and reason only: never a path, query, header value or credential.
 *
 * <p>The calling event loop only checks the logger's level and offers the immutable event to a bounded queue; one
 * worker thread formats and logs the lines, in order, and flushes them once per batch ({@link StderrAppender}). When
 * the queue is full the event is dropped and counted rather than waited for, and a warning gives the count at most
 * once a minute. {@link #close} writes what is queued.
 */
final class LoggingAuditSink implements AuditSink, AutoCloseable {
  static final int DEFAULT_CAPACITY = 8192;
  private static final Logger log = LoggerFactory.getLogger(StderrAppender.AUDIT_LOGGER);
  private static final Logger warnings = LoggerFactory.getLogger(LoggingAuditSink.class);
  private static final int DRAIN_BATCH = 256;
  private static final long DROP_WARNING_INTERVAL = TimeUnit.MINUTES.toNanos(1);
  // Pausing between batches lets a busy event loop's offers land while no thread waits on the queue, so an offer
  // never has to wake this worker (a futex call per line on the event loop is what this class exists to avoid).
  private static final long LINGER = TimeUnit.MILLISECONDS.toNanos(2);

  private final BlockingQueue<AuditEvent> queue;
  private final LongAdder dropped = new LongAdder();
  private final Thread worker;
  private volatile boolean closing;
  private long droppedReported;
  private long lastDropWarning;

  /** A sink with a queue of {@link #DEFAULT_CAPACITY} events; starts its worker thread. */
  LoggingAuditSink() {
    this(DEFAULT_CAPACITY);
  }

  LoggingAuditSink(int capacity) {
    this.queue = new ArrayBlockingQueue<>(capacity);
    this.worker = new Thread(this::run, "egressd-audit-log");
    worker.setDaemon(true);
    worker.start();
  }

  @Override
  public void record(AuditEvent event) {
    if (event instanceof AuditEvent.TunnelOpened || !log.isInfoEnabled()) {
      return;
    }
    if (!queue.offer(event)) {
      dropped.increment();
    }
  }

  /** Events dropped so far because the queue was full. */
  long dropped() {
    return dropped.sum();
  }

  private void run() {
    List<AuditEvent> batch = new ArrayList<>(DRAIN_BATCH);
    try {
      while (true) {
        if (queue.drainTo(batch, DRAIN_BATCH) == 0) {
          if (closing) {
            return;
          }
          warnAboutDrops(false);
          AuditEvent first = queue.poll(100, TimeUnit.MILLISECONDS);
          if (first == null) {
            continue;
          }
          batch.add(first);
          queue.drainTo(batch, DRAIN_BATCH - 1);
        }
        batch.forEach(LoggingAuditSink::write);
        batch.clear();
        StderrAppender.flushAuditLines();
        if (!closing) {
          LockSupport.parkNanos(LINGER);
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void warnAboutDrops(boolean always) {
    long total = dropped.sum();
    long now = System.nanoTime();
    boolean due = droppedReported == 0 || now - lastDropWarning >= DROP_WARNING_INTERVAL;
    if (total > droppedReported && (always || due)) {
      warnings.warn("{} audit log lines dropped: the queue of lines to write was full", total - droppedReported);
      droppedReported = total;
      lastDropWarning = now;
    }
  }

  private static void write(AuditEvent event) {
    if (event instanceof AuditEvent.PolicyDecision d) {
      log.info("decision={} reason={} source={} {}{}", d.decision().verdict().label(), d.decision().reason().code(),
          d.decision().source().label(), describe(d.request()),
          d.decision().rule().map(r -> " rule=\"" + r.pattern().text() + "\"").orElse(""));
    } else if (event instanceof AuditEvent.UpstreamFailure f) {
      log.info("upstream_failure cause={} {}", f.cause(), describe(f.request()));
    } else if (event instanceof AuditEvent.TunnelClosed t) {
      log.info("tunnel_closed bytes_up={} bytes_down={} duration_ms={} {}", t.bytesUp(), t.bytesDown(),
          t.durationMillis(), describe(t.request()));
    }
  }

  private static String describe(AccessRequest r) {
    return "protocol=" + r.protocol().label() + " host=" + r.destination().host().value() + " port="
        + r.destination().port() + " method=" + (r.method() == null ? "none" : r.method()) + " client=" + r.client();
  }

  /**
   * Writes what is queued (waiting at most {@code timeout}) and reports any drops not yet warned about. Events
   * recorded after this may not be written.
   */
  void close(Duration timeout) {
    closing = true;
    try {
      worker.join(timeout.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (worker.isAlive()) {
      worker.interrupt();
      warnings.warn("{} audit log lines were not written before shutdown", queue.size());
    } else {
      warnAboutDrops(true);
    }
  }

  @Override
  public void close() {
    close(Duration.ofSeconds(5));
  }
}
