package dev.egressd.audit.otel;

import static dev.egressd.audit.otel.Events.AT;
import static dev.egressd.audit.otel.Events.request;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.egressd.audit.AuditEvent;
import dev.egressd.policy.AccessRequest;
import dev.egressd.policy.Decision;
import dev.egressd.policy.PolicySource;
import dev.egressd.policy.Protocol;
import dev.egressd.policy.Reason;
import dev.egressd.policy.Rule;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.sdk.metrics.SdkMeterProvider;
import io.opentelemetry.sdk.metrics.data.HistogramPointData;
import io.opentelemetry.sdk.testing.exporter.InMemoryMetricReader;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The proxy's metrics: what each audit event and each {@code ProxyMetrics} call adds, with which attributes. */
class ProxyInstrumentsTest {
  private static final AttributeKey<String> PROTOCOL = AttributeKey.stringKey("protocol");
  private static final AttributeKey<String> OUTCOME = AttributeKey.stringKey("outcome");

  private final InMemoryMetricReader reader = InMemoryMetricReader.create();
  private final SdkMeterProvider meters = SdkMeterProvider.builder().registerMetricReader(reader).build();
  private final LongAdder dropped = new LongAdder();
  private final ProxyInstruments instruments = new ProxyInstruments(meters.get("dev.egressd"), dropped);

  @AfterEach
  void tearDown() {
    meters.close();
  }

  @Test
  void decisionsAreCountedByDecisionReasonAndProtocol() {
    instruments.observe(Events.allowedGet(80));
    instruments.observe(Events.allowedGet(81));
    instruments.observe(Events.decision("a.example:1", Protocol.SOCKS5_TCP, null, Events.deny(Reason.NOT_ALLOWED)));
    instruments.observe(Events.decision("a.example:1", Protocol.HTTPS, "POST",
        Decision.deny(Reason.METHOD_NOT_ALLOWED, PolicySource.MODE_GUARD, null, "")));
    instruments.observe(Events.decision("a.example:1", Protocol.HTTP, "GET", new Decision(Decision.Verdict.ASK,
        Reason.NOT_ALLOWED, PolicySource.DECIDER, Optional.empty(), "")));

    assertThat(metrics().longSums("egressd.decisions")).containsOnly(
        Map.entry(decision("allow", "allow", "http"), 2L),
        Map.entry(decision("deny", "not_allowed", "socks5_tcp"), 1L),
        Map.entry(decision("deny", "method_not_allowed", "https"), 1L),
        Map.entry(decision("ask", "not_allowed", "http"), 1L));
  }

  @Test
  void ruleHitsCountEachRuleByPatternOriginAndActionAndRememberTheLastHit() {
    Rule allow = Rule.allow("**.example.com", "egressd.toml:3 network.allowed_domains");
    Rule deny = Rule.deny("evil.example.com", "egressd.toml:4 network.denied_domains");
    Rule unused = Rule.allow("unused.example.org", "egressd.toml:3 network.allowed_domains");
    instruments.observe(new AuditEvent.PolicyDecision(AT, request("a.example.com:443", Protocol.HTTPS_CONNECT, null),
        Decision.allow(allow)));
    instruments.observe(new AuditEvent.PolicyDecision(AT.plusSeconds(5), request("b.example.com:443",
        Protocol.HTTPS_CONNECT, null), Decision.allow(allow)));
    Decision refusal = Decision.deny(Reason.DENIED, PolicySource.BASELINE_POLICY, deny, "");
    instruments.observe(Events.decision("evil.example.com:443", Protocol.HTTPS_CONNECT, null,
        Decision.reported(refusal)));
    instruments.observe(Events.decision("other.example:443", Protocol.HTTPS_CONNECT, null,
        Events.deny(Reason.NOT_ALLOWED)));

    Attributes allowKey = Attributes.of(AttributeKey.stringKey("rule"), "**.example.com",
        AttributeKey.stringKey("origin"), "egressd.toml:3 network.allowed_domains",
        AttributeKey.stringKey("action"), "allow");
    Attributes denyKey = Attributes.of(AttributeKey.stringKey("rule"), "evil.example.com",
        AttributeKey.stringKey("origin"), "egressd.toml:4 network.denied_domains",
        AttributeKey.stringKey("action"), "deny");
    assertThat(metrics().longSums("egressd.rule.hits")).as("rules, never hosts")
        .containsOnly(Map.entry(allowKey, 2L), Map.entry(denyKey, 1L));
    assertThat(instruments.ruleHits().of(allow).lastHitMillis()).isEqualTo(AT.plusSeconds(5).toEpochMilli());
    assertThat(instruments.ruleHits().of(unused)).isEqualTo(new RuleHits.Hit("unused.example.org",
        "egressd.toml:3 network.allowed_domains", "allow", 0, 0));
  }

