package dev.egressd.audit.otel;

import dev.egressd.audit.AuditEvent;
import dev.egressd.audit.ProxyMetrics;
import dev.egressd.policy.Decision;
import dev.egressd.policy.Protocol;
import dev.egressd.policy.Reason;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.metrics.DoubleHistogram;
import io.opentelemetry.api.metrics.LongCounter;
import io.opentelemetry.api.metrics.LongUpDownCounter;
import io.opentelemetry.api.metrics.Meter;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * The proxy's OTel metrics. Audit events feed the decision, tunnel and failure instruments; the proxy calls the
 * {@link ProxyMetrics} methods for connections and latencies. Everything here runs on event loops, so attribute
 * sets are built once per combination and reused.
 */
final class ProxyInstruments implements ProxyMetrics {
  private static final AttributeKey<String> DECISION = AttributeKey.stringKey("decision");
  private static final AttributeKey<String> REASON = AttributeKey.stringKey("reason");
  private static final AttributeKey<String> PROTOCOL = AttributeKey.stringKey("protocol");
  private static final AttributeKey<String> LISTENER = AttributeKey.stringKey("listener");
  private static final AttributeKey<String> DIRECTION = AttributeKey.stringKey("direction");
  private static final AttributeKey<String> OUTCOME = AttributeKey.stringKey("outcome");
  private static final AttributeKey<String> CAUSE = AttributeKey.stringKey("cause");
  private static final AttributeKey<String> BY = AttributeKey.stringKey("by");
  private static final List<Double> SECONDS_BUCKETS = List.of(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
      0.5, 1.0, 2.5, 5.0, 10.0);
  private static final List<Double> TUNNEL_BUCKETS = List.of(0.1, 1.0, 10.0, 60.0, 300.0, 900.0, 3600.0, 14400.0);
  private static final Attributes CONNECTED = Attributes.of(OUTCOME, "connected");
  private static final Attributes FAILED = Attributes.of(OUTCOME, "failed");
  private static final Attributes ANSWERED = Attributes.of(OUTCOME, "answered");
  private static final Attributes UNANSWERED = Attributes.of(OUTCOME, "failed");

  private final LongCounter decisions;
  private final LongUpDownCounter connections;
  private final LongUpDownCounter tunnels;
  private final LongCounter bytes;
  private final DoubleHistogram connectDuration;
  private final DoubleHistogram tunnelDuration;
  private final DoubleHistogram dnsDuration;
  private final LongCounter upstreamFailures;
  private final DoubleHistogram deciderDuration;
  private final LongUpDownCounter approvalsPending;
  private final LongCounter approvalsAnswered;
  private final RuleHits ruleHits = new RuleHits();
  private final Map<String, Attributes> answerAttributes = new ConcurrentHashMap<>();
  private final Attributes[][][] decisionAttributes =
      new Attributes[Decision.Verdict.values().length][Reason.values().length][Protocol.values().length];
  private final Attributes[] protocolAttributes = new Attributes[Protocol.values().length];
  private final Attributes[][] byteAttributes = new Attributes[Protocol.values().length][2];
  private final Map<String, Attributes> listenerAttributes = new ConcurrentHashMap<>();
  private final Map<String, Attributes> causeAttributes = new ConcurrentHashMap<>();
  private final Map<String, Attributes> outcomeAttributes = new ConcurrentHashMap<>();

  /** @param dropped audit events dropped so far, exported as {@code egressd.audit.dropped} */
  ProxyInstruments(Meter meter, LongAdder dropped) {
    decisions = meter.counterBuilder("egressd.decisions")
        .setDescription("Final policy decisions, by decision, reason and protocol").build();
    connections = meter.upDownCounterBuilder("egressd.connections.active")
        .setDescription("Client connections open now, by listener").build();
    tunnels = meter.upDownCounterBuilder("egressd.tunnels.active")
        .setDescription("Relaying tunnels open now, by protocol").build();
    bytes = meter.counterBuilder("egressd.relayed").setUnit("By")
        .setDescription("Bytes relayed through tunnels that have closed, by protocol and direction").build();
    connectDuration = meter.histogramBuilder("egressd.upstream.connect.duration").setUnit("s")
        .setDescription("Upstream TCP connect time, all vetted addresses included, by outcome")
        .setExplicitBucketBoundariesAdvice(SECONDS_BUCKETS).build();
    tunnelDuration = meter.histogramBuilder("egressd.tunnel.duration").setUnit("s")
        .setDescription("How long tunnels stayed open, by protocol")
        .setExplicitBucketBoundariesAdvice(TUNNEL_BUCKETS).build();
    dnsDuration = meter.histogramBuilder("egressd.dns.lookup.duration").setUnit("s")
        .setDescription("DNS lookup time, by outcome").setExplicitBucketBoundariesAdvice(SECONDS_BUCKETS).build();
    deciderDuration = meter.histogramBuilder("egressd.decider.duration").setUnit("s")
        .setDescription("Policy decider calls, from the call to the answer, failure or timeout, by outcome")
        .setExplicitBucketBoundariesAdvice(SECONDS_BUCKETS).build();
    approvalsPending = meter.upDownCounterBuilder("egressd.approvals.pending")
        .setDescription("Requests waiting for a person now").build();
    approvalsAnswered = meter.counterBuilder("egressd.approvals.answered")
        .setDescription("Requests that waited for a person, by outcome (approved, denied, timeout) and by whom")
        .build();
    upstreamFailures = meter.counterBuilder("egressd.upstream.failures")
        .setDescription("Allowed requests whose upstream could not be reached, by cause").build();
    meter.counterBuilder("egressd.rule.hits")
        .setDescription("Decisions each rule made, by the rule as written, where it was written and its action")
        .buildWithCallback(m -> ruleHits.snapshot().forEach(h -> m.record(h.hits(), ruleAttributes(h))));
    meter.gaugeBuilder("egressd.rule.last_hit").setUnit("s")
        .setDescription("When each rule last decided, in seconds since the epoch")
        .buildWithCallback(m -> ruleHits.snapshot().forEach(h -> m.record(h.lastHitMillis() / 1000.0,
            ruleAttributes(h))));
    meter.counterBuilder("egressd.audit.dropped")
        .setDescription("Audit events dropped because the export queue was full")
        .buildWithCallback(m -> m.record(dropped.sum()));
  }

