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
   * @param route for an allow, how the connection leaves egressd; null when not known (a refusal, {@code check})
   */
  record PolicyDecision(Instant timestamp, AccessRequest request, Decision decision, Route route)
      implements AuditEvent {
    /** Null checks only. */
    public PolicyDecision {
      Objects.requireNonNull(timestamp, "timestamp");
      Objects.requireNonNull(request, "request");
      Objects.requireNonNull(decision, "decision");
    }

    /** A decision without a route. */
    public PolicyDecision(Instant timestamp, AccessRequest request, Decision decision) {
      this(timestamp, request, decision, null);
    }
  }

  /** How an allowed connection leaves egressd: the {@code network.route} audit attribute. */
  enum Route {
    /** Straight to the destination. */
    DIRECT("direct"),
    /** Through a parent proxy. */
    UPSTREAM_PROXY("upstream_proxy");

    private final String label;

    Route(String label) {
      this.label = label;
    }

    /** The attribute value. */
    public String label() {
      return label;
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
