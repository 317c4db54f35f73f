package dev.egressd.proxy.internal;

import io.netty.handler.timeout.IdleStateHandler;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/** The one idle-timeout handler every pipeline uses: traffic in either direction resets it. */
public final class IdleTimeouts {
  private IdleTimeouts() {}

  /** A new handler that fires an {@code IdleStateEvent} after {@code timeout} without reads or writes. */
  public static IdleStateHandler handler(Duration timeout) {
    return new IdleStateHandler(0, 0, timeout.toMillis(), TimeUnit.MILLISECONDS);
  }
}
