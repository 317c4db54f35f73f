package dev.egressd.audit.otel;

import dev.egressd.audit.AuditEvent;
import dev.egressd.policy.Rule;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * How often each rule decided, and when it last did: the evidence for keeping a rule. Keyed by the rule as written
 * and where ({@code egressd.toml:12 network.domains}), so the cardinality is bounded by the rules ever loaded, never
 * by the hosts that were asked for.
 */
public final class RuleHits {
  /**
   * One rule's count.
   *
   * @param rule the pattern as written
   * @param origin where it was written
   * @param action {@code allow}, {@code ask} or {@code deny}
   * @param hits decisions it made since the daemon started
   * @param lastHitMillis when it last decided (epoch milliseconds), 0 if never
   */
  public record Hit(String rule, String origin, String action, long hits, long lastHitMillis) {}

  private record Key(String rule, String origin, String action) {}

  private static final class Count {
    final LongAdder hits = new LongAdder();
    final AtomicLong last = new AtomicLong();
  }

  private final Map<Key, Count> counts = new ConcurrentHashMap<>();

  /** Counts the rule behind a decision, if a rule decided. */
  void observe(AuditEvent.PolicyDecision decision) {
    decision.decision().rule().ifPresent(rule -> {
      Count count = counts.computeIfAbsent(key(rule), k -> new Count());
      count.hits.increment();
      count.last.accumulateAndGet(decision.timestamp().toEpochMilli(), Math::max);
    });
  }

  /** Every rule that decided at least once. */
  public List<Hit> snapshot() {
    List<Hit> hits = new ArrayList<>();
    counts.forEach((k, c) -> hits.add(new Hit(k.rule(), k.origin(), k.action(), c.hits.sum(), c.last.get())));
    return hits;
  }

  /** The count of {@code rule}: zero hits when it never decided. */
  public Hit of(Rule rule) {
    Key key = key(rule);
    Count count = counts.get(key);
    return new Hit(key.rule(), key.origin(), key.action(), count == null ? 0 : count.hits.sum(),
        count == null ? 0 : count.last.get());
  }

  private static Key key(Rule rule) {
    return new Key(rule.pattern().text(), rule.origin(), rule.action().name().toLowerCase(java.util.Locale.ROOT));
  }
}
