package dev.egressd.policy;

import java.util.concurrent.CompletionStage;

/**
 * Decides allowlist misses that the static policy cannot: a program (a webhook, a lambda in an embedding host) or a
 * person behind it. Consulted only for {@link Reason#NOT_ALLOWED}, never for a deny rule, a local or private
 * destination, the mode guard or a malformed request ({@link PolicyEngine#consultsDecider}). Its answer is applied
 * by {@link PolicyEngine#overrule}, so an allow is still resolved and vetted like any other: a decider can open a
 * name, never a local address behind it.
 *
 * <p>Implementations must not block the calling thread (it may be an event loop); return a stage that completes
 * later instead. A stage that completes exceptionally, completes with null or does not complete in time refuses the
 * request (fail closed).
 */
@FunctionalInterface
public interface PolicyDecider {
  /**
   * Decides {@code request}, an allowlist miss.
   *
   * @param request the protocol, destination, method where known, client address and connection id
   * @return the answer; never null itself
   */
  CompletionStage<DeciderAnswer> decide(AccessRequest request);
}
