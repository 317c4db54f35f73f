package dev.egressd.policy;

import java.util.Objects;
import java.util.Optional;

/**
 * What an approved tunnel (HTTPS CONNECT or SOCKS5 CONNECT) may carry, fixed by the policy that approved it: whether
 * its TLS is terminated so every inner request is decided, and what happens when the client sends something other
 * than TLS into an intercepted tunnel. Nothing downstream of the approval re-reads the policy, so a reload in the
 * middle of a tunnel's handshake cannot change what it was approved for.
 *
 * @param intercept whether the tunnel is intercepted (TLS terminated, inner requests decided one by one)
 * @param opaqueRefusal for an intercepted tunnel: the denial to apply when its first bytes are not TLS (limited
 *     mode, where nothing could check methods); empty when such bytes are relayed as an opaque tunnel
 */
public record TunnelTerms(boolean intercept, Optional<Decision> opaqueRefusal) {
  /** A tunnel relayed as it is, without interception. */
  public static final TunnelTerms BLIND = new TunnelTerms(false, Optional.empty());

  /** Checks that a refusal is a denial and only comes with interception. */
  public TunnelTerms {
    Objects.requireNonNull(opaqueRefusal, "opaqueRefusal");
    if (opaqueRefusal.isPresent() && (!intercept || opaqueRefusal.get().allowed())) {
      throw new IllegalArgumentException("opaqueRefusal: " + opaqueRefusal.get()
          + " (expected: a denial, on an intercepted tunnel)");
    }
  }

  /** Whether non-TLS bytes in an intercepted tunnel may be relayed opaquely. */
  public boolean opaqueAllowed() {
    return opaqueRefusal.isEmpty();
  }
}
