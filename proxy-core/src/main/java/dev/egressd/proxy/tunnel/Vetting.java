package dev.egressd.proxy.tunnel;

import dev.egressd.policy.AccessRequest;
import dev.egressd.policy.Credential;
import dev.egressd.policy.Decision;
import dev.egressd.policy.IpAddress;
import dev.egressd.policy.MitmHook;
import dev.egressd.policy.TunnelTerms;
import java.util.List;
import java.util.Objects;

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
   * @param terms for a tunnel: what it may carry (interception, opaque bytes), fixed by the policy that approved it;
   *     {@link TunnelTerms#BLIND} for everything else
   * @param hook for a request inside an intercepted tunnel to a host with hooks, the hook it matched (whose actions
   *     apply to it, with the policy that approved it); null otherwise
   * @param credentials for a request inside an intercepted tunnel, the credentials that belong to its host: their
   *     stand-ins are swapped for the secrets
   */
  record Approved(AccessRequest request, Decision decision, List<IpAddress> addresses, TunnelTerms terms,
      MitmHook hook, List<Credential> credentials) implements Vetting {
    /** Copies the lists. */
    public Approved {
      addresses = List.copyOf(addresses);
      Objects.requireNonNull(terms, "terms");
      credentials = List.copyOf(credentials);
    }

    /** Approved without a hook or credentials. */
    public Approved(AccessRequest request, Decision decision, List<IpAddress> addresses, TunnelTerms terms) {
      this(request, decision, addresses, terms, null, List.of());
    }

    /** Whether the tunnel's TLS is to be terminated and every inner request decided. */
    public boolean intercept() {
      return terms.intercept();
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
