package dev.egressd.proxy.tunnel;

import dev.egressd.policy.AccessRequest;
import dev.egressd.policy.Decision;
import dev.egressd.policy.IpAddress;
import java.util.List;

/** The outcome of deciding, resolving and vetting one request, before any upstream connection. */
public sealed interface Vetting {
  /** What was asked. */
  AccessRequest request();

  /**
   * The policy refused; nothing was contacted.
   *
   * @param request what was asked
   * @param decision the denial
   */
  record Refused(AccessRequest request, Decision decision) implements Vetting {}

  /**
   * The policy allowed and every address passed the checks.
   *
   * @param request what was asked
   * @param decision the allow
   * @param addresses the vetted addresses, to be dialled in order and never re-resolved
   * @param intercept for a tunnel: whether its TLS is to be terminated and every inner request checked
   */
  record Approved(AccessRequest request, Decision decision, List<IpAddress> addresses, boolean intercept)
      implements Vetting {
    /** Copies the address list. */
    public Approved {
      addresses = List.copyOf(addresses);
    }
  }

  /**
   * The policy allowed the name but it could not be resolved.
   *
   * @param request what was asked
   * @param failure {@link UpstreamFailure#DNS_FAILURE} or {@link UpstreamFailure#DNS_TIMEOUT}
   * @param detail the resolver's message
   */
  record Unresolved(AccessRequest request, UpstreamFailure failure, String detail) implements Vetting {}
}
