package dev.egressd.proxy.decider;

import dev.egressd.policy.AccessRequest;
import dev.egressd.policy.DeciderAnswer;
import dev.egressd.policy.PolicyDecider;
import dev.egressd.policy.Protocol;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * Asks a decider once per (host, port, protocol) at a time: requests for the same destination that arrive while a
 * call is pending share its answer (a burst of 200 connections to one new host is one call), and an answer with
 * {@link DeciderAnswer#cacheFor()} is reused until it expires. The decider sees the first of the coalesced
 * requests. Failures are never cached.
 */
public final class SharedDecider implements PolicyDecider {
  /** The most answers cached at once; beyond that an answer is used but not kept. */
  public static final int MAX_CACHED = 10_000;

  private record Key(String host, int port, Protocol protocol) {}

  private record Cached(DeciderAnswer answer, long expiresAt) {}

  private final PolicyDecider decider;
  private final LongSupplier nanoTime;
  private final Map<Key, CompletableFuture<DeciderAnswer>> pending = new ConcurrentHashMap<>();
  private final Map<Key, Cached> cache = new ConcurrentHashMap<>();

  /** Shares the calls of {@code decider}, timed by {@link System#nanoTime()}. */
  public SharedDecider(PolicyDecider decider) {
    this(decider, System::nanoTime);
  }

  /** @param nanoTime the clock that expires cached answers */
  public SharedDecider(PolicyDecider decider, LongSupplier nanoTime) {
    this.decider = Objects.requireNonNull(decider, "decider");
    this.nanoTime = Objects.requireNonNull(nanoTime, "nanoTime");
  }

  @Override
  public CompletionStage<DeciderAnswer> decide(AccessRequest request) {
    Key key = new Key(request.destination().host().value(), request.destination().port(), request.protocol());
    Cached cached = cache.get(key);
    if (cached != null) {
      if (nanoTime.getAsLong() - cached.expiresAt() < 0) {
        return CompletableFuture.completedFuture(cached.answer());
      }
      cache.remove(key, cached);
    }
    CompletableFuture<DeciderAnswer> mine = new CompletableFuture<>();
    CompletableFuture<DeciderAnswer> shared = pending.putIfAbsent(key, mine);
    if (shared != null) {
      return shared.copy(); // a waiter that cancels its copy does not cancel the others
    }
    CompletionStage<DeciderAnswer> call;
    try {
      call = decider.decide(request);
    } catch (RuntimeException e) {
      pending.remove(key, mine);
      mine.completeExceptionally(e);
      return mine.copy();
    }
    if (call == null) {
      pending.remove(key, mine);
      mine.complete(null); // the decision step refuses a null answer
      return mine.copy();
    }
    call.whenComplete((answer, error) -> {
      if (answer != null && !answer.cacheFor().isZero()) {
        keep(key, answer);
      }
      pending.remove(key, mine); // after caching, so a request arriving now finds the cached answer
      if (error != null) {
        mine.completeExceptionally(error);
      } else {
        mine.complete(answer);
      }
    });
    return mine.copy();
  }

  /** Answers cached now (expired ones included until they are next looked up or purged). */
  public int cachedAnswers() {
    return cache.size();
  }

  private void keep(Key key, DeciderAnswer answer) {
    long now = nanoTime.getAsLong();
    if (cache.size() >= MAX_CACHED) {
      cache.values().removeIf(c -> now - c.expiresAt() >= 0);
    }
    if (cache.size() < MAX_CACHED) {
      cache.put(key, new Cached(answer, now + answer.cacheFor().toNanos()));
    }
  }
}
