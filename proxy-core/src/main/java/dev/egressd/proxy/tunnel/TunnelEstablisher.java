package dev.egressd.proxy.tunnel;

import dev.egressd.audit.AuditEvent;
import dev.egressd.audit.AuditSink;
import dev.egressd.policy.AccessRequest;
import dev.egressd.policy.Credential;
import dev.egressd.policy.Decision;
import dev.egressd.policy.HostName;
import dev.egressd.policy.InnerRequest;
import dev.egressd.policy.IpAddress;
import dev.egressd.policy.MitmHook;
import dev.egressd.policy.PolicyEngine;
import dev.egressd.policy.PolicySource;
import dev.egressd.policy.Protocol;
import dev.egressd.policy.Reason;
import dev.egressd.policy.TunnelTerms;
import dev.egressd.proxy.PipelineNames;
import dev.egressd.proxy.internal.IdleTimeouts;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Queue;

/**
 * The one connection path, shared by every front end (HTTP CONNECT, SOCKS5 CONNECT, absolute-form forwarding,
 * intercepted tunnels) and the {@code check} command, so they cannot disagree: decide ({@link DecisionStep}) ->
 * resolve -> vet every address -> intercept or dial ({@link Dialer}) -> hand over to a {@link Tunnel}. Every
 * outcome is audited here, exactly once: one {@link AuditEvent.PolicyDecision} per {@link #vet}, one
 * {@link AuditEvent.UpstreamFailed} per failed {@link #dial}. Front ends only put outcomes on the wire
 * ({@link TunnelResponder}).
 *
 * <p>Resolution happens only after the decision allowed the name, every answer is vetted by the same engine that
 * decided, and the dialler connects to a vetted address. What an approved tunnel may carry ({@link TunnelTerms}) is
 * fixed at approval, so nothing downstream re-reads the policy. A tunnel the policy says to intercept is refused
 * when no interception stage is installed, never relayed blind.
 */
public final class TunnelEstablisher {
  private static final InetSocketAddress NO_UPSTREAM = new InetSocketAddress("0.0.0.0", 0);

  private final UpstreamConnector connector;
  private final DecisionStep decisions;
  private final Dialer dialer;
  private final TunnelInterceptor interceptor;
  private final Duration idleTimeout;

  /** The default path: the engine decides at once and the connector dials directly. */
  public TunnelEstablisher(UpstreamConnector connector, TunnelInterceptor interceptor, Duration idleTimeout) {
    this(connector, DecisionStep.ENGINE, connector, interceptor, idleTimeout);
  }

  /**
   * Creates the path.
   *
   * @param decisions the decision step (the engine's, or one that may wait)
   * @param dialer how approved requests are connected
   * @param interceptor takes over tunnels the policy says to intercept; null when there is no interception stage
   * @param idleTimeout of upstream tunnel channels
   */
  public TunnelEstablisher(UpstreamConnector connector, DecisionStep decisions, Dialer dialer,
      TunnelInterceptor interceptor, Duration idleTimeout) {
    this.connector = Objects.requireNonNull(connector, "connector");
    this.decisions = Objects.requireNonNull(decisions, "decisions");
    this.dialer = Objects.requireNonNull(dialer, "dialer");
    this.interceptor = interceptor;
    this.idleTimeout = Objects.requireNonNull(idleTimeout, "idleTimeout");
  }

  /** The network side (resolver, default dialler, engine supplier). */
  public UpstreamConnector connector() {
    return connector;
  }

  /** The engine in force now, for refusals made outside {@link #vet} ({@link PolicyEngine#hostMismatch}, ...). */
  public PolicyEngine currentEngine() {
    return connector.currentEngine();
  }

  /**
   * Decides {@code request}, resolves it if allowed, vets every answer and records the decision (or the failed
   * lookup). Completes on {@code executor}, never exceptionally.
   */
  public Future<Vetting> vet(AccessRequest request, EventExecutor executor) {
    return vet(request, executor, null);
  }

  /**
   * As {@link #vet(AccessRequest, EventExecutor)}; when {@code client} closes while the decision still waits (for a
   * decider or a person), the decision is cancelled, so nobody is asked about a request whose client left, and the
   * refusal says so.
   *
   * @param client the client connection the request came on, or null
   */
  public Future<Vetting> vet(AccessRequest request, EventExecutor executor, Channel client) {
    return vet(request, null, executor, client);
  }