  /** Per-rule hit counts. */
  RuleHits ruleHits() {
    return ruleHits;
  }

  private static final AttributeKey<String> RULE = AttributeKey.stringKey("rule");
  private static final AttributeKey<String> ORIGIN = AttributeKey.stringKey("origin");
  private static final AttributeKey<String> ACTION = AttributeKey.stringKey("action");

  private static Attributes ruleAttributes(RuleHits.Hit hit) {
    return Attributes.of(RULE, hit.rule(), ORIGIN, hit.origin(), ACTION, hit.action());
  }

  /** Updates the instruments an audit event feeds; cheap and non-blocking. */
  void observe(AuditEvent event) {
    if (event instanceof AuditEvent.PolicyDecision d) {
      decisions.add(1, decisionAttributes(d.decision(), d.request().protocol()));
      ruleHits.observe(d);
    } else if (event instanceof AuditEvent.TunnelOpened t) {
      tunnels.add(1, protocolAttributes(t.request().protocol()));
    } else if (event instanceof AuditEvent.TunnelClosed t) {
      Protocol protocol = t.request().protocol();
      tunnels.add(-1, protocolAttributes(protocol));
      bytes.add(t.bytesUp(), byteAttributes(protocol, 0));
      bytes.add(t.bytesDown(), byteAttributes(protocol, 1));
      tunnelDuration.record(t.durationMillis() / 1000.0, protocolAttributes(protocol));
    } else if (event instanceof AuditEvent.UpstreamFailed f) {
      upstreamFailures.add(1, causeAttributes.computeIfAbsent(f.cause(), c -> Attributes.of(CAUSE, c)));
    }
  }

  @Override
  public void connectionOpened(String listener) {
    connections.add(1, listenerAttributes(listener));
  }

  @Override
  public void connectionClosed(String listener) {
    connections.add(-1, listenerAttributes(listener));
  }

  @Override
  public void upstreamConnect(long nanos, boolean connected) {
    connectDuration.record(nanos / 1e9, connected ? CONNECTED : FAILED);
  }

  @Override
  public void dnsLookup(long nanos, boolean answered) {
    dnsDuration.record(nanos / 1e9, answered ? ANSWERED : UNANSWERED);
  }

  @Override
  public void deciderAnswered(long nanos, String outcome) {
    deciderDuration.record(nanos / 1e9, outcomeAttributes.computeIfAbsent(outcome, o -> Attributes.of(OUTCOME, o)));
  }

  @Override
  public void approvalPending() {
    approvalsPending.add(1);
  }

  @Override
  public void approvalAnswered(String outcome, String by) {
    approvalsPending.add(-1);
    approvalsAnswered.add(1, answerAttributes.computeIfAbsent(outcome + "/" + by,
        k -> Attributes.of(OUTCOME, outcome, BY, by)));
  }

  private Attributes decisionAttributes(Decision decision, Protocol protocol) {
    int v = decision.verdict().ordinal();
    int r = decision.reason().ordinal();
    int p = protocol.ordinal();
    Attributes a = decisionAttributes[v][r][p];
    if (a == null) {
      // A benign race: two threads may both build the same immutable value.
      a = Attributes.of(DECISION, decision.verdict().label(), REASON, decision.reason().code(), PROTOCOL,
          protocol.label());
      decisionAttributes[v][r][p] = a;
    }
    return a;
  }

  private Attributes protocolAttributes(Protocol protocol) {
    Attributes a = protocolAttributes[protocol.ordinal()];
    if (a == null) {
      a = Attributes.of(PROTOCOL, protocol.label());
      protocolAttributes[protocol.ordinal()] = a;
    }
    return a;
  }

  private Attributes byteAttributes(Protocol protocol, int direction) {
    Attributes a = byteAttributes[protocol.ordinal()][direction];
    if (a == null) {
      a = Attributes.of(PROTOCOL, protocol.label(), DIRECTION, direction == 0 ? "up" : "down");
      byteAttributes[protocol.ordinal()][direction] = a;
    }
    return a;
  }

  private Attributes listenerAttributes(String listener) {
    return listenerAttributes.computeIfAbsent(listener, l -> Attributes.of(LISTENER, l));
  }
}
