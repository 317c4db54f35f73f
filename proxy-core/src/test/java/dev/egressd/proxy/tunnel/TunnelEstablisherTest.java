package dev.egressd.proxy.tunnel;

import static org.assertj.core.api.Assertions.assertThat;

import dev.egressd.audit.AuditEvent;
import dev.egressd.audit.ProxyMetrics;
import dev.egressd.policy.AccessMode;
import dev.egressd.policy.AccessRequest;
import dev.egressd.policy.Decision;
import dev.egressd.policy.Destination;
import dev.egressd.policy.HostAddresses;
import dev.egressd.policy.HostPattern;
import dev.egressd.policy.NetworkPolicy;
import dev.egressd.policy.PolicyEngine;
import dev.egressd.policy.PolicySource;
import dev.egressd.policy.Protocol;
import dev.egressd.policy.Reason;
import dev.egressd.policy.Rule;
import dev.egressd.proxy.PipelineNames;
import dev.egressd.proxy.testing.FakeResolver;
import dev.egressd.proxy.testing.RecordingAuditSink;
import dev.egressd.proxy.testing.TestPolicies;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.Promise;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The one connection path: every outcome is audited exactly once and reaches the front end as one responder call;
 * the decision step may complete later; the dial step is a strategy (stand-ins here, no sockets).
 */
class TunnelEstablisherTest {
  private static final Duration IDLE = Duration.ofSeconds(30);

  // Public-looking addresses that are never dialled: the dialler is a stand-in.
  private final FakeResolver resolver = new FakeResolver().map("allowed.test", "93.184.215.14")
      .map("a.allowed.test", "93.184.215.15");
  private final RecordingAuditSink audit = new RecordingAuditSink();
  private final List<Vetting.Approved> dialled = new ArrayList<>();
  private final List<EmbeddedChannel> upstreams = new ArrayList<>();
  private final RecordingResponder responder = new RecordingResponder();
  private final EmbeddedChannel client = new EmbeddedChannel();
  private final ArrayDeque<Object> early = new ArrayDeque<>();

  /** Connects every dial to a new embedded channel, as if the vetted address answered. */
  private final Dialer connecting = (target, loop, initializer) -> {
    dialled.add(target);
    EmbeddedChannel upstream = new EmbeddedChannel(initializer);
    upstreams.add(upstream);
    return loop.newSucceededFuture(new Dialer.Connection(upstream, target.addresses().get(0)));
  };

  /** Fails every dial as a closed port does. */
  private final Dialer refusing = (target, loop, initializer) -> {
    dialled.add(target);
    return loop.newFailedFuture(new ConnectException("Connection refused"));
  };

  @AfterEach
  void tearDown() {
    early.forEach(io.netty.util.ReferenceCountUtil::release);
    client.finishAndReleaseAll();
    upstreams.forEach(EmbeddedChannel::finishAndReleaseAll);
  }

  private TunnelEstablisher establisher(PolicyEngine engine, DecisionStep decisions, Dialer dialer,
      TunnelInterceptor interceptor) {
    return establisher(engine, decisions, dialer, interceptor, LoopGuard.NONE);
  }

  private TunnelEstablisher establisher(PolicyEngine engine, DecisionStep decisions, Dialer dialer,
      TunnelInterceptor interceptor, LoopGuard loopGuard) {
    UpstreamConnector connector = new UpstreamConnector(() -> engine, resolver, audit, NioSocketChannel.class,
        Duration.ofSeconds(1), Duration.ofSeconds(1), Clock.systemUTC(), loopGuard, ProxyMetrics.NONE);
    return new TunnelEstablisher(connector, decisions, dialer, interceptor, IDLE);
  }

  private static AccessRequest connect(String authority) {
    return new AccessRequest(Destination.parseAuthority(authority), Protocol.HTTPS_CONNECT, "CONNECT", false,
        "127.0.0.1:5555", 41);
  }

  private void establish(TunnelEstablisher establisher, AccessRequest request) {
    client.pipeline().addLast("front", new ChannelInboundHandlerAdapter());
    establisher.establish(client, request, responder, early, "front");
    client.runPendingTasks();
  }

