package dev.egressd.proxy.decider;

import static org.assertj.core.api.Assertions.assertThat;

import dev.egressd.audit.AuditEvent;
import dev.egressd.audit.ProxyMetrics;
import dev.egressd.policy.AccessMode;
import dev.egressd.policy.AccessRequest;
import dev.egressd.policy.DeciderAnswer;
import dev.egressd.policy.DeciderException;
import dev.egressd.policy.Decision;
import dev.egressd.policy.Destination;
import dev.egressd.policy.PolicyDecider;
import dev.egressd.policy.PolicyEngine;
import dev.egressd.policy.PolicySource;
import dev.egressd.policy.Protocol;
import dev.egressd.proxy.testing.FakeResolver;
import dev.egressd.proxy.testing.RecordingAuditSink;
import dev.egressd.proxy.testing.TestPolicies;
import dev.egressd.proxy.tunnel.LoopGuard;
import dev.egressd.proxy.tunnel.TunnelEstablisher;
import dev.egressd.proxy.tunnel.UpstreamConnector;
import dev.egressd.proxy.tunnel.Vetting;
import java.time.Clock;
import io.netty.channel.DefaultEventLoop;
import io.netty.channel.EventLoop;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The decision step with a decider, on the one connection path: who is asked, what an answer becomes, and that
 * every way a decider can fail refuses (fail closed) and is audited once. No sockets: the resolver is a stand-in.
 */
class DeciderStepTest {
  private static final Duration TIMEOUT = Duration.ofMillis(300);

  // Public-looking addresses that are never dialled; rebind.test is a name whose answer is loopback.
  private final FakeResolver resolver = new FakeResolver().map("allowed.test", "93.184.215.14")
      .map("open.test", "93.184.215.20").map("rebind.test", "93.184.215.21", "127.0.0.1")
      .map("metadata.test", "169.254.169.254");
  private final RecordingAuditSink audit = new RecordingAuditSink();
  private final List<AccessRequest> asked = new CopyOnWriteArrayList<>();
  private final Map<String, Long> outcomes = new ConcurrentHashMap<>();
  private final EventLoop loop = new DefaultEventLoop();
  private final ProxyMetrics metrics = new ProxyMetrics() {
    @Override
    public void deciderAnswered(long nanos, String outcome) {
      outcomes.merge(outcome, 1L, Long::sum);
    }
  };

  @AfterEach
  void stop() {
    loop.shutdownGracefully(0, 0, TimeUnit.SECONDS);
  }

  private int vets;

  private DeciderStep.Asking asking;

  private Vetting vet(PolicyEngine engine, PolicyDecider decider, AccessRequest request) throws Exception {
    return vetLater(engine, decider, request).get(5, TimeUnit.SECONDS);
  }

  private io.netty.util.concurrent.Future<Vetting> vetLater(PolicyEngine engine, PolicyDecider decider,
      AccessRequest request) {
    vets++;
    PolicyDecider recording = r -> {
      asked.add(r);
      return decider.decide(r);
    };
    UpstreamConnector connector = new UpstreamConnector(() -> engine, resolver, audit, NioSocketChannel.class,
        Duration.ofSeconds(1), Duration.ofSeconds(1), Clock.systemUTC(), LoopGuard.NONE, ProxyMetrics.NONE);
    TunnelEstablisher establisher = new TunnelEstablisher(connector,
        new DeciderStep(recording, TIMEOUT, metrics, asking), connector, null, Duration.ofSeconds(30));
    return establisher.vet(request, loop);
  }

  private static AccessRequest request(Protocol protocol, String method, String authority) {
    return new AccessRequest(Destination.parseAuthority(authority), protocol, method, false, "127.0.0.1:5555", 7);
  }

  private static AccessRequest connect(String authority) {
    return request(Protocol.HTTPS_CONNECT, "CONNECT", authority);
  }

  private static PolicyDecider answering(DeciderAnswer answer) {
    return request -> CompletableFuture.completedFuture(answer);
  }

  private Decision refusal(Vetting vetting) {
    assertThat(vetting).isInstanceOf(Vetting.Refused.class);
    assertThat(audit.decisions()).hasSize(vets).last().satisfies(d -> assertThat(d.decision())
        .isEqualTo(((Vetting.Refused) vetting).decision()));
    return ((Vetting.Refused) vetting).decision();
  }

