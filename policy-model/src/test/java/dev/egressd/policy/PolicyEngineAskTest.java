package dev.egressd.policy;

import static dev.egressd.policy.Policies.ip;
import static dev.egressd.policy.Policies.policy;
import static dev.egressd.policy.Policies.request;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.egressd.policy.Decision.Verdict;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The policy's own ask: ask rules and {@code default = "ask"}, which hold a request for a person. */
class PolicyEngineAskTest {
  @ParameterizedTest(name = "{0}: {1} {2} {3} -> {4} {5}")
  @CsvSource({
      // An ask rule holds what it matches; the most specific of allow and ask wins, deny beats both.
      "'?*.a.test', HTTP, GET, x.a.test:80, ask, not_allowed",
      "'?*.a.test +x.a.test', HTTP, GET, x.a.test:80, allow, allow",
      "'+*.a.test ?x.a.test', HTTP, GET, x.a.test:80, ask, not_allowed",
      "'+*.a.test ?x.a.test', HTTP, GET, y.a.test:80, allow, allow",
      "'?x.a.test +x.a.test', HTTP, GET, x.a.test:80, ask, not_allowed",
      "'+x.a.test ?x.a.test', HTTP, GET, x.a.test:80, ask, not_allowed",
      "'?x.a.test:443 +x.a.test', HTTPS_CONNECT, CONNECT, x.a.test:443, ask, not_allowed",
      "'?x.a.test:443 +x.a.test', HTTP, GET, x.a.test:80, allow, allow",
      "'?**.a.test -bad.a.test', HTTP, GET, bad.a.test:80, deny, denied",
      "'?x.a.test off', HTTP, GET, x.a.test:80, deny, proxy_disabled",
      // Every protocol can be asked.
      "'?x.a.test', HTTPS_CONNECT, CONNECT, x.a.test:443, ask, not_allowed",
      "'?x.a.test', SOCKS5_TCP, , x.a.test:22, ask, not_allowed",
      "'?x.a.test', SOCKS5_UDP, , x.a.test:53, ask, not_allowed",
      "'?x.a.test limited mitm', HTTPS, GET, x.a.test:443, ask, not_allowed",
      // The mode guard and the local-literal check refuse before anyone is asked.
      "'?x.a.test limited', HTTP, POST, x.a.test:80, deny, method_not_allowed",
      "'?x.a.test limited', HTTPS_CONNECT, CONNECT, x.a.test:443, deny, mitm_required",
      "'?*', HTTP, GET, 127.0.0.1:80, deny, not_allowed_local",
      "'?10.1.2.3', HTTP, GET, 10.1.2.3:80, ask, not_allowed",
      // default = "ask": a miss is held, except what a decider could not overrule either.
      "'+a.test askmiss', HTTP, GET, b.test:80, ask, not_allowed",
      "'+a.test askmiss', SOCKS5_UDP, , b.test:53, ask, not_allowed",
      "'+a.test askmiss', HTTP, GET, a.test:80, allow, allow",
      "'+a.test -b.test askmiss', HTTP, GET, b.test:80, deny, denied",
      "'+a.test askmiss', HTTP, GET, 127.0.0.1:80, deny, not_allowed",
      "'+a.test askmiss', HTTP, GET, localhost:80, deny, not_allowed",
      "'+a.test askmiss local', HTTP, GET, 127.0.0.1:80, ask, not_allowed",
      "'+a.test askmiss limited', HTTP, POST, b.test:80, deny, not_allowed",
      "'+a.test askmiss off', HTTP, GET, b.test:80, deny, proxy_disabled",
      "'+a.test', HTTP, GET, b.test:80, deny, not_allowed",
  })
  void whatIsAsked(String spec, Protocol protocol, String method, String authority, String verdict, String reason) {
    PolicyEngine engine = new PolicyEngine(policy(spec), false);
    Decision decision = engine.decide(request(protocol, method, authority));
    assertThat(decision.verdict().label()).isEqualTo(verdict);
    assertThat(decision.reason().code()).isEqualTo(reason);
    assertThat(engine.asksPerson(decision)).isEqualTo(verdict.equals("ask"));
  }

  @Test
  void thePolicysAskGoesToAPersonNotToTheDecider() {
    PolicyEngine engine = new PolicyEngine(policy("?x.a.test askmiss"), false);
    for (String authority : List.of("x.a.test:80", "b.test:80")) {
      AccessRequest request = request(Protocol.HTTP, "GET", authority);
      Decision asked = engine.decide(request);
      assertThat(asked.source()).isEqualTo(PolicySource.BASELINE_POLICY);
      assertThat(engine.consultsDecider(request, asked)).isFalse();
    }
  }