  /**
   * As {@link #vet(AccessRequest, EventExecutor, Channel)}, for a request inside an intercepted tunnel: once it is
   * allowed and vetted, a host with {@code mitm_hooks} also needs a hook that matches {@code inner}, and the
   * approval names that hook.
   *
   * @param inner the request's method, path, query and headers, or null outside intercepted tunnels
   */
  public Future<Vetting> vet(AccessRequest request, InnerRequest inner, EventExecutor executor, Channel client) {
    Promise<Vetting> result = executor.newPromise();
    PolicyEngine engine = connector.currentEngine();
    Future<Decision> pending = decisions.decide(engine, request, executor);
    if (client != null && !pending.isDone()) {
      ChannelFutureListener cancel = closed -> pending.cancel(false);
      client.closeFuture().addListener(cancel);
      pending.addListener(done -> client.closeFuture().removeListener(cancel));
    }
    pending.addListener(decided -> {
      Decision decision = engine.enforce(decided.isCancelled() ? CLIENT_GONE
          : decided.isSuccess() && decided.getNow() != null ? (Decision) decided.getNow()
          : decisionFailed(decided.cause()));
      if (!decision.allowed()) {
        finish(result, new Vetting.Refused(request, decision));
        return;
      }
      if (dialer.parentResolves(request)) {
        // upstream_resolution = "parent": the operator chose to let the parent resolve (and so to forgo the local
        // check of the answers); the name is still decided, only its addresses go unvetted.
        finish(result, approve(engine, request, inner, decision, List.of()));
        return;
      }
      connector.addresses(engine, request.destination().host(), executor).addListener(lookup -> {
        if (lookup.isSuccess()) {
          @SuppressWarnings("unchecked")
          List<IpAddress> addresses = (List<IpAddress>) lookup.getNow();
          finish(result, approve(engine, request, inner, decision, addresses));
        } else {
          UpstreamException failed = (UpstreamException) lookup.cause();
          finish(result, new Vetting.Unresolved(request, failed.failure(),
              String.valueOf(failed.getCause().getMessage())));
        }
      });
    });
    return result;
  }

  /**
   * Dials {@code target} with an idle timeout plus {@code initializer} on the new channel. A failure is classified
   * and audited once; the future then fails with an {@link UpstreamException}.
   *
   * @param initializer installed after the idle-timeout handler; null for none
   */
  public Future<Dialer.Connection> dial(Vetting.Approved target, EventLoop loop, ChannelHandler initializer) {
    Promise<Dialer.Connection> result = loop.newPromise();
    dialer.dial(target, loop, new ChannelInitializer<>() {
      @Override
      protected void initChannel(Channel ch) {
        ch.pipeline().addLast(PipelineNames.IDLE_TIMEOUT, IdleTimeouts.handler(idleTimeout));
        if (initializer != null) {
          ch.pipeline().addLast(initializer);
        }
      }
    }).addListener(dialled -> {
      if (dialled.isSuccess()) {
        result.trySuccess((Dialer.Connection) dialled.getNow());
      } else {
        UpstreamFailure failure = UpstreamException.failureOf(dialled.cause());
        recordFailure(target.request(), failure);
        result.tryFailure(new UpstreamException(failure, dialled.cause()));
      }
    });
    return result;
  }

  /**
   * Establishes a tunnel for {@code request} on {@code client}: vets it, then either hands the connection to the
   * interception stage or dials and relays, telling the client through {@code responder}. Bytes the client sends
   * meanwhile wait in {@code early} (filled by the front end) and go upstream first; when the tunnel does not start,
   * the establisher releases them.
   *
   * @param frontEndHandlers the front end's handlers, removed from the client pipeline at hand-over
   */
  public void establish(Channel client, AccessRequest request, TunnelResponder responder, Queue<Object> early,
      String... frontEndHandlers) {
    vet(request, client.eventLoop(), client).addListener(f -> {
      Vetting vetting = (Vetting) f.getNow();
      if (!client.isActive()) {
        Tunnel.releaseAll(early);
      } else if (vetting instanceof Vetting.Refused refused) {
        Tunnel.releaseAll(early);
        responder.refused(refused.decision());
      } else if (vetting instanceof Vetting.Unresolved unresolved) {
        Tunnel.releaseAll(early);
        responder.failed(unresolved.failure(), request.destination().host().value());
      } else if (((Vetting.Approved) vetting).intercept()) {
        Vetting.Approved tunnel = (Vetting.Approved) vetting;
        // No upstream connection: the interception stage decides and connects every inner request on its own.
        responder.success(NO_UPSTREAM).addListener((ChannelFutureListener) written -> {
          if (written.isSuccess()) {
            Tunnel.handOver(client, tunnel, interceptor, this, early, frontEndHandlers);
          } else {
            Tunnel.releaseAll(early);
          }
        });
      } else {
        relay(client, (Vetting.Approved) vetting, responder, early, frontEndHandlers);
      }
    });
  }

