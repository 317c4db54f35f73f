package dev.egressd.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.egressd.audit.AuditEvent;
import dev.egressd.audit.ProxyMetrics;
import dev.egressd.policy.AccessMode;
import dev.egressd.proxy.PipelineNames;
import dev.egressd.proxy.ProxyOptions;
import dev.egressd.proxy.testing.FakeResolver;
import dev.egressd.proxy.testing.RecordingAuditSink;
import dev.egressd.proxy.testing.TestPolicies;
import dev.egressd.proxy.tunnel.DecisionStep;
import dev.egressd.proxy.tunnel.Dialer;
import dev.egressd.proxy.tunnel.LoopGuard;
import dev.egressd.proxy.tunnel.TunnelEstablisher;
import dev.egressd.proxy.tunnel.UpstreamConnector;
import dev.egressd.proxy.tunnel.Vetting;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.net.ConnectException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Absolute-form forwarding without sockets: the origin is an embedded channel handed out by a stand-in dialler, so
 * the request the origin sees, connection reuse, and an accepted upgrade are checked byte for byte.
 */
class HttpForwardingTest {
  // Public-looking addresses that are never dialled: the dialler is a stand-in.
  private final FakeResolver resolver = new FakeResolver().map("allowed.test", "93.184.215.14")
      .map("a.allowed.test", "93.184.215.14");
  private final RecordingAuditSink audit = new RecordingAuditSink();
  private final List<Vetting.Approved> dialled = new ArrayList<>();
  private final List<EmbeddedChannel> origins = new ArrayList<>();
  private boolean refuseDials;
  private final Dialer dialer = (target, loop, initializer) -> {
    dialled.add(target);
    if (refuseDials) {
      return loop.newFailedFuture(new ConnectException("Connection refused"));
    }
    EmbeddedChannel origin = new EmbeddedChannel(initializer);
    origins.add(origin);
    return loop.newSucceededFuture(new Dialer.Connection(origin, target.addresses().get(0)));
  };
  private final EmbeddedChannel client = client();

  @AfterEach
  void tearDown() {
    client.finishAndReleaseAll();
    origins.forEach(EmbeddedChannel::finishAndReleaseAll);
  }

  private EmbeddedChannel client() {
    ProxyOptions options = ProxyOptions.builder().build();
    UpstreamConnector connector = new UpstreamConnector(() -> TestPolicies.engine(AccessMode.FULL, "allowed.test",
        "**.allowed.test"), resolver, audit, NioSocketChannel.class, options.connectTimeout(),
        options.resolveTimeout(), Clock.systemUTC(), LoopGuard.NONE, ProxyMetrics.NONE);
    TunnelEstablisher establisher = new TunnelEstablisher(connector, DecisionStep.ENGINE, dialer, null,
        options.idleTimeout());
    return new EmbeddedChannel(new HttpProxyInitializer(establisher, options));
  }

  private static ByteBuf ascii(String text) {
    return Unpooled.copiedBuffer(text, StandardCharsets.ISO_8859_1);
  }

  private static String drain(EmbeddedChannel channel) {
    StringBuilder sb = new StringBuilder();
    for (Object msg; (msg = channel.readOutbound()) != null; ) {
      ByteBuf buf = (ByteBuf) msg;
      sb.append(buf.toString(StandardCharsets.ISO_8859_1));
      buf.release();
    }
    return sb.toString();
  }

  private String request(String head) {
    client.writeInbound(ascii(head));
    client.runPendingTasks();
    return drain(origins.get(origins.size() - 1));
  }

  private String respond(String response) {
    origins.get(origins.size() - 1).writeInbound(ascii(response));
    client.runPendingTasks();
    return drain(client);
  }

  @Test
  void allowedRequestReachesTheOriginInOriginFormAndTheResponseStreamsBack() {
    String sent = request("GET http://allowed.test/path?q=1 HTTP/1.1\r\nHost: allowed.test\r\n"
        + "Proxy-Connection: keep-alive\r\n\r\n");

    assertThat(sent).startsWith("GET /path?q=1 HTTP/1.1\r\n").contains("Host: allowed.test\r\n")
        .doesNotContainIgnoringCase("proxy-connection");
    assertThat(dialled).singleElement().satisfies(t -> assertThat(t.addresses()).hasSize(1));
    assertThat(respond("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")).startsWith("HTTP/1.1 200 OK\r\n")
        .endsWith("\r\n\r\nok");
    assertThat(audit.decisions()).singleElement().satisfies(d -> {
      assertThat(d.decision().allowed()).isTrue();
      assertThat(d.request().connectionId()).isPositive();
    });
  }

