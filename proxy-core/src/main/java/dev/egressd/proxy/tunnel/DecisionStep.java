package dev.egressd.proxy.tunnel;

import dev.egressd.policy.AccessRequest;
import dev.egressd.policy.Decision;
import dev.egressd.policy.PolicyEngine;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;

/**
 * The first step of {@link TunnelEstablisher#vet}: the decision on a request, before any lookup. It returns a future
 * so that a decision may wait (for a decider program or a person) without blocking an event loop; the establisher
 * resolves and vets only once it completes. A future that fails, or completes with null, refuses the request.
 */
@FunctionalInterface
public interface DecisionStep {
  /** The engine's own decision, at once. */
  DecisionStep ENGINE = (engine, request, executor) -> executor.newSucceededFuture(engine.decide(request));

  /**
   * Decides {@code request}.
   *
   * @param engine the engine in force for this request (the same one vets its addresses)
   * @param executor the client's event loop; listeners of the returned future run there
   */
  Future<Decision> decide(PolicyEngine engine, AccessRequest request, EventExecutor executor);
}