  @Test
  void refusalIsAuditedOnceAndNothingIsResolvedOrDialled() {
    establish(establisher(TestPolicies.standard(), DecisionStep.ENGINE, connecting, null), connect("unknown.test:443"));

    assertThat(responder.calls).containsExactly("refused not_allowed");
    assertThat(audit.events()).singleElement().isInstanceOfSatisfying(AuditEvent.PolicyDecision.class, d -> {
      assertThat(d.decision().reason()).isEqualTo(Reason.NOT_ALLOWED);
      assertThat(d.request().connectionId()).isEqualTo(41);
    });
    assertThat(resolver.lookups()).isEmpty();
    assertThat(dialled).isEmpty();
  }

  @Test
  void unresolvableNameIsOneUpstreamFailureAndNoDial() {
    establish(establisher(TestPolicies.standard(), DecisionStep.ENGINE, connecting, null),
        connect("b.allowed.test:443"));

    assertThat(responder.calls).containsExactly("failed dns_failure b.allowed.test");
    assertThat(audit.events()).singleElement().isInstanceOfSatisfying(AuditEvent.UpstreamFailed.class,
        f -> assertThat(f.cause()).isEqualTo("dns_failure"));
    assertThat(dialled).isEmpty();
  }

  @Test
  void aDirectAllowIsAuditedWithTheDirectRoute() {
    establish(establisher(TestPolicies.standard(), DecisionStep.ENGINE, connecting, null), connect("allowed.test:443"));

    assertThat(audit.events().get(0)).isInstanceOfSatisfying(AuditEvent.PolicyDecision.class,
        d -> assertThat(d.route()).isEqualTo(AuditEvent.Route.DIRECT));
  }

  @Test
  void aNameLeftToTheParentIsNeitherLookedUpNorVettedAndIsAuditedAsGoingThroughIt() {
    ParentProxy parent = new ParentProxy(new InetSocketAddress("127.0.0.1", 3128), null, null, "parent");
    Dialer viaParent = new Dialer() {
      @Override
      public io.netty.util.concurrent.Future<Connection> dial(Vetting.Approved target, io.netty.channel.EventLoop loop,
          io.netty.channel.ChannelHandler initializer) {
        dialled.add(target);
        EmbeddedChannel upstream = new EmbeddedChannel(initializer);
        upstreams.add(upstream);
        return loop.newSucceededFuture(new Connection(upstream, dev.egressd.policy.IpAddress.of(
            parent.address().getAddress()), parent, false));
      }

      @Override
      public ParentProxy parentFor(Vetting.Approved target) {
        return parent;
      }

      @Override
      public boolean parentResolves(AccessRequest request) {
        return true;
      }
    };
    // b.allowed.test is allowed and has no answer here: only the parent could resolve it.
    establish(establisher(TestPolicies.standard(), DecisionStep.ENGINE, viaParent, null),
        connect("b.allowed.test:443"));

    assertThat(responder.calls).containsExactly("success");
    assertThat(resolver.lookups()).isEmpty();
    assertThat(dialled).singleElement().satisfies(t -> assertThat(t.addresses()).isEmpty());
    assertThat(audit.events().get(0)).isInstanceOfSatisfying(AuditEvent.PolicyDecision.class, d -> {
      assertThat(d.decision().allowed()).isTrue();
      assertThat(d.route()).isEqualTo(AuditEvent.Route.UPSTREAM_PROXY);
    });

    // A refused name is still refused first, and not handed to the parent.
    responder.calls.clear();
    establish(establisher(TestPolicies.standard(), DecisionStep.ENGINE, viaParent, null), connect("unknown.test:443"));
    assertThat(responder.calls).containsExactly("refused not_allowed");
    assertThat(dialled).hasSize(1);
  }