  @Test
  void theAskSaysWhichRuleHoldsTheRequestAndHowToAllowItOutright() {
    PolicyEngine engine = new PolicyEngine(policy("?*.a.test askmiss"), false);
    Decision byRule = engine.decide(request(Protocol.HTTP, "GET", "x.a.test:80"));
    assertThat(byRule.rule()).map(r -> r.pattern().text()).contains("*.a.test");
    assertThat(byRule.hint()).isEqualTo("Rule \"*.a.test\" (ask-origin) holds x.a.test:80 for approval. Make it"
        + " \"allow\" to allow it without asking.");
    Decision byDefault = engine.decide(request(Protocol.HTTP, "GET", "b.test:80"));
    assertThat(byDefault.rule()).isEmpty();
    assertThat(byDefault.hint()).isEqualTo("default = \"ask\" in profile \"test\" holds b.test:80 for approval. Add"
        + " \"b.test\" to allowed_domains to allow it without asking.");
  }

  @Test
  void anApprovalIsAnOverrideAndStillVetted() {
    PolicyEngine engine = new PolicyEngine(policy("?*.a.test"), false);
    AccessRequest request = request(Protocol.HTTPS_CONNECT, "CONNECT", "x.a.test:443");
    Decision approved = engine.approval(request, engine.decide(request), true, "cli");
    assertThat(approved.verdict()).isEqualTo(Verdict.ALLOW);
    assertThat(approved.source()).isEqualTo(PolicySource.APPROVAL);
    assertThat(approved.overridden()).isTrue();
    assertThat(approved.reasonText()).isEqualTo("approved by cli");
    assertThat(engine.vet(request, approved, List.of(ip("93.184.215.14")))).isSameAs(approved);
    assertThat(engine.vet(request, approved, List.of(ip("127.0.0.1"))).reason()).isEqualTo(Reason.NOT_ALLOWED_LOCAL);

    Decision denied = engine.approval(request, engine.decide(request), false, "watch");
    assertThat(denied.reason()).isEqualTo(Reason.APPROVAL_DENIED);
    assertThat(denied.hint()).isEqualTo("x.a.test:443 was denied by watch.");
  }

  @Test
  void anIpAllowRuleExemptsAnAddressBehindAnAskRuleButNotBehindAnUnlistedName() {
    PolicyEngine engine = new PolicyEngine(policy("?*.a.test +127.0.0.1 askmiss"), false);
    AccessRequest listed = request(Protocol.HTTP, "GET", "x.a.test:80");
    Decision approvedListed = engine.approval(listed, engine.decide(listed), true, "cli");
    assertThat(engine.vet(listed, approvedListed, List.of(ip("127.0.0.1"))).allowed()).isTrue();

    AccessRequest unlisted = request(Protocol.HTTP, "GET", "b.test:80");
    Decision approvedUnlisted = engine.approval(unlisted, engine.decide(unlisted), true, "cli");
    assertThat(engine.vet(unlisted, approvedUnlisted, List.of(ip("127.0.0.1"))).reason())
        .isEqualTo(Reason.NOT_ALLOWED_LOCAL);
  }

  @Test
  void anExplicitLocalLiteralAskRuleCanBeApproved() {
    PolicyEngine engine = new PolicyEngine(policy("?10.1.2.3"), false);
    AccessRequest request = request(Protocol.HTTP, "GET", "10.1.2.3:80");
    Decision approved = engine.approval(request, engine.decide(request), true, "cli");
    assertThat(engine.vet(request, approved, List.of(ip("10.1.2.3"))).allowed()).isTrue();
  }

  @Test
  void onlyAMissOrTheAskCanBeApproved() {
    PolicyEngine engine = new PolicyEngine(policy("+a.test -b.test"), false);
    for (String authority : List.of("a.test:80", "b.test:80", "127.0.0.1:80")) {
      AccessRequest request = request(Protocol.HTTP, "GET", authority);
      Decision decision = engine.decide(request);
      assertThatThrownBy(() -> engine.approval(request, decision, true, "cli"))
          .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("expected: an allowlist miss");
    }
  }

  @Test
  void askRulesAreNotAllowRules() {
    NetworkPolicy policy = policy("?x.a.test ?10.0.0.0/8");
    assertThat(policy.asks()).isTrue();
    assertThat(policy.matchAllow(HostName.parse("x.a.test"), 80)).isNull();
    assertThat(policy.matchAllowAddress(ip("10.1.2.3"), 80)).isNull();
    assertThat(policy.matchAllowOrAsk(HostName.parse("x.a.test"), 80).action()).isEqualTo(Rule.Action.ASK);
    assertThat(policy("+a.test").asks()).isFalse();
    assertThat(policy("+a.test askmiss").asks()).isTrue();
  }

  @Test
  void theAskTimeoutDefaultsTo120SecondsAndSurvivesToBuilder() {
    assertThat(policy("+a.test").askTimeout()).isEqualTo(Duration.ofSeconds(120));
    NetworkPolicy copied = NetworkPolicy.builder().askOnMiss(true).askTimeout(Duration.ofSeconds(7)).build()
        .toBuilder().build();
    assertThat(copied.askOnMiss()).isTrue();
    assertThat(copied.askTimeout()).isEqualTo(Duration.ofSeconds(7));
    assertThatThrownBy(() -> NetworkPolicy.builder().askTimeout(Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
