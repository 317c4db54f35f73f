package dev.egressd.policy;

import static dev.egressd.policy.Policies.ip;
import static dev.egressd.policy.Policies.policy;
import static dev.egressd.policy.Policies.request;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.egressd.policy.Decision.Verdict;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/** When a decider is consulted, and what its answer makes of an allowlist miss. */
class PolicyEngineDeciderTest {
  private static Decision decided(PolicyEngine engine, AccessRequest request) {
    return engine.decide(request);
  }

  @ParameterizedTest(name = "{0}: {1} {2} {3} -> not consulted ({4})")
  @CsvSource({
      "'+a.test -evil.test', HTTP, GET, evil.test:80, denied",
      "'+a.test off', HTTP, GET, b.test:80, proxy_disabled",
      "'+a.test', HTTP, GET, 127.0.0.1:80, not_allowed",
      "'+a.test', HTTP, GET, 10.1.2.3:80, not_allowed",
      "'+a.test', HTTPS_CONNECT, CONNECT, '[::1]:443', not_allowed",
      "'+a.test', HTTP, GET, localhost:8080, not_allowed",
      "'+a.test', SOCKS5_TCP, , 169.254.169.254:80, not_allowed",
      "'+a.test limited', HTTP, POST, b.test:80, not_allowed",
      "'+a.test limited', HTTPS_CONNECT, CONNECT, b.test:443, not_allowed",
      "'+a.test limited', SOCKS5_TCP, , b.test:22, not_allowed",
      "'+a.test limited', SOCKS5_UDP, , b.test:53, not_allowed",
      "'+a.test', HTTP, GET, a.test:80, allow",
  })
  void refusalsAndAllowsThatStandAreNeverReferred(String spec, Protocol protocol, String method, String authority,
      String reason) {
    PolicyEngine engine = new PolicyEngine(policy(spec), false);
    AccessRequest request = request(protocol, method, authority);
    Decision decision = decided(engine, request);
    assertThat(decision.reason().code()).isEqualTo(reason);
    assertThat(engine.consultsDecider(request, decision)).isFalse();
    assertThatThrownBy(() -> engine.overrule(request, decision, DeciderAnswer.allow("")))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("expected: an allowlist miss");
  }

  @ParameterizedTest(name = "{0}: {1} {2} {3}")
  @CsvSource({
      "'+a.test', HTTP, POST, b.test:80",
      "'+a.test', HTTPS_CONNECT, CONNECT, b.test:443",
      "'+a.test', SOCKS5_UDP, , b.test:53",
      "'+a.test limited', HTTP, GET, b.test:80",
      "'+a.test limited mitm', HTTPS, HEAD, b.test:443",
      "'+a.test local', HTTP, GET, 127.0.0.1:80",
      "'+a.test', HTTP, GET, 93.184.215.14:80",
  })
  void allowlistMissesAreReferred(String spec, Protocol protocol, String method, String authority) {
    PolicyEngine engine = new PolicyEngine(policy(spec), false);
    AccessRequest request = request(protocol, method, authority);
    assertThat(engine.consultsDecider(request, decided(engine, request))).isTrue();
  }

  @Test
  void limitedHttpsTunnelsAreReferredWhenInterceptionCanCheckThem() {
    PolicyEngine engine = new PolicyEngine(policy("+a.test limited mitm"), true);
    AccessRequest request = request(Protocol.HTTPS_CONNECT, "CONNECT", "b.test:443");
    assertThat(engine.consultsDecider(request, decided(engine, request))).isTrue();
  }

  @Test
  void anAllowIsAnOverrideAsTheReferenceAuditsIt() {
    PolicyEngine engine = new PolicyEngine(policy("+a.test"), false);
    AccessRequest request = request(Protocol.HTTP, "GET", "b.test:80");
    Decision allowed = engine.overrule(request, decided(engine, request), DeciderAnswer.allow(""));
    assertThat(allowed.allowed()).isTrue();
    assertThat(allowed.overridden()).isTrue();
    assertThat(allowed.source()).isEqualTo(PolicySource.DECIDER);
    assertThat(allowed.reasonLabel()).isEqualTo("not_allowed");
    assertThat(allowed.rule()).isEmpty();
    Decision withText = engine.overrule(request, decided(engine, request), DeciderAnswer.allow("ticket OPS-1"));
    assertThat(withText.reasonLabel()).isEqualTo("ticket OPS-1");
  }

