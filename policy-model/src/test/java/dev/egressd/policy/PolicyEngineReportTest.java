package dev.egressd.policy;

import static dev.egressd.policy.Policies.ip;
import static dev.egressd.policy.Policies.request;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Report mode: {@link PolicyEngine#enforce} turns the policy's own refusals into audited allows, and nothing else. */
class PolicyEngineReportTest {
  private static final RuleMetadata REPORT = new RuleMetadata(null, null, null, true);
  private static final RuleMetadata ENFORCE = new RuleMetadata(null, null, null, false);

  private static NetworkPolicy.Builder base(boolean report) {
    return NetworkPolicy.builder().scope(Policies.SCOPE).report(report)
        .addRule(Rule.allow("allowed.test", "allow-origin"))
        .addRule(Rule.deny("denied.test", "deny-origin"));
  }

  private static Rule rule(String pattern, Rule.Action action, RuleMetadata metadata) {
    return new Rule(HostPattern.parse(pattern), action, "meta-origin", metadata);
  }

  private static Decision decideAndEnforce(PolicyEngine engine, Protocol protocol, String method, String target) {
    return engine.enforce(engine.decide(request(protocol, method, target)));
  }

  @Test
  void reportModeLetsTheAllowlistAndDenyRulesThroughAndKeepsTheirReasonAndRule() {
    PolicyEngine engine = new PolicyEngine(base(true).build(), false);

    Decision unlisted = decideAndEnforce(engine, Protocol.HTTPS_CONNECT, null, "other.test:443");
    Decision denied = decideAndEnforce(engine, Protocol.HTTP, "GET", "denied.test:80");

    assertThat(unlisted.allowed()).isTrue();
    assertThat(unlisted.reported()).isTrue();
    assertThat(unlisted.reason()).isEqualTo(Reason.NOT_ALLOWED);
    assertThat(unlisted.wouldDeny().verdict()).isEqualTo(Decision.Verdict.DENY);
    assertThat(unlisted.overridden()).as("not a decider's or a person's allow").isFalse();
    assertThat(denied.reported()).isTrue();
    assertThat(denied.reason()).isEqualTo(Reason.DENIED);
    assertThat(denied.rule()).map(r -> r.pattern().text()).contains("denied.test");
  }

  @Test
  void anAllowIsNeverMarked() {
    PolicyEngine engine = new PolicyEngine(base(true).build(), false);

    Decision allowed = decideAndEnforce(engine, Protocol.HTTP, "GET", "allowed.test:80");

    assertThat(allowed.allowed()).isTrue();
    assertThat(allowed.reported()).isFalse();
    assertThat(allowed.reason()).isEqualTo(Reason.ALLOW);
  }

  @Test
  void theModeGuardIsReportedButAMissingInterceptionStageIsNot() {
    PolicyEngine withoutMitm = new PolicyEngine(base(true).mode(AccessMode.LIMITED).build(), false);

    Decision post = decideAndEnforce(withoutMitm, Protocol.HTTP, "POST", "allowed.test:80");
    Decision tunnel = decideAndEnforce(withoutMitm, Protocol.HTTPS_CONNECT, null, "allowed.test:443");

    assertThat(post.reported()).isTrue();
    assertThat(post.reason()).isEqualTo(Reason.METHOD_NOT_ALLOWED);
    assertThat(tunnel.allowed()).isFalse();
    assertThat(tunnel.reason()).isEqualTo(Reason.MITM_REQUIRED);
  }

  @Test
  void anEnforcedPolicyEnforces() {
    PolicyEngine engine = new PolicyEngine(base(false).build(), false);

    assertThat(decideAndEnforce(engine, Protocol.HTTP, "GET", "other.test:80").allowed()).isFalse();
    assertThat(decideAndEnforce(engine, Protocol.HTTP, "GET", "denied.test:80").allowed()).isFalse();
  }

  @Test
  void aRuleWithReportTrueIsTrialledInAnEnforcedPolicy() {
    PolicyEngine engine = new PolicyEngine(base(false)
        .addRule(rule("trial.test", Rule.Action.DENY, REPORT)).build(), false);

    assertThat(decideAndEnforce(engine, Protocol.HTTP, "GET", "trial.test:80").reported()).isTrue();
    assertThat(decideAndEnforce(engine, Protocol.HTTP, "GET", "denied.test:80").allowed()).isFalse();
    assertThat(decideAndEnforce(engine, Protocol.HTTP, "GET", "other.test:80").allowed())
        .as("a miss has no rule: the policy's enforcement applies").isFalse();
  }

  @Test
  void aRuleWithReportFalseIsEnforcedInAReportedPolicy() {
    PolicyEngine engine = new PolicyEngine(base(true)
        .addRule(rule("kept.test", Rule.Action.DENY, ENFORCE)).build(), false);

    Decision kept = decideAndEnforce(engine, Protocol.HTTP, "GET", "kept.test:80");

    assertThat(kept.allowed()).isFalse();
    assertThat(kept.reason()).isEqualTo(Reason.DENIED);
  }

  @ParameterizedTest
  @EnumSource(Reason.class)
  void onlyThePolicysOwnRefusalsAreReportable(Reason reason) {
    EnumSet<Reason> policyRefusals = EnumSet.of(Reason.NOT_ALLOWED, Reason.DENIED, Reason.METHOD_NOT_ALLOWED,
        Reason.DECIDER_DENIED, Reason.APPROVAL_DENIED, Reason.APPROVAL_TIMEOUT, Reason.MITM_HOOK_DENIED,
        Reason.CREDENTIAL_MISUSE);
    assertThat(reason.reportable()).isEqualTo(policyRefusals.contains(reason));
    if (reason == Reason.ALLOW) {
      return;
    }
    PolicyEngine engine = new PolicyEngine(base(true).build(), false);
    Decision refusal = Decision.deny(reason, PolicySource.PROXY_STATE, null, "hint");

    Decision enforced = engine.enforce(refusal);

    if (reason.reportable()) {
      assertThat(enforced.reported()).isTrue();
      assertThat(enforced.wouldDeny()).isEqualTo(refusal);
    } else {
      assertThat(enforced).isSameAs(refusal);
    }
  }

  @Test
  void aReportedNameEarnsNoIpRuleExemptionFromTheLocalAddressCheck() {
    PolicyEngine engine = new PolicyEngine(base(true).addRule(Rule.allow("10.0.0.5", "ip-origin")).build(), false);
    AccessRequest request = request(Protocol.HTTPS_CONNECT, null, "other.test:443");
    Decision reported = engine.enforce(engine.decide(request));

    Decision vetted = engine.enforce(engine.vet(request, reported, List.of(ip("10.0.0.5"))));

    assertThat(vetted.allowed()).isFalse();
    assertThat(vetted.reason()).isEqualTo(Reason.NOT_ALLOWED_LOCAL);
    assertThat(engine.vet(request, reported, List.of(ip("93.184.216.34")))).isSameAs(reported);
  }

  @Test
  void aReportedNameResolvingIntoADenyCidrIsReportedAgain() {
    PolicyEngine engine = new PolicyEngine(base(true).allowLocalBinding(true)
        .addRule(Rule.deny("192.0.2.0/24", "cidr-origin")).build(), false);
    AccessRequest request = request(Protocol.HTTPS_CONNECT, null, "allowed.test:443");

    Decision vetted = engine.enforce(engine.vet(request, engine.decide(request), List.of(ip("192.0.2.7"))));

    assertThat(vetted.reported()).isTrue();
    assertThat(vetted.rule()).map(r -> r.pattern().text()).contains("192.0.2.0/24");
  }

  @Test
  void reportedStandsInOnlyForARefusal() {
    Decision allow = Decision.allow(Rule.allow("a.test", "o"));

    assertThatThrownBy(() -> Decision.reported(allow)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new Decision(Decision.Verdict.DENY, Reason.DENIED, PolicySource.BASELINE_POLICY,
        Optional.empty(), "", "", Decision.deny(Reason.DENIED, PolicySource.BASELINE_POLICY, null, "")))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
