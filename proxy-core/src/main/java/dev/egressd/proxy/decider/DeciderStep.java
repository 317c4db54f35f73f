package dev.egressd.proxy.decider;

import dev.egressd.audit.AuditEvent;
import dev.egressd.audit.AuditSink;
import dev.egressd.audit.ProxyMetrics;
import dev.egressd.policy.AccessRequest;
import dev.egressd.policy.Decision;
import dev.egressd.policy.DeciderAnswer;
import dev.egressd.policy.DeciderException;
import dev.egressd.policy.PolicyDecider;
import dev.egressd.policy.PolicyEngine;
import dev.egressd.proxy.tunnel.DecisionStep;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Clock;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The decision step with a {@link PolicyDecider} or people who approve: the engine decides; an allowlist miss the
 * engine says a decider may overrule ({@link PolicyEngine#consultsDecider}) is sent to the decider without blocking
 * the event loop; and the policy's own ask ({@link PolicyEngine#asksPerson}) or a decider's waits for a person,
 * up to the policy's {@code ask_timeout}. Fails closed: a decider that throws, fails, answers null or takes longer
 * than the timeout refuses the request ({@code decider_failed}, {@code decider_timeout}), and so does an ask nobody
 * can answer.
 */
public final class DeciderStep implements DecisionStep {
  private static final Logger log = LoggerFactory.getLogger(DeciderStep.class);
  private static final long WARNING_INTERVAL = TimeUnit.SECONDS.toNanos(10);

  /**
   * How an {@code ask} waits for a person: up to the policy's {@code ask_timeout}, then it is refused
   * ({@code approval_timeout}).
   *
   * @param approvals where waiting requests are listed and answered
   * @param audit receives the {@code decision = "ask"} event when a request starts waiting
   * @param clock stamps that event
   */
  public record Asking(Approvals approvals, AuditSink audit, Clock clock) {
    /** Null checks. */
    public Asking {
      Objects.requireNonNull(approvals, "approvals");
      Objects.requireNonNull(audit, "audit");
      Objects.requireNonNull(clock, "clock");
    }
  }

  private final PolicyDecider decider;
  private final Duration timeout;
  private final ProxyMetrics metrics;
  private final Asking asking;
  private final AtomicLong lastWarning = new AtomicLong(System.nanoTime() - WARNING_INTERVAL);

  /**
   * @param timeout how long one decision may wait for the decider
   * @param metrics receives the latency and outcome of every call
   */
  public DeciderStep(PolicyDecider decider, Duration timeout, ProxyMetrics metrics) {
    this(decider, timeout, metrics, null);
  }

  /**
   * A step whose {@code ask} answers wait for a person.
   *
   * @param decider asked about allowlist misses, or null for none (the policy's asks still wait for a person)
   * @param asking how they wait; null refuses an ask at once, with {@code decision = "ask"} (as the reference does)
   */
  public DeciderStep(PolicyDecider decider, Duration timeout, ProxyMetrics metrics, Asking asking) {
    this.asking = asking;
    this.decider = decider;
    this.timeout = Objects.requireNonNull(timeout, "timeout");
    if (timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("timeout: " + timeout + " (expected: > 0)");
    }
    this.metrics = Objects.requireNonNull(metrics, "metrics");
  }

  @Override
  public Future<Decision> decide(PolicyEngine engine, AccessRequest request, EventExecutor executor) {
    Decision decision = engine.decide(request);
    boolean asked = engine.asksPerson(decision);
    if (!asked && (decider == null || !engine.consultsDecider(request, decision))) {
      return executor.newSucceededFuture(decision);
    }
    if (asking != null) {
      Optional<Approvals.Answer> standing = asking.approvals().standingAnswer(request);
      if (standing.isPresent()) {
        return executor.newSucceededFuture(engine.approval(request, decision, standing.get().approved(),
            standing.get().who()));
      }
    }
    if (asked) {
      if (asking == null) {
        return executor.newSucceededFuture(decision); // refused at once, decision = "ask"
      }
      Promise<Decision> result = executor.newPromise();
      waitForPerson(engine, request, decision, decision, executor, result);
      return result;
    }
    long start = System.nanoTime();
    Promise<Decision> result = executor.newPromise();
    CompletionStage<DeciderAnswer> stage;
    try {
      stage = decider.decide(request);
    } catch (RuntimeException | Error e) {
      return executor.newSucceededFuture(failed(engine, request, e, start));
    }
    if (stage == null) {
      return executor.newSucceededFuture(failed(engine, request, new DeciderException("answered nothing"), start));
    }
    // Whichever comes first, the answer or the timeout, settles the decider's part; metrics before completion.
    AtomicBoolean settled = new AtomicBoolean();
    ScheduledFuture<?> timer = executor.schedule(() -> {
      if (settled.compareAndSet(false, true)) {
        metrics.deciderAnswered(System.nanoTime() - start, "timeout");
        warn("the policy decider did not answer {} within {} ms; refused", request, timeout.toMillis());
        result.trySuccess(engine.deciderTimedOut(timeout));
      }
    }, timeout.toNanos(), TimeUnit.NANOSECONDS);
    stage.whenComplete((answer, error) -> {
      timer.cancel(false);
      if (!settled.compareAndSet(false, true)) {
        return;
      }
      Decision decided;
      if (error != null) {
        decided = failed(engine, request, error, start);
      } else if (answer == null) {
        decided = failed(engine, request, new DeciderException("answered nothing"), start);
      } else {
        decided = engine.overrule(request, decision, answer);
        metrics.deciderAnswered(System.nanoTime() - start, answer.verdict().label());
        if (decided.verdict() == Decision.Verdict.ASK && asking != null) {
          waitForPerson(engine, request, decision, decided, executor, result);
          return;
        }
      }
      result.trySuccess(decided);
    });
    return result;
  }

  /** Lists the request as pending and completes {@code result} with a person's answer, or the timeout's refusal. */
  private void waitForPerson(PolicyEngine engine, AccessRequest request, Decision miss, Decision asked,
      EventExecutor executor, Promise<Decision> result) {
    if (result.isDone()) {
      return; // cancelled while the decider was asked: the client left
    }
    asking.audit().record(new AuditEvent.PolicyDecision(asking.clock().instant(), request, asked));
    CompletableFuture<Approvals.Answer> answer = new CompletableFuture<>();
    String why = !asked.reasonText().isEmpty() || !engine.asksPerson(asked) ? asked.reasonText()
        : asked.rule().map(rule -> "rule " + rule.pattern().text()).orElse("default = ask");
    Approvals.Pending pending = asking.approvals().await(request, why, answer);
    metrics.approvalPending();
    AtomicBoolean ended = new AtomicBoolean();
    Duration askTimeout = engine.policy().askTimeout();
    String outright = asked.rule().map(rule -> "or make rule \"" + rule.pattern().text() + "\" (" + rule.origin()
        + ") \"allow\".").orElse("or add \"" + request.destination().host().value() + "\" to allowed_domains.");
    ScheduledFuture<?> timer = executor.schedule(() -> {
      asking.approvals().forget(pending.id());
      if (!ended.compareAndSet(false, true)) {
        return;
      }
      metrics.approvalAnswered("timeout", "none");
      result.trySuccess(engine.approvalTimedOut(request, askTimeout, "Approve it while it waits with"
          + " \"egressd approve " + pending.id() + "\" (\"egressd pending\" lists waiting requests), " + outright));
    }, askTimeout.toNanos(), TimeUnit.NANOSECONDS);
    // The caller cancels when the client leaves: then nobody is asked any more.
    result.addListener(done -> {
      if (done.isCancelled() && ended.compareAndSet(false, true)) {
        timer.cancel(false);
        asking.approvals().forget(pending.id());
        metrics.approvalAnswered("gone", "none");
      }
    });
    answer.whenComplete((given, error) -> {
      timer.cancel(false);
      if (given != null && ended.compareAndSet(false, true)) {
        metrics.approvalAnswered(given.approved() ? "approved" : "denied", given.who());
        result.trySuccess(engine.approval(request, miss, given.approved(), given.who()));
      }
    });
  }

  private Decision failed(PolicyEngine engine, AccessRequest request, Throwable error, long start) {
    Throwable cause = unwrap(error);
    if (cause instanceof TimeoutException) {
      metrics.deciderAnswered(System.nanoTime() - start, "timeout");
      warn("the policy decider timed out on {}; refused", request, cause.getMessage());
      return engine.deciderTimedOut(timeout);
    }
    metrics.deciderAnswered(System.nanoTime() - start, "failed");
    String why = cause instanceof DeciderException known ? known.getMessage()
        : "failed (" + cause.getClass().getSimpleName() + ")";
    warn("the policy decider failed on {}; refused: {}", request, String.valueOf(cause));
    return engine.deciderFailed(why);
  }

  private static Throwable unwrap(Throwable error) {
    Throwable cause = error;
    while ((cause instanceof CompletionException || cause instanceof ExecutionException) && cause.getCause() != null) {
      cause = cause.getCause();
    }
    return cause;
  }

  /** At most one warning per interval: a decider that is down must not flood the log. */
  private void warn(String format, AccessRequest request, Object detail) {
    long now = System.nanoTime();
    long last = lastWarning.get();
    if (now - last >= WARNING_INTERVAL && lastWarning.compareAndSet(last, now)) {
      log.warn(format, request.destination().authority(), detail);
    }
  }
}