  /**
   * Dials an approved tunnel and relays it: the last part of {@link #establish}, and the whole of an intercepted
   * tunnel whose client turned out not to speak TLS (where the policy that approved it allows that).
   */
  public void relay(Channel client, Vetting.Approved tunnel, TunnelResponder responder, Queue<Object> early,
      String... frontEndHandlers) {
    dial(tunnel, client.eventLoop(), null).addListener(f -> {
      if (!f.isSuccess()) {
        Tunnel.releaseAll(early);
        if (client.isActive()) {
          UpstreamException failed = (UpstreamException) f.cause();
          responder.failed(failed.failure(), failed.getCause() instanceof ParentProxyException parent
              ? parent.getMessage() : tunnel.request().destination().authority());
        }
        return;
      }
      Channel upstream = ((Dialer.Connection) f.getNow()).channel();
      if (!client.isActive()) {
        Tunnel.releaseAll(early);
        upstream.close();
        return;
      }
      InetSocketAddress bound = upstream.localAddress() instanceof InetSocketAddress local ? local : NO_UPSTREAM;
      responder.success(bound).addListener((ChannelFutureListener) written -> {
        if (written.isSuccess()) {
          Tunnel.handOver(client, upstream, tunnel.request(), audit(), connector.clock(), early, frontEndHandlers);
        } else {
          Tunnel.releaseAll(early);
          upstream.close();
        }
      });
    });
  }

  /** The parent proxy {@code target} goes through, or null for a direct connection. */
  public ParentProxy parentFor(Vetting.Approved target) {
    return dialer.parentFor(target);
  }

  /** Records a decision made outside {@link #vet}: a malformed or unsupported request, a host mismatch. */
  public void recordDecision(AccessRequest request, Decision decision) {
    audit().record(new AuditEvent.PolicyDecision(connector.clock().instant(), request, decision));
  }

  /** Records that an allowed request failed upstream after it was dialled (TLS handshake, early close). */
  public void recordFailure(AccessRequest request, UpstreamFailure failure) {
    audit().record(new AuditEvent.UpstreamFailed(connector.clock().instant(), request, failure.code()));
  }

  /** The sink every event of the path goes to. */
  public AuditSink audit() {
    return connector.audit();
  }

  private Vetting approve(PolicyEngine engine, AccessRequest request, InnerRequest inner, Decision allowed,
      List<IpAddress> addresses) {
    Decision vetted = addresses.isEmpty() ? allowed
        : engine.enforce(engine.vet(request, allowed, addresses, connector.loopGuard()));
    if (!vetted.allowed()) {
      return new Vetting.Refused(request, vetted);
    }
    HostName host = request.destination().host();
    int port = request.destination().port();
    Credential misused = inner == null ? null : engine.policy().credentials().misusedIn(inner, host, port);
    if (misused != null) {
      vetted = engine.enforce(engine.credentialMisuse(request, misused));
      if (!vetted.allowed()) {
        return new Vetting.Refused(request, vetted);
      }
    }
    boolean intercepted = inner != null && request.protocol() == Protocol.HTTPS;
    MitmHook hook = null;
    if (intercepted && engine.policy().hooks().covers(host)) {
      hook = engine.policy().hooks().match(request.destination().host(), inner);
      if (hook == null) {
        vetted = engine.enforce(engine.hookMiss(request, vetted));
        if (!vetted.allowed()) {
          return new Vetting.Refused(request, vetted);
        }
      }
    }
    TunnelTerms terms = engine.tunnelTerms(request);
    if (terms.intercept() && interceptor == null) {
      return new Vetting.Refused(request, Decision.deny(Reason.MITM_REQUIRED, PolicySource.PROXY_STATE,
          vetted.rule().orElse(null), "The policy intercepts this tunnel, and no interception stage is running."));
    }
    return new Vetting.Approved(request, vetted, addresses, terms, hook,
        intercepted ? engine.policy().credentials().boundTo(host, port) : List.of());
  }

  private static final Decision CLIENT_GONE = Decision.deny(Reason.DECISION_FAILED, PolicySource.PROXY_STATE, null,
      "The client closed its connection while the decision waited.");

  private static Decision decisionFailed(Throwable cause) {
    return Decision.deny(Reason.DECISION_FAILED, PolicySource.PROXY_STATE, null,
        cause == null ? "The decision step answered nothing." : "The decision step failed ("
            + cause.getClass().getSimpleName() + ").");
  }

  private void finish(Promise<Vetting> result, Vetting vetting) {
    if (vetting instanceof Vetting.Refused refused) {
      recordDecision(vetting.request(), refused.decision());
    } else if (vetting instanceof Vetting.Approved approved) {
      audit().record(new AuditEvent.PolicyDecision(connector.clock().instant(), approved.request(),
          approved.decision(), dialer.parentFor(approved) == null ? AuditEvent.Route.DIRECT
          : AuditEvent.Route.UPSTREAM_PROXY));
    } else {
      recordFailure(vetting.request(), ((Vetting.Unresolved) vetting).failure());
    }
    result.trySuccess(vetting);
  }
}