  @Test
  void activeConnectionsGoUpAndDownByListener() {
    instruments.connectionOpened("http");
    instruments.connectionOpened("http");
    instruments.connectionOpened("socks5");
    instruments.connectionOpened("admin");
    instruments.connectionClosed("http");
    instruments.connectionClosed("admin");

    assertThat(metrics().longSums("egressd.connections.active")).containsOnly(
        Map.entry(listener("http"), 1L), Map.entry(listener("socks5"), 1L), Map.entry(listener("admin"), 0L));
    assertThat(metrics().metric("egressd.connections.active").getLongSumData().isMonotonic()).isFalse();
  }

  @Test
  void activeTunnelsFollowOpenedAndClosedEventsByProtocol() {
    AccessRequest connect = request("a.example:443", Protocol.HTTPS_CONNECT, "CONNECT");
    AccessRequest socks = request("a.example:22", Protocol.SOCKS5_TCP, null);
    instruments.observe(new AuditEvent.TunnelOpened(AT, connect));
    instruments.observe(new AuditEvent.TunnelOpened(AT, connect));
    instruments.observe(new AuditEvent.TunnelOpened(AT, socks));
    instruments.observe(new AuditEvent.TunnelClosed(AT, socks, 0, 0, 0));

    assertThat(metrics().longSums("egressd.tunnels.active")).containsOnly(
        Map.entry(protocol("https_connect"), 2L), Map.entry(protocol("socks5_tcp"), 0L));
  }

  @Test
  void closedTunnelsAddRelayedBytesByDirectionAndTheirDuration() {
    AccessRequest connect = request("a.example:443", Protocol.HTTPS_CONNECT, "CONNECT");
    instruments.observe(new AuditEvent.TunnelOpened(AT, connect));
    instruments.observe(new AuditEvent.TunnelClosed(AT, connect, 100, 2000, 1500));
    instruments.observe(new AuditEvent.TunnelOpened(AT, connect));
    instruments.observe(new AuditEvent.TunnelClosed(AT, connect, 1, 2, 250));

    MetricValues metrics = metrics();
    assertThat(metrics.metric("egressd.relayed").getUnit()).isEqualTo("By");
    assertThat(metrics.longSums("egressd.relayed")).containsOnly(
        Map.entry(bytes("https_connect", "up"), 101L), Map.entry(bytes("https_connect", "down"), 2002L));
    HistogramPointData duration = metrics.histograms("egressd.tunnel.duration").get(protocol("https_connect"));
    assertThat(metrics.metric("egressd.tunnel.duration").getUnit()).isEqualTo("s");
    assertThat(duration.getCount()).isEqualTo(2);
    assertThat(duration.getSum()).isCloseTo(1.75, within(1e-9));
    assertThat(duration.getBoundaries()).containsExactly(0.1, 1.0, 10.0, 60.0, 300.0, 900.0, 3600.0, 14400.0);
    assertThat(metrics.longSums("egressd.tunnels.active")).containsOnly(Map.entry(protocol("https_connect"), 0L));
  }

