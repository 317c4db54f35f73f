package dev.egressd.proxy.testing;

import dev.egressd.policy.AccessMode;
import dev.egressd.policy.NetworkPolicy;
import dev.egressd.policy.PolicyEngine;
import dev.egressd.policy.Rule;

/** Policies used across proxy-core tests. Loopback is granted by an explicit rule, never by disabling the check. */
public final class TestPolicies {
  private TestPolicies() {}

  public static PolicyEngine engine(AccessMode mode, String... allowPatterns) {
    NetworkPolicy.Builder builder = NetworkPolicy.builder().mode(mode).scope("test policy")
        .addRule(Rule.deny("denied.test", "test"));
    for (String pattern : allowPatterns) {
      builder.addRule(Rule.allow(pattern, "test"));
    }
    return new PolicyEngine(builder.build(), false);
  }

  public static PolicyEngine standard() {
    return engine(AccessMode.FULL, "allowed.test", "**.allowed.test", "denied.test", "private.test", "127.0.0.1");
  }
}
