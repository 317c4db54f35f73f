package dev.egressd.audit;

import dev.egressd.policy.AccessRequest;
import dev.egressd.policy.Decision;
import java.time.Instant;
import java.util.Objects;

/**
 * Something an operator may need to account for. Events carry hosts, ports, methods and reasons, never URL paths,
 * queries, header values or credentials.
 */
public sealed interface AuditEvent {
  /** When it happened. */
  Instant timestamp();

  /**
   * The final policy decision for one request or connection: exactly one per request.
   *
   * @param timestamp when the decision was made
   * @param request what was asked
   * @param decision what was decided
   */
  record PolicyDecision(Instant timestamp, AccessRequest request, Decision decision) implements AuditEvent {
    /** Null checks only. */
    public PolicyDecision {
      Objects.requireNonNull(timestamp, "timestamp");
      Objects.requireNonNull(request, "request");
      Objects.requireNonNull(decision, "decision");
    }
  }

  /**
   * An allowed request whose upstream could not be reached.
   *
   * @param timestamp when it failed
   * @param request what was asked
   * @param cause a short cause code, e.g. {@code dns_failure}, {@code connect_refused}, {@code connect_timeout}
   */
  record UpstreamFailed(Instant timestamp, AccessRequest request, String cause) implements AuditEvent {
    /** Null checks only. */
    public UpstreamFailed {
      Objects.requireNonNull(timestamp, "timestamp");
      Objects.requireNonNull(request, "request");
      Objects.requireNonNull(cause, "cause");
    }
  }

  /**
   * A tunnel started relaying: the upstream connection is open and the client was told so.
   *
   * @param timestamp when it opened
   * @param request the request that opened it
   */
  record TunnelOpened(Instant timestamp, AccessRequest request) implements AuditEvent {
    /** Null checks only. */
    public TunnelOpened {
      Objects.requireNonNull(timestamp, "timestamp");
      Objects.requireNonNull(request, "request");
    }
  }

  /**
   * A tunnel ended.
   *
   * @param timestamp when it closed
   * @param request the request that opened it
   * @param bytesUp bytes from the client to the destination
   * @param bytesDown bytes from the destination to the client
   * @param durationMillis how long it was open
   */
  record TunnelClosed(Instant timestamp, AccessRequest request, long bytesUp, long bytesDown, long durationMillis)
      implements AuditEvent {
    /** Null checks only. */
    public TunnelClosed {
      Objects.requireNonNull(timestamp, "timestamp");
      Objects.requireNonNull(request, "request");
    }
  }
}
