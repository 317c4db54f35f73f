package dev.egressd.proxy.tunnel;

import java.util.Objects;

/** The parent proxy could not carry a connection: which failure, and what it said (never its credentials). */
public final class ParentProxyException extends Exception {
  private static final long serialVersionUID = 1L;

  private final transient UpstreamFailure failure;

  /** A failure with a detail for the log, e.g. {@code CONNECT answered 403 Forbidden}. */
  public ParentProxyException(UpstreamFailure failure, String detail, Throwable cause) {
    super(detail, cause);
    this.failure = Objects.requireNonNull(failure, "failure");
  }

  /** How the client is told. */
  public UpstreamFailure failure() {
    return failure;
  }
}
