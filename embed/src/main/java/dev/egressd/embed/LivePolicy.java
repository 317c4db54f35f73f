package dev.egressd.embed;

import dev.egressd.policy.HostAddresses;
import dev.egressd.policy.NetworkPolicy;
import dev.egressd.policy.PolicyEngine;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The policy a running proxy decides by, which may be replaced while it runs: every decision made after
 * {@link #set} uses the new policy; tunnels already open keep running.
 */
public final class LivePolicy {
  private final boolean interceptionRunning;
  private final HostAddresses hostAddresses;
  private final AtomicReference<PolicyEngine> engine = new AtomicReference<>();

  /**
   * @param interceptionRunning whether the TLS interception stage is installed
   * @param hostAddresses this host's interface addresses, which the engine treats as local
   */
  public LivePolicy(NetworkPolicy initial, boolean interceptionRunning, HostAddresses hostAddresses) {
    this.interceptionRunning = interceptionRunning;
    this.hostAddresses = Objects.requireNonNull(hostAddresses, "hostAddresses");
    set(initial);
  }

  /**
   * Makes {@code policy} the one decisions use. A policy that turns {@code mitm} off does not leave the installed
   * interception stage vouching for limited-mode tunnels it will no longer inspect: the engine then refuses them, as
   * a start with that policy would. A policy that turns it on cannot start interception: that needs a restart.
   */
  public void set(NetworkPolicy policy) {
    Objects.requireNonNull(policy, "policy");
    engine.set(new PolicyEngine(policy, interceptionRunning && policy.mitm(), hostAddresses));
  }

  /** The engine for the current policy; read once per decision. */
  public PolicyEngine engine() {
    return engine.get();
  }

  /** The current policy. */
  public NetworkPolicy current() {
    return engine.get().policy();
  }
}