  @Test
  void failedDialIsClassifiedAndAuditedOnceAfterTheDecision() {
    establish(establisher(TestPolicies.standard(), DecisionStep.ENGINE, refusing, null), connect("allowed.test:443"));

    assertThat(responder.calls).containsExactly("failed connect_refused allowed.test:443");
    assertThat(audit.events()).hasSize(2);
    assertThat(audit.events().get(0)).isInstanceOfSatisfying(AuditEvent.PolicyDecision.class,
        d -> assertThat(d.decision().allowed()).isTrue());
    assertThat(audit.events().get(1)).isInstanceOfSatisfying(AuditEvent.UpstreamFailed.class, f -> {
      assertThat(f.cause()).isEqualTo("connect_refused");
      assertThat(f.request().connectionId()).isEqualTo(41);
    });
  }

  @Test
  void approvedTunnelDialsTheVettedAddressAndHandsOverWithEarlyBytesFirst() {
    early.add(Unpooled.copiedBuffer("early", StandardCharsets.US_ASCII));
    establish(establisher(TestPolicies.standard(), DecisionStep.ENGINE, connecting, null), connect("allowed.test:443"));

    assertThat(dialled).singleElement().satisfies(t -> {
      assertThat(t.addresses()).extracting(Object::toString).containsExactly("93.184.215.14");
      assertThat(t.intercept()).isFalse();
    });
    assertThat(responder.calls).containsExactly("success");
    assertThat(client.pipeline().get("front")).as("front end removed at hand-over").isNull();
    assertThat(client.pipeline().get(PipelineNames.RELAY)).isNotNull();
    EmbeddedChannel upstream = upstreams.get(0);
    assertThat(upstream.pipeline().get(PipelineNames.IDLE_TIMEOUT)).isNotNull();
    ByteBuf first = upstream.readOutbound();
    assertThat(first.toString(StandardCharsets.US_ASCII)).isEqualTo("early");
    first.release();
    assertThat(audit.events()).hasSize(2).element(1).isInstanceOf(AuditEvent.TunnelOpened.class);
  }

  @Test
  void decisionThatCompletesLaterHoldsTheRequestUntilItDoes() {
    PolicyEngine engine = TestPolicies.standard();
    List<Promise<Decision>> waiting = new ArrayList<>();
    DecisionStep later = (current, request, executor) -> {
      Promise<Decision> promise = executor.newPromise();
      waiting.add(promise);
      return promise;
    };
    AccessRequest request = connect("allowed.test:443");
    establish(establisher(engine, later, connecting, null), request);

    assertThat(waiting).hasSize(1);
    assertThat(responder.calls).isEmpty();
    assertThat(resolver.lookups()).as("nothing is resolved before the decision").isEmpty();
    assertThat(audit.events()).isEmpty();

    waiting.get(0).setSuccess(engine.decide(request));
    client.runPendingTasks();

    assertThat(resolver.lookups()).containsExactly("allowed.test");
    assertThat(responder.calls).containsExactly("success");
    assertThat(audit.decisions()).singleElement().satisfies(d -> assertThat(d.decision().allowed()).isTrue());
  }

  @Test
  void decisionStepThatFailsRefusesAndIsAuditedOnce() {
    DecisionStep broken = (current, request, executor) -> executor.newFailedFuture(new IllegalStateException("x"));
    establish(establisher(TestPolicies.standard(), broken, connecting, null), connect("allowed.test:443"));

    assertThat(responder.calls).containsExactly("refused decision_failed");
    assertThat(audit.decisions()).singleElement().satisfies(d -> {
      assertThat(d.decision().reason()).isEqualTo(Reason.DECISION_FAILED);
      assertThat(d.decision().source()).isEqualTo(PolicySource.PROXY_STATE);
      assertThat(d.decision().message()).contains("IllegalStateException");
    });
    assertThat(resolver.lookups()).isEmpty();
    assertThat(dialled).isEmpty();
  }

  @Test
  void decisionStepThatAnswersNothingRefuses() {
    DecisionStep empty = (current, request, executor) -> executor.newSucceededFuture(null);
    establish(establisher(TestPolicies.standard(), empty, connecting, null), connect("allowed.test:443"));

    assertThat(responder.calls).containsExactly("refused decision_failed");
  }