  @Test
  void upstreamConnectDurationsAreRecordedInSecondsByOutcome() {
    instruments.upstreamConnect(TimeUnit.MILLISECONDS.toNanos(20), true);
    instruments.upstreamConnect(TimeUnit.MILLISECONDS.toNanos(30), true);
    instruments.upstreamConnect(TimeUnit.SECONDS.toNanos(2), false);

    Map<Attributes, HistogramPointData> points = metrics().histograms("egressd.upstream.connect.duration");
    assertThat(points).containsOnlyKeys(outcome("connected"), outcome("failed"));
    assertThat(points.get(outcome("connected")).getCount()).isEqualTo(2);
    assertThat(points.get(outcome("connected")).getSum()).isCloseTo(0.05, within(1e-9));
    assertThat(points.get(outcome("failed")).getSum()).isCloseTo(2.0, within(1e-9));
    assertThat(points.get(outcome("failed")).getBoundaries()).startsWith(0.001, 0.0025).endsWith(10.0);
  }

  @Test
  void dnsLookupDurationsAreRecordedInSecondsByOutcome() {
    instruments.dnsLookup(TimeUnit.MILLISECONDS.toNanos(4), true);
    instruments.dnsLookup(TimeUnit.MILLISECONDS.toNanos(5000), false);

    Map<Attributes, HistogramPointData> points = metrics().histograms("egressd.dns.lookup.duration");
    assertThat(points).containsOnlyKeys(outcome("answered"), outcome("failed"));
    assertThat(points.get(outcome("answered")).getSum()).isCloseTo(0.004, within(1e-9));
    assertThat(points.get(outcome("failed")).getSum()).isCloseTo(5.0, within(1e-9));
  }

  @Test
  void upstreamFailuresAreCountedByCause() {
    AccessRequest request = request("a.example:443", Protocol.HTTPS_CONNECT, "CONNECT");
    instruments.observe(new AuditEvent.UpstreamFailed(AT, request, "dns_failure"));
    instruments.observe(new AuditEvent.UpstreamFailed(AT, request, "connect_refused"));
    instruments.observe(new AuditEvent.UpstreamFailed(AT, request, "connect_refused"));

    assertThat(metrics().longSums("egressd.upstream.failures")).containsOnly(
        Map.entry(cause("dns_failure"), 1L), Map.entry(cause("connect_refused"), 2L));
  }

  @Test
  void auditDroppedReflectsTheCounterAtEachCollection() {
    assertThat(metrics().longSums("egressd.audit.dropped")).containsOnly(Map.entry(Attributes.empty(), 0L));

    dropped.add(5);
    assertThat(metrics().longSums("egressd.audit.dropped")).containsOnly(Map.entry(Attributes.empty(), 5L));

    dropped.add(2);
    assertThat(metrics().longSums("egressd.audit.dropped")).containsOnly(Map.entry(Attributes.empty(), 7L));
    assertThat(metrics().metric("egressd.audit.dropped").getLongSumData().isMonotonic()).isTrue();
  }

  @Test
  void noEventsMeansNoDecisionPoints() {
    MetricValues metrics = metrics();

    assertThat(metrics.has("egressd.decisions")).isFalse();
    assertThat(metrics.has("egressd.audit.dropped")).isTrue();
  }

  private MetricValues metrics() {
    return MetricValues.collect(reader);
  }

  private static Attributes decision(String decision, String reason, String protocol) {
    return Attributes.of(AttributeKey.stringKey("decision"), decision, AttributeKey.stringKey("reason"), reason,
        PROTOCOL, protocol);
  }

  private static Attributes listener(String name) {
    return Attributes.of(AttributeKey.stringKey("listener"), name);
  }

  private static Attributes protocol(String label) {
    return Attributes.of(PROTOCOL, label);
  }

  private static Attributes bytes(String protocol, String direction) {
    return Attributes.of(PROTOCOL, protocol, AttributeKey.stringKey("direction"), direction);
  }

  private static Attributes outcome(String outcome) {
    return Attributes.of(OUTCOME, outcome);
  }

  private static Attributes cause(String cause) {
    return Attributes.of(AttributeKey.stringKey("cause"), cause);
  }
}
