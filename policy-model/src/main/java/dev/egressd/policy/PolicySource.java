package dev.egressd.policy;

/** Which part of the policy produced a decision; wire labels match the reference's {@code network.policy.source}. */
public enum PolicySource {
  /** The host rules and the local-address check. */
  BASELINE_POLICY("baseline_policy"),
  /** The access mode (limited-mode method and interception checks). */
  MODE_GUARD("mode_guard"),
  /** Proxy-wide state, e.g. {@code enabled = false}. */
  PROXY_STATE("proxy_state"),
  /** A {@link PolicyDecider} consulted for an allowlist miss. */
  DECIDER("decider"),
  /** A person, answering a request the decider asked about ({@code egressd approve}, {@code deny}). */
  APPROVAL("approval");

  private final String label;

  PolicySource(String label) {
    this.label = label;
  }

  /** The wire label, e.g. {@code baseline_policy}. */
  public String label() {
    return label;
  }
}