  @Test
  void ownListenerIsAProxyLoopAndNeverDialled() {
    LoopGuard guard = new LoopGuard(HostAddresses.NONE);
    guard.addListener(new InetSocketAddress("127.0.0.1", 3128));
    establish(establisher(TestPolicies.standard(), DecisionStep.ENGINE, connecting, null, guard),
        connect("127.0.0.1:3128"));

    assertThat(responder.calls).containsExactly("refused proxy_loop");
    assertThat(audit.decisions()).singleElement()
        .satisfies(d -> assertThat(d.decision().reason()).isEqualTo(Reason.PROXY_LOOP));
    assertThat(dialled).isEmpty();
  }

  private static PolicyEngine intercepting(AccessMode mode) {
    NetworkPolicy policy = NetworkPolicy.builder().mode(mode).mitm(true).scope("test policy")
        .addRule(Rule.allow("allowed.test", "test"))
        .addInterceptedHost(HostPattern.parse("allowed.test"), "test")
        .build();
    return new PolicyEngine(policy, true);
  }

  @Test
  void interceptedTunnelGoesToTheInterceptorWithItsTermsAndNoDial() {
    List<Vetting.Approved> intercepted = new ArrayList<>();
    TunnelInterceptor interceptor = (channel, tunnel, path, queued) -> intercepted.add(tunnel);
    establish(establisher(intercepting(AccessMode.LIMITED), DecisionStep.ENGINE, connecting, interceptor),
        connect("allowed.test:443"));

    assertThat(responder.calls).containsExactly("success");
    assertThat(responder.bound).isEqualTo(new InetSocketAddress("0.0.0.0", 0));
    assertThat(intercepted).singleElement().satisfies(t -> {
      assertThat(t.intercept()).isTrue();
      assertThat(t.terms().opaqueRefusal()).hasValueSatisfying(
          refusal -> assertThat(refusal.reason()).isEqualTo(Reason.OPAQUE_TUNNEL));
    });
    assertThat(dialled).isEmpty();
    assertThat(client.pipeline().get("front")).isNull();
  }

  @Test
  void tunnelThePolicyInterceptsIsRefusedWithoutAnInterceptionStage() {
    establish(establisher(intercepting(AccessMode.FULL), DecisionStep.ENGINE, connecting, null),
        connect("allowed.test:443"));

    assertThat(responder.calls).containsExactly("refused mitm_required");
    assertThat(audit.decisions()).singleElement().satisfies(d -> {
      assertThat(d.decision().source()).isEqualTo(PolicySource.PROXY_STATE);
      assertThat(d.decision().message()).contains("no interception stage is running");
    });
    assertThat(dialled).isEmpty();
  }

  @Test
  void clientGoneBeforeTheDialCompletesClosesTheUpstream() {
    List<Promise<Dialer.Connection>> pending = new ArrayList<>();
    Dialer slow = (target, loop, initializer) -> {
      Promise<Dialer.Connection> promise = loop.newPromise();
      pending.add(promise);
      return promise;
    };
    establish(establisher(TestPolicies.standard(), DecisionStep.ENGINE, slow, null), connect("allowed.test:443"));
    client.close();
    EmbeddedChannel upstream = new EmbeddedChannel();
    upstreams.add(upstream);

    pending.get(0).setSuccess(new Dialer.Connection(upstream, dev.egressd.policy.IpAddress.parse("93.184.215.14")
        .orElseThrow()));

    assertThat(upstream.isOpen()).isFalse();
    assertThat(responder.calls).isEmpty();
  }

  /** Records each call as one line. */
  private final class RecordingResponder implements TunnelResponder {
    final List<String> calls = new ArrayList<>();
    InetSocketAddress bound;

    @Override
    public ChannelFuture success(InetSocketAddress bound) {
      calls.add("success");
      this.bound = bound;
      return client.newSucceededFuture();
    }

    @Override
    public void refused(Decision decision) {
      calls.add("refused " + decision.reason().code());
    }

    @Override
    public void failed(UpstreamFailure failure, String subject) {
      calls.add("failed " + failure.code() + " " + subject);
    }
  }
}