  @Test
  void anAllowedNameIsStillVettedSoItCannotOpenALocalAddress() {
    PolicyEngine engine = new PolicyEngine(policy("+a.test"), false);
    AccessRequest request = request(Protocol.HTTPS_CONNECT, "CONNECT", "rebind.test:443");
    Decision allowed = engine.overrule(request, decided(engine, request), DeciderAnswer.allow(""));
    for (String local : List.of("127.0.0.1", "10.0.0.7", "169.254.169.254", "::1", "::ffff:127.0.0.1")) {
      Decision vetted = engine.vet(request, allowed, List.of(ip("93.184.215.14"), ip(local)));
      assertThat(vetted.reason()).as(local).isEqualTo(Reason.NOT_ALLOWED_LOCAL);
      assertThat(vetted.allowed()).isFalse();
    }
    assertThat(engine.vet(request, allowed, List.of(ip("93.184.215.14")))).isSameAs(allowed);
  }

  @Test
  void anIpAllowRuleDoesNotExemptANameTheDeciderOpenedButAllowLocalBindingDoes() {
    AccessRequest request = request(Protocol.HTTP, "GET", "rebind.test:80");
    PolicyEngine ipRule = new PolicyEngine(policy("+a.test +10.0.0.0/8"), false);
    Decision allowed = ipRule.overrule(request, decided(ipRule, request), DeciderAnswer.allow(""));
    assertThat(ipRule.vet(request, allowed, List.of(ip("10.0.0.7"))).reason()).isEqualTo(Reason.NOT_ALLOWED_LOCAL);
    PolicyEngine local = new PolicyEngine(policy("+a.test local"), false);
    Decision opted = local.overrule(request, decided(local, request), DeciderAnswer.allow(""));
    assertThat(local.vet(request, opted, List.of(ip("10.0.0.7")))).isSameAs(opted);
  }

  @Test
  void aDenyRuleOnAnAddressStillRefusesAnAllowedName() {
    PolicyEngine engine = new PolicyEngine(policy("+a.test -93.184.215.0/24"), false);
    AccessRequest request = request(Protocol.HTTP, "GET", "b.test:80");
    Decision allowed = engine.overrule(request, decided(engine, request), DeciderAnswer.allow(""));
    assertThat(engine.vet(request, allowed, List.of(ip("93.184.215.14"))).reason()).isEqualTo(Reason.DENIED);
  }

  @Test
  void aDenyCarriesTheDecidersReasonOrTheReferenceDefault() {
    PolicyEngine engine = new PolicyEngine(policy("+a.test"), false);
    AccessRequest request = request(Protocol.HTTP, "GET", "b.test:80");
    Decision denied = engine.overrule(request, decided(engine, request), DeciderAnswer.deny("unreviewed host"));
    assertThat(denied.verdict()).isEqualTo(Verdict.DENY);
    assertThat(denied.source()).isEqualTo(PolicySource.DECIDER);
    assertThat(denied.reasonLabel()).isEqualTo("unreviewed host");
    assertThat(denied.reason().proxyError()).isEqualTo("blocked-by-policy");
    assertThat(denied.message()).isEqualTo("Request blocked by network policy. The policy decider refused b.test:"
        + "80: unreviewed host.");
    assertThat(denied.overridden()).isFalse();
    Decision plain = engine.overrule(request, decided(engine, request), DeciderAnswer.deny(null));
    assertThat(plain.reasonLabel()).isEqualTo("policy_denied");
  }

  @Test
  void anAskRefusesWithDecisionAskAndSaysHowToAllow() {
    PolicyEngine engine = new PolicyEngine(policy("+a.test"), false);
    AccessRequest request = request(Protocol.HTTPS_CONNECT, "CONNECT", "b.test:443");
    Decision asked = engine.overrule(request, decided(engine, request), DeciderAnswer.ask("needs review"));
    assertThat(asked.verdict()).isEqualTo(Verdict.ASK);
    assertThat(asked.allowed()).isFalse();
    assertThat(asked.source()).isEqualTo(PolicySource.DECIDER);
    assertThat(asked.reason().proxyError()).isEqualTo("blocked-by-allowlist");
    assertThat(asked.message()).contains("asks for approval of b.test:443: needs review.")
        .contains("Add \"b.test\" to allowed_domains in profile \"test\"");
  }

  @Test
  void failuresAndTimeoutsRefuseAndSaySo() {
    PolicyEngine engine = new PolicyEngine(policy("+a.test"), false);
    Decision failed = engine.deciderFailed("answered invalid JSON");
    assertThat(failed.reason()).isEqualTo(Reason.DECIDER_FAILED);
    assertThat(failed.reasonLabel()).isEqualTo("decider_failed");
    assertThat(failed.source()).isEqualTo(PolicySource.DECIDER);
    assertThat(failed.message()).isEqualTo("The policy decider failed, so the request is refused (egressd fails"
        + " closed). The decider answered invalid JSON.");
    Decision late = engine.deciderTimedOut(Duration.ofMillis(1500));
    assertThat(late.reasonLabel()).isEqualTo("decider_timeout");
    assertThat(late.message()).endsWith("(egressd fails closed). No answer within 1500 ms.");
    assertThat(late.reason().proxyError()).isEqualTo("blocked-by-policy");
  }
}