  @Test
  void anAllowOpensAnUnlistedNameAndIsAuditedAsAnOverride() throws Exception {
    Vetting vetting = vet(TestPolicies.standard(), answering(DeciderAnswer.allow("ticket 12")), connect("open.test:443"));

    assertThat(vetting).isInstanceOfSatisfying(Vetting.Approved.class, approved -> {
      assertThat(approved.decision().overridden()).isTrue();
      assertThat(approved.addresses()).hasToString("[93.184.215.20]");
    });
    assertThat(asked).singleElement().satisfies(r -> {
      assertThat(r.destination().authority()).isEqualTo("open.test:443");
      assertThat(r.protocol()).isEqualTo(Protocol.HTTPS_CONNECT);
      assertThat(r.connectionId()).isEqualTo(7);
      assertThat(r.client()).isEqualTo("127.0.0.1:5555");
    });
    assertThat(audit.decisions()).singleElement().satisfies(d -> {
      assertThat(d.decision().source()).isEqualTo(PolicySource.DECIDER);
      assertThat(d.decision().reasonLabel()).isEqualTo("ticket 12");
    });
    assertThat(outcomes).containsEntry("allow", 1L);
  }

  @Test
  void anAllowForANameThatResolvesToLoopbackOrMetadataIsStillRefused() throws Exception {
    Decision rebind = refusal(vet(TestPolicies.engine(AccessMode.FULL, "allowed.test"),
        answering(DeciderAnswer.allow("")), connect("rebind.test:443")));
    assertThat(rebind.reason().code()).isEqualTo("not_allowed_local");
    assertThat(rebind.message()).contains("rebind.test resolved to 127.0.0.1");
    assertThat(asked).hasSize(1);
  }

  @Test
  void anIpRuleForLoopbackDoesNotExemptANameTheDeciderOpened() throws Exception {
    // standard() allows 127.0.0.1 by an explicit rule: for its own host, not for whatever a decider lets through.
    Decision rebind = refusal(vet(TestPolicies.standard(), answering(DeciderAnswer.allow("")),
        request(Protocol.HTTP, "GET", "rebind.test:80")));
    assertThat(rebind.reason().code()).isEqualTo("not_allowed_local");
  }

  @Test
  void anAllowForALinkLocalAnswerIsRefused() throws Exception {
    Decision metadata = refusal(vet(TestPolicies.standard(), answering(DeciderAnswer.allow("")),
        request(Protocol.HTTP, "GET", "metadata.test:80")));
    assertThat(metadata.reason().code()).isEqualTo("not_allowed_local");
  }

  @Test
  void denyAndAskAreRefusalsFromTheDecider() throws Exception {
    Decision denied = refusal(vet(TestPolicies.standard(), answering(DeciderAnswer.deny("not reviewed")),
        connect("open.test:443")));
    assertThat(denied.reasonLabel()).isEqualTo("not reviewed");
    assertThat(denied.source()).isEqualTo(PolicySource.DECIDER);
    assertThat(resolver.lookups()).isEmpty();
  }

  @Test
  void askIsRefusedWithDecisionAskUntilApprovalsExist() throws Exception {
    Decision asked = refusal(vet(TestPolicies.standard(), answering(DeciderAnswer.ask("")), connect("open.test:443")));
    assertThat(asked.verdict()).isEqualTo(Decision.Verdict.ASK);
    assertThat(outcomes).containsEntry("ask", 1L);
  }

