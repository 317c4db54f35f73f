package dev.egressd.proxy.http;

import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * The request-head timeout of one client connection: armed while the connection waits for a request head, so a
 * client that connects and trickles (or sends nothing) is cut off. Used on the connection's event loop only.
 */
final class HeadDeadline {
  private final EventExecutor executor;
  private final Duration timeout;
  private final Runnable expired;
  private ScheduledFuture<?> pending;

  HeadDeadline(EventExecutor executor, Duration timeout, Runnable expired) {
    this.executor = executor;
    this.timeout = timeout;
    this.expired = expired;
  }

  /** Starts the wait for the next head, replacing any earlier one. */
  void arm() {
    cancel();
    pending = executor.schedule(expired, timeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** A head arrived, or the connection is going away. */
  void cancel() {
    if (pending != null) {
      pending.cancel(false);
      pending = null;
    }
  }
}