  @Test
  void keptAliveOriginIsReusedForTheSameDestination() {
    request("GET http://allowed.test/1 HTTP/1.1\r\nHost: allowed.test\r\n\r\n");
    respond("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");

    String second = request("GET http://allowed.test/2 HTTP/1.1\r\nHost: allowed.test\r\n\r\n");

    assertThat(second).startsWith("GET /2 HTTP/1.1\r\n");
    assertThat(dialled).hasSize(1);
    assertThat(origins.get(0).isOpen()).isTrue();
    assertThat(audit.decisions()).hasSize(2);
    assertThat(audit.decisions().get(0).request().connectionId())
        .isEqualTo(audit.decisions().get(1).request().connectionId());
  }

  @Test
  void anotherDestinationGetsItsOwnOriginConnection() {
    request("GET http://allowed.test/1 HTTP/1.1\r\nHost: allowed.test\r\n\r\n");
    respond("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");

    request("GET http://a.allowed.test/ HTTP/1.1\r\nHost: a.allowed.test\r\n\r\n");

    assertThat(dialled).hasSize(2);
    assertThat(origins.get(0).isOpen()).as("the first origin is closed, not reused").isFalse();
  }

  @Test
  void originWhoseAddressIsNoLongerVettedIsNotReused() {
    request("GET http://allowed.test/1 HTTP/1.1\r\nHost: allowed.test\r\n\r\n");
    respond("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    resolver.map("allowed.test", "93.184.215.99");

    request("GET http://allowed.test/2 HTTP/1.1\r\nHost: allowed.test\r\n\r\n");

    assertThat(dialled).hasSize(2);
    assertThat(dialled.get(1).addresses()).extracting(Object::toString).containsExactly("93.184.215.99");
    assertThat(origins.get(0).isOpen()).isFalse();
  }

  @Test
  void failedDialIs502AndAuditedOnceAfterTheDecision() {
    refuseDials = true;
    client.writeInbound(ascii("GET http://allowed.test/ HTTP/1.1\r\nHost: allowed.test\r\n\r\n"));
    client.runPendingTasks();

    assertThat(drain(client)).startsWith("HTTP/1.1 502").contains("x-proxy-error: upstream-connect-refused")
        .contains("allowed.test:80");
    assertThat(audit.events()).hasSize(2).element(1).isInstanceOfSatisfying(AuditEvent.UpstreamFailed.class,
        f -> assertThat(f.cause()).isEqualTo("connect_refused"));
  }

  @Test
  void acceptedUpgradeBecomesATunnelWithTheOriginsEarlyBytesFirst() {
    String sent = request("GET http://allowed.test/ws HTTP/1.1\r\nHost: allowed.test\r\nConnection: Upgrade\r\n"
        + "Upgrade: websocket\r\n\r\n");
    assertThat(sent).containsIgnoringCase("upgrade: websocket\r\n").containsIgnoringCase("connection: upgrade\r\n");

    String answered = respond("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "\r\nhello");

    assertThat(answered).startsWith("HTTP/1.1 101 Switching Protocols\r\n").endsWith("\r\n\r\nhello");
    assertThat(client.pipeline().get(PipelineNames.RELAY)).isNotNull();
    assertThat(client.pipeline().get(PipelineNames.HTTP_CODEC)).isNull();
    EmbeddedChannel origin = origins.get(0);
    assertThat(origin.pipeline().get(PipelineNames.HTTP_CLIENT_CODEC)).isNull();
    client.writeInbound(ascii("frame"));
    assertThat(drain(origin)).isEqualTo("frame");
    origin.writeInbound(ascii("reply"));
    assertThat(drain(client)).isEqualTo("reply");
  }

  @Test
  void switchNobodyAskedForEndsBothConnections() {
    request("GET http://allowed.test/ HTTP/1.1\r\nHost: allowed.test\r\n\r\n");

    respond("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n");

    assertThat(origins.get(0).isOpen()).isFalse();
    assertThat(client.isOpen()).isFalse();
  }
}
