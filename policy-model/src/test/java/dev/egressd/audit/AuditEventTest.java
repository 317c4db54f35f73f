package dev.egressd.audit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.egressd.policy.AccessRequest;
import dev.egressd.policy.Decision;
import dev.egressd.policy.Destination;
import dev.egressd.policy.NetworkPolicy;
import dev.egressd.policy.PolicyEngine;
import dev.egressd.policy.Protocol;
import dev.egressd.policy.Rule;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class AuditEventTest {
  private static final Instant NOW = Instant.parse("2026-11-23T10:15:30Z");
  private static final AccessRequest REQUEST =
      AccessRequest.of(Destination.parseAuthority("example.com:443"), Protocol.HTTPS_CONNECT, null, "127.0.0.1:1");

  @Test
  void eventsCarryTheRequestAndRefuseNulls() {
    Decision decision = new PolicyEngine(NetworkPolicy.builder().addRule(Rule.allow("example.com", "t")).build(),
        false).decide(REQUEST);

    AuditEvent event = new AuditEvent.PolicyDecision(NOW, REQUEST, decision);

    assertThat(event.timestamp()).isEqualTo(NOW);
    assertThatThrownBy(() -> new AuditEvent.PolicyDecision(NOW, REQUEST, null))
        .isInstanceOf(NullPointerException.class).hasMessage("decision");
    assertThatThrownBy(() -> new AuditEvent.UpstreamFailed(NOW, REQUEST, null))
        .isInstanceOf(NullPointerException.class).hasMessage("cause");
    assertThatThrownBy(() -> new AuditEvent.TunnelOpened(NOW, null))
        .isInstanceOf(NullPointerException.class).hasMessage("request");
    assertThatThrownBy(() -> new AuditEvent.TunnelClosed(null, REQUEST, 1, 2, 3))
        .isInstanceOf(NullPointerException.class).hasMessage("timestamp");
  }

  @Test
  void sinksReceiveEventsAndNoneDiscardsThem() {
    List<AuditEvent> recorded = new ArrayList<>();
    AuditSink sink = recorded::add;
    AuditEvent closed = new AuditEvent.TunnelClosed(NOW, REQUEST, 10, 20, 30);

    sink.record(closed);
    AuditSink.NONE.record(closed);

    assertThat(recorded).containsExactly(closed);
    assertThat(AuditEvent.class.getPermittedSubclasses()).hasSize(4);
  }
}
