package dev.egressd.proxy.mitm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.egressd.audit.AuditEvent;
import dev.egressd.audit.ProxyMetrics;
import dev.egressd.policy.AccessRequest;
import dev.egressd.policy.Decision;
import dev.egressd.policy.Destination;
import dev.egressd.policy.IpAddress;
import dev.egressd.policy.PolicySource;
import dev.egressd.policy.Protocol;
import dev.egressd.policy.Reason;
import dev.egressd.policy.Rule;
import dev.egressd.policy.TunnelTerms;
import dev.egressd.proxy.PipelineNames;
import dev.egressd.proxy.ProxyOptions;
import dev.egressd.proxy.testing.FakeResolver;
import dev.egressd.proxy.testing.RecordingAuditSink;
import dev.egressd.proxy.testing.TestPolicies;
import dev.egressd.proxy.tunnel.DecisionStep;
import dev.egressd.proxy.tunnel.Dialer;
import dev.egressd.proxy.tunnel.LoopGuard;
import dev.egressd.proxy.tunnel.TunnelEstablisher;
import dev.egressd.proxy.tunnel.TunnelInterceptor;
import dev.egressd.proxy.tunnel.UpstreamConnector;
import dev.egressd.proxy.tunnel.Vetting;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.ssl.SslContextBuilder;
import java.net.ConnectException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The first bytes of an intercepted tunnel, without sockets: TLS starts interception; anything else is refused or
 * relayed as the terms fixed at approval say, and a failed dial of an opaque tunnel is audited like any other.
 */
class TlsDetectHandlerTest {
  private static final IpAddress ORIGIN = IpAddress.parse("93.184.215.14").orElseThrow();
  private static final Decision OPAQUE_REFUSED = Decision.deny(Reason.OPAQUE_TUNNEL, PolicySource.MODE_GUARD, null,
      "limited");

  @TempDir
  Path dir;

  private final RecordingAuditSink audit = new RecordingAuditSink();
  private final List<EmbeddedChannel> upstreams = new ArrayList<>();
  private final EmbeddedChannel client = new EmbeddedChannel();
  private boolean refuseDials;
  private final Dialer dialer = (target, loop, initializer) -> {
    if (refuseDials) {
      return loop.newFailedFuture(new ConnectException("Connection refused"));
    }
    EmbeddedChannel upstream = new EmbeddedChannel(initializer);
    upstreams.add(upstream);
    return loop.newSucceededFuture(new Dialer.Connection(upstream, target.addresses().get(0)));
  };

  @AfterEach
  void tearDown() {
    client.finishAndReleaseAll();
    upstreams.forEach(EmbeddedChannel::finishAndReleaseAll);
  }

  private void intercept(TunnelTerms terms, ByteBuf first) throws Exception {
    ProxyOptions options = ProxyOptions.builder().build();
    UpstreamConnector connector = new UpstreamConnector(TestPolicies::standard, new FakeResolver(), audit,
        NioSocketChannel.class, options.connectTimeout(), options.resolveTimeout(), Clock.systemUTC(), LoopGuard.NONE,
        ProxyMetrics.NONE);
    CertificateAuthority ca = CertificateAuthority.loadOrCreate(dir.resolve("ca.pem"), dir.resolve("ca.key"),
        Clock.systemUTC());
    TunnelInterceptor stage = MitmStage.factory(new LeafMinter(ca, Clock.systemUTC(), 4),
        SslContextBuilder.forClient().build(), MitmOptions.DEFAULTS).create(options);
    TunnelEstablisher establisher = new TunnelEstablisher(connector, DecisionStep.ENGINE, dialer, stage,
        options.idleTimeout());
    AccessRequest request = new AccessRequest(Destination.parseAuthority("allowed.test:443"),
        Protocol.HTTPS_CONNECT, "CONNECT", false, "127.0.0.1:5555", 23);
    Vetting.Approved tunnel = new Vetting.Approved(request, Decision.allow(Rule.allow("allowed.test", "test")),
        List.of(ORIGIN), terms);
    ArrayDeque<Object> early = new ArrayDeque<>(List.of(first));
    stage.intercept(client, tunnel, establisher, early);
    client.runPendingTasks();
  }

  private static ByteBuf ascii(String text) {
    return Unpooled.copiedBuffer(text, StandardCharsets.US_ASCII);
  }

  @Test
  void clientHelloStartsInterceptionWithTheProxysHttpHandler() throws Exception {
    intercept(new TunnelTerms(true, Optional.empty()), Unpooled.wrappedBuffer(new byte[] {0x16, 3, 1}));

    assertThat(client.pipeline().get(PipelineNames.TLS_DETECT)).isNull();
    assertThat(client.pipeline().get(PipelineNames.CLIENT_TLS)).isNotNull();
    assertThat(client.pipeline().get(PipelineNames.HTTP_PROXY)).isNotNull();
    assertThat(upstreams).isEmpty();
  }

  @Test
  void opaqueBytesAreRefusedWhenTheApprovingPolicySaidSo() throws Exception {
    intercept(new TunnelTerms(true, Optional.of(OPAQUE_REFUSED)), ascii("SSH-2.0-client\r\n"));

    assertThat(client.isOpen()).isFalse();
    assertThat(upstreams).isEmpty();
    assertThat(audit.decisions()).singleElement().satisfies(d -> {
      assertThat(d.decision()).isEqualTo(OPAQUE_REFUSED);
      assertThat(d.request().protocol()).isEqualTo(Protocol.HTTPS);
      assertThat(d.request().connectionId()).isEqualTo(23);
    });
  }

  @Test
  void opaqueBytesAreRelayedWhenAllowedWithTheFirstBytesFirst() throws Exception {
    intercept(new TunnelTerms(true, Optional.empty()), ascii("SSH-2.0-client\r\n"));

    assertThat(upstreams).hasSize(1);
    ByteBuf sent = upstreams.get(0).readOutbound();
    assertThat(sent.toString(StandardCharsets.US_ASCII)).isEqualTo("SSH-2.0-client\r\n");
    sent.release();
    assertThat(client.pipeline().get(PipelineNames.RELAY)).isNotNull();
    assertThat(audit.events()).singleElement().isInstanceOf(AuditEvent.TunnelOpened.class);
  }

  @Test
  void failedDialOfAnOpaqueTunnelIsAuditedAndClosesTheClient() throws Exception {
    refuseDials = true;
    intercept(new TunnelTerms(true, Optional.empty()), ascii("SSH-2.0-client\r\n"));

    assertThat(client.isOpen()).isFalse();
    assertThat(audit.events()).singleElement().isInstanceOfSatisfying(AuditEvent.UpstreamFailed.class, f -> {
      assertThat(f.cause()).isEqualTo("connect_refused");
      assertThat(f.request().connectionId()).isEqualTo(23);
    });
  }
}
