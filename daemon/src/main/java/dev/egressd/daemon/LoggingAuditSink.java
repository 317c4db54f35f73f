package dev.egressd.daemon;

import dev.egressd.audit.AuditEvent;
import dev.egressd.audit.AuditSink;
import dev.egressd.audit.otel.BoundedWorker;
import dev.egressd.policy.AccessRequest;
import dev.egressd.policy.Decision;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.BooleanSupplier;
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
  private static final long DROP_WARNING_INTERVAL = TimeUnit.MINUTES.toNanos(1);
  // Pausing between batches lets a busy event loop's offers land while no thread waits on the queue, so an offer
  // never has to wake this worker (a futex call per line on the event loop is what this class exists to avoid).
  private static final Duration LINGER = Duration.ofMillis(2);

  // The idle callback reads this rather than worker.dropped(): the worker may run it before the field is assigned.
  private final LongAdder dropped = new LongAdder();
  private final BoundedWorker<AuditEvent> worker;
  private long droppedReported;
  private long lastDropWarning;

  /** A sink with a queue of {@link #DEFAULT_CAPACITY} events; starts its worker thread. */
  LoggingAuditSink() {
    this(DEFAULT_CAPACITY);
  }

  LoggingAuditSink(int capacity) {
    this.worker = new BoundedWorker<>("egressd-audit-log", capacity, LINGER, dropped, LoggingAuditSink::writeBatch,
        () -> warnAboutDrops(false));
  }

  @Override
  public void record(AuditEvent event) {
    if (event instanceof AuditEvent.TunnelOpened || !log.isInfoEnabled()) {
      return;
    }
    worker.offer(event);
  }

  /** Events dropped so far because the queue was full. */
  long dropped() {
    return dropped.sum();
  }

  private static void writeBatch(List<AuditEvent> batch, BooleanSupplier queueEmpty) {
    batch.forEach(LoggingAuditSink::write);
    StderrAppender.flushAuditLines();
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
      log.info("decision={} reason={} source={} {}{}{}{}{}", d.decision().verdict().label(),
          d.decision().reason().code(), d.decision().source().label(), describe(d.request()),
          d.decision().rule().map(r -> " rule=\"" + r.pattern().text() + "\"").orElse(""),
          deciderReason(d.decision()), viaParent(d) + (d.decision().reported() ? " would_deny=true" : "")
              + (d.decision().credential() == null ? "" : " credential=" + d.decision().credential()),
          connection(d.request()));
    } else if (event instanceof AuditEvent.UpstreamFailed f) {
      log.info("upstream_failure cause={} {}{}", f.cause(), describe(f.request()), connection(f.request()));
    } else if (event instanceof AuditEvent.TunnelClosed t) {
      log.info("tunnel_closed bytes_up={} bytes_down={} duration_ms={} {}{}", t.bytesUp(), t.bytesDown(),
          t.durationMillis(), describe(t.request()), connection(t.request()));
    }
  }

  /** The decider's own reason text, quoted (it is sanitised, but may hold spaces and quotes). */
  private static String deciderReason(Decision decision) {
    return decision.reasonText().isEmpty() ? ""
        : " decider_reason=\"" + decision.reasonText().replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
  }

  /** Only a parent route is named: direct is what every line without it means, as in the reference's lines. */
  private static String viaParent(AuditEvent.PolicyDecision d) {
    return d.decision().allowed() && d.route() == AuditEvent.Route.UPSTREAM_PROXY ? " route=upstream_proxy" : "";
  }

  /** Last on the line, so the reference's fields keep their places; joins the lines of one client connection. */
  private static String connection(AccessRequest r) {
    return r.connectionId() == AccessRequest.NO_CONNECTION ? "" : " conn=" + r.connectionId();
  }

  private static String describe(AccessRequest r) {
    return "protocol=" + r.protocol().label() + " host=" + r.destination().host().value() + " port="
        + r.destination().port() + " method=" + (r.method() == null ? "none" : r.method()) + " client=" + r.client()
        + (r.executionId() == null ? "" : " execution=" + r.executionId());
  }

  /**
   * Writes what is queued (waiting at most {@code timeout}) and reports any drops not yet warned about. Events
   * recorded after this may not be written.
   */
  void close(Duration timeout) {
    BoundedWorker.Closed closed = worker.close(timeout);
    if (closed.finished()) {
      warnAboutDrops(true);
    } else {
      warnings.warn("{} audit log lines were not written before shutdown", closed.left());
    }
  }

  @Override
  public void close() {
    close(Duration.ofSeconds(5));
  }
}
