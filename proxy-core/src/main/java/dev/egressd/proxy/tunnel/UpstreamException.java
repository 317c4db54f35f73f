package dev.egressd.proxy.tunnel;

import java.io.IOException;
import java.util.Objects;

/**
 * An allowed request that could not reach its destination, classified once and already audited. Front ends only map
 * {@link #failure()} to their wire form.
 */
public final class UpstreamException extends IOException {
  private static final long serialVersionUID = 1L;

  private final transient UpstreamFailure failure;

  /** Wraps {@code cause}, classified as {@code failure}. */
  public UpstreamException(UpstreamFailure failure, Throwable cause) {
    super(Objects.requireNonNull(failure, "failure").code() + (cause == null ? "" : ": " + cause.getMessage()), cause);
    this.failure = failure;
  }

  /** What went wrong. */
  public UpstreamFailure failure() {
    return failure;
  }

  /** The failure a future failed with: {@link #failure()} of an {@code UpstreamException}, else classified. */
  public static UpstreamFailure failureOf(Throwable cause) {
    return cause instanceof UpstreamException upstream ? upstream.failure() : UpstreamConnector.classify(cause);
  }
}