  @Test
  void anAskWaitsForAPersonAndTheAskIsAuditedBeforeTheAnswer() throws Exception {
    Approvals approvals = new Approvals(Clock.systemUTC());
    asking = new DeciderStep.Asking(approvals, audit, Clock.systemUTC());
    var waiting = vetLater(TestPolicies.standard(), answering(DeciderAnswer.ask("review")), connect("open.test:443"));
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (approvals.pending().isEmpty() && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    assertThat(approvals.pending()).singleElement().satisfies(p -> assertThat(p.reason()).isEqualTo("review"));
    assertThat(waiting.isDone()).isFalse();
    assertThat(audit.decisions()).singleElement().satisfies(d ->
        assertThat(d.decision().verdict()).isEqualTo(Decision.Verdict.ASK));

    approvals.answer(approvals.pending().get(0).id(), new Approvals.Answer(true, "cli"), Approvals.Scope.HOST, null);
    assertThat(waiting.get(5, TimeUnit.SECONDS)).isInstanceOfSatisfying(Vetting.Approved.class, approved -> {
      assertThat(approved.decision().source()).isEqualTo(PolicySource.APPROVAL);
      assertThat(approved.decision().overridden()).isTrue();
      assertThat(approved.decision().reasonLabel()).isEqualTo("approved by cli");
    });
    assertThat(audit.decisions()).hasSize(2);
    // The standing answer decides the next request without the decider.
    asked.clear();
    assertThat(vet(TestPolicies.standard(), answering(DeciderAnswer.deny("")), connect("open.test:8443")))
        .isInstanceOf(Vetting.Approved.class);
    assertThat(asked).isEmpty();
  }

  @Test
  void anApprovedNameIsStillVetted() throws Exception {
    Approvals approvals = new Approvals(Clock.systemUTC());
    asking = new DeciderStep.Asking(approvals, audit, Clock.systemUTC());
    var waiting = vetLater(TestPolicies.engine(AccessMode.FULL, "allowed.test"), answering(DeciderAnswer.ask("")),
        connect("rebind.test:443"));
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (approvals.pending().isEmpty() && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    approvals.answer(approvals.pending().get(0).id(), new Approvals.Answer(true, "cli"), Approvals.Scope.ONCE, null);
    assertThat(waiting.get(5, TimeUnit.SECONDS)).isInstanceOfSatisfying(Vetting.Refused.class,
        refused -> assertThat(refused.decision().reason().code()).isEqualTo("not_allowed_local"));
  }

  @Test
  void nobodyAnsweringTimesOutAndIsNoLongerPending() throws Exception {
    Approvals approvals = new Approvals(Clock.systemUTC());
    asking = new DeciderStep.Asking(approvals, audit, Clock.systemUTC());
    PolicyEngine engine = new PolicyEngine(TestPolicies.standard().policy().toBuilder()
        .askTimeout(Duration.ofMillis(200)).build(), false);
    Vetting vetting = vet(engine, answering(DeciderAnswer.ask("")), connect("open.test:443"));
    assertThat(vetting).isInstanceOfSatisfying(Vetting.Refused.class, refused -> {
      assertThat(refused.decision().reasonLabel()).isEqualTo("approval_timeout");
      assertThat(refused.decision().message()).contains("egressd approve 1")
          .endsWith("or add \"open.test\" to allowed_domains.");
    });
    assertThat(approvals.pending()).isEmpty();
  }

  private static PolicyEngine asking(String askPattern, boolean askOnMiss, Duration timeout) {
    return new PolicyEngine(TestPolicies.standard().policy().toBuilder()
        .addRule(dev.egressd.policy.Rule.ask(askPattern, "ask-origin")).askOnMiss(askOnMiss).askTimeout(timeout)
        .build(), false);
  }

  private Vetting vetWithoutDecider(PolicyEngine engine, AccessRequest request) throws Exception {
    return vetLaterWithoutDecider(engine, request).get(5, TimeUnit.SECONDS);
  }

  private io.netty.util.concurrent.Future<Vetting> vetLaterWithoutDecider(PolicyEngine engine, AccessRequest request) {
    vets++;
    UpstreamConnector connector = new UpstreamConnector(() -> engine, resolver, audit, NioSocketChannel.class,
        Duration.ofSeconds(1), Duration.ofSeconds(1), Clock.systemUTC(), LoopGuard.NONE, ProxyMetrics.NONE);
    TunnelEstablisher establisher = new TunnelEstablisher(connector, new DeciderStep(null, TIMEOUT, metrics, asking),
        connector, null, Duration.ofSeconds(30));
    return establisher.vet(request, loop);
  }

  /** A refusal after an ask: the ask event, then the refusal, are the last two audit events. */
  private Decision askedAndRefused(Vetting vetting) {
    assertThat(vetting).isInstanceOf(Vetting.Refused.class);
    Decision refused = ((Vetting.Refused) vetting).decision();
    List<AuditEvent.PolicyDecision> events = audit.decisions();
    assertThat(events.get(events.size() - 2).decision().verdict()).isEqualTo(Decision.Verdict.ASK);
    assertThat(events.get(events.size() - 1).decision()).isEqualTo(refused);
    return refused;
  }

  private static void awaitPending(Approvals approvals) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (approvals.pending().isEmpty() && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
  }

  @Test
  void anAskRuleWaitsForAPersonWithoutADecider() throws Exception {
    Approvals approvals = new Approvals(Clock.systemUTC());
    asking = new DeciderStep.Asking(approvals, audit, Clock.systemUTC());
    PolicyEngine engine = asking("open.test", false, Duration.ofSeconds(30));
    var waiting = vetLaterWithoutDecider(engine, connect("open.test:443"));
    awaitPending(approvals);
    assertThat(approvals.pending()).singleElement().satisfies(p -> assertThat(p.reason()).isEqualTo("rule open.test"));
    assertThat(audit.decisions()).singleElement().satisfies(d -> {
      assertThat(d.decision().verdict()).isEqualTo(Decision.Verdict.ASK);
      assertThat(d.decision().source()).isEqualTo(PolicySource.BASELINE_POLICY);
    });
    approvals.answer(approvals.pending().get(0).id(), new Approvals.Answer(true, "watch"), Approvals.Scope.ONCE, null);
    assertThat(waiting.get(5, TimeUnit.SECONDS)).isInstanceOfSatisfying(Vetting.Approved.class, approved -> {
      assertThat(approved.decision().source()).isEqualTo(PolicySource.APPROVAL);
      assertThat(approved.decision().rule()).map(r -> r.pattern().text()).contains("open.test");
      assertThat(approved.addresses()).hasToString("[93.184.215.20]");
    });
    assertThat(resolver.lookups()).containsExactly("open.test");
  }

  @Test
  void aDefaultAskTimesOutSayingHowToAllowAndAnAskRuleNamesItsRule() throws Exception {
    asking = new DeciderStep.Asking(new Approvals(Clock.systemUTC()), audit, Clock.systemUTC());
    PolicyEngine engine = asking("open.test", true, Duration.ofMillis(100));
    assertThat(askedAndRefused(vetWithoutDecider(engine, connect("other.test:443")))).satisfies(refused -> {
      assertThat(refused.reason().code()).isEqualTo("approval_timeout");
      assertThat(refused.message()).contains("No approval of other.test:443 within 100 ms.")
          .endsWith("or add \"other.test\" to allowed_domains.");
    });
    assertThat(askedAndRefused(vetWithoutDecider(engine, connect("open.test:443"))).message())
        .endsWith("or make rule \"open.test\" (ask-origin) \"allow\".");
    assertThat(resolver.lookups()).isEmpty();
  }

  @Test
  void aClientThatLeavesWhileItsRequestWaitsIsNoLongerListed() throws Exception {
    Approvals approvals = new Approvals(Clock.systemUTC());
    asking = new DeciderStep.Asking(approvals, audit, Clock.systemUTC());
    PolicyEngine engine = asking("open.test", false, Duration.ofSeconds(30));
    UpstreamConnector connector = new UpstreamConnector(() -> engine, resolver, audit, NioSocketChannel.class,
        Duration.ofSeconds(1), Duration.ofSeconds(1), Clock.systemUTC(), LoopGuard.NONE, ProxyMetrics.NONE);
    TunnelEstablisher establisher = new TunnelEstablisher(connector, new DeciderStep(null, TIMEOUT, metrics, asking),
        connector, null, Duration.ofSeconds(30));
    io.netty.channel.embedded.EmbeddedChannel client = new io.netty.channel.embedded.EmbeddedChannel();
    var waiting = establisher.vet(connect("open.test:443"), loop, client);
    awaitPending(approvals);
    assertThat(approvals.pending()).hasSize(1);

    client.close();
    assertThat(waiting.get(5, TimeUnit.SECONDS)).isInstanceOfSatisfying(Vetting.Refused.class, refused -> {
      assertThat(refused.decision().reason().code()).isEqualTo("decision_failed");
      assertThat(refused.decision().hint()).isEqualTo("The client closed its connection while the decision waited.");
    });
    assertThat(approvals.pending()).isEmpty();
    assertThat(audit.decisions()).extracting(d -> d.decision().verdict())
        .containsExactly(Decision.Verdict.ASK, Decision.Verdict.DENY);
    assertThat(resolver.lookups()).isEmpty();
  }

  @Test
  void withoutApprovalsThePolicysAskIsRefusedAtOnceWithDecisionAsk() throws Exception {
    Decision refused = refusal(vetWithoutDecider(asking("open.test", false, Duration.ofSeconds(30)),
        connect("open.test:443")));
    assertThat(refused.verdict()).isEqualTo(Decision.Verdict.ASK);
    assertThat(refused.message()).contains("holds open.test:443 for approval");
  }

  @Test
  void aStandingAnswerDecidesThePolicysAskAndNoDeciderIsCalledForIt() throws Exception {
    Approvals approvals = new Approvals(Clock.systemUTC());
    asking = new DeciderStep.Asking(approvals, audit, Clock.systemUTC());
    PolicyEngine engine = asking("open.test", false, Duration.ofSeconds(30));
    var first = vetLater(engine, answering(DeciderAnswer.allow("")), connect("open.test:443"));
    awaitPending(approvals);
    approvals.answer(approvals.pending().get(0).id(), new Approvals.Answer(false, "cli"), Approvals.Scope.HOST, null);
    assertThat(askedAndRefused(first.get(5, TimeUnit.SECONDS)).reason().code()).isEqualTo("approval_denied");
    Vetting standing = vet(engine, answering(DeciderAnswer.allow("")), connect("open.test:8443"));
    assertThat(standing).isInstanceOfSatisfying(Vetting.Refused.class,
        refused -> assertThat(refused.decision().reason().code()).isEqualTo("approval_denied"));
    assertThat(audit.decisions()).hasSize(3); // ask, denied, and the standing answer's refusal without an ask
    assertThat(asked).isEmpty();
  }

  @Test
  void theDeciderIsNotAskedAboutDenyRulesLocalLiteralsOrTheModeGuard() throws Exception {
    PolicyDecider allowAll = answering(DeciderAnswer.allow(""));
    assertThat(refusal(vet(TestPolicies.standard(), allowAll, connect("denied.test:443"))).reason().code())
        .isEqualTo("denied");
    assertThat(refusal(vet(TestPolicies.standard(), allowAll, connect("10.0.0.1:443"))).reason().code())
        .isEqualTo("not_allowed");
    assertThat(refusal(vet(TestPolicies.standard(), allowAll, request(Protocol.HTTP, "GET", "localhost:80")))
        .reason().code()).isEqualTo("not_allowed");
    PolicyEngine limited = TestPolicies.engine(AccessMode.LIMITED, "allowed.test");
    assertThat(refusal(vet(limited, allowAll, request(Protocol.HTTP, "POST", "open.test:80"))).reason().code())
        .isEqualTo("not_allowed");
    assertThat(refusal(vet(limited, allowAll, connect("open.test:443"))).reason().code()).isEqualTo("not_allowed");
    assertThat(refusal(vet(limited, allowAll, request(Protocol.SOCKS5_UDP, null, "open.test:53"))).reason().code())
        .isEqualTo("not_allowed");
    assertThat(asked).isEmpty();
    assertThat(resolver.lookups()).isEmpty();
  }

  @Test
  void anAllowedRequestDoesNotCallTheDecider() throws Exception {
    assertThat(vet(TestPolicies.standard(), answering(DeciderAnswer.deny("")), connect("allowed.test:443")))
        .isInstanceOf(Vetting.Approved.class);
    assertThat(asked).isEmpty();
  }

  @Test
  void aDeciderThatThrowsRefusesNamingOnlyTheExceptionClass() throws Exception {
    Decision failed = refusal(vet(TestPolicies.standard(), r -> {
      throw new IllegalStateException("secret internals");
    }, connect("open.test:443")));
    assertThat(failed.reasonLabel()).isEqualTo("decider_failed");
    assertThat(failed.message()).endsWith("The decider failed (IllegalStateException).").doesNotContain("secret");
    assertThat(outcomes).containsEntry("failed", 1L);
  }

  @Test
  void aDeciderThatFailsRefusesAndADeciderExceptionSaysWhy() throws Exception {
    Decision failed = refusal(vet(TestPolicies.standard(),
        r -> CompletableFuture.failedFuture(new IOException("connection reset")), connect("open.test:443")));
    assertThat(failed.message()).endsWith("The decider failed (IOException).");
    Decision said = refusal(vet(TestPolicies.standard(),
        r -> CompletableFuture.failedFuture(new DeciderException("answered invalid JSON")), connect("open.test:443")));
    assertThat(said.message()).isEqualTo("The policy decider failed, so the request is refused (egressd fails"
        + " closed). The decider answered invalid JSON.");
  }

  @Test
  void aNullStageOrANullAnswerRefuses() throws Exception {
    assertThat(refusal(vet(TestPolicies.standard(), r -> null, connect("open.test:443"))).message())
        .endsWith("The decider answered nothing.");
    assertThat(refusal(vet(TestPolicies.standard(), r -> CompletableFuture.completedFuture(null),
        connect("open.test:443"))).reasonLabel()).isEqualTo("decider_failed");
  }

  @Test
  void aDeciderThatNeverAnswersTimesOutAndALateAnswerIsIgnored() throws Exception {
    CompletableFuture<DeciderAnswer> never = new CompletableFuture<>();
    Decision late = refusal(vet(TestPolicies.standard(), r -> never, connect("open.test:443")));
    assertThat(late.reasonLabel()).isEqualTo("decider_timeout");
    assertThat(late.message()).endsWith("No answer within 300 ms.");
    never.complete(DeciderAnswer.allow(""));
    assertThat(audit.decisions()).hasSize(1);
    assertThat(outcomes).containsOnlyKeys("timeout");
  }

  @Test
  void aTimeoutExceptionFromTheDeciderIsATimeout() throws Exception {
    assertThat(refusal(vet(TestPolicies.standard(), r -> CompletableFuture.failedFuture(new TimeoutException()),
        connect("open.test:443"))).reasonLabel()).isEqualTo("decider_timeout");
  }
}
