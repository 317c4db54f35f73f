package dev.egressd.proxy.tunnel;

import static org.assertj.core.api.Assertions.assertThat;

import dev.egressd.audit.AuditEvent;
import dev.egressd.policy.AccessRequest;
import dev.egressd.policy.Destination;
import dev.egressd.policy.Protocol;
import dev.egressd.proxy.testing.RecordingAuditSink;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelPromise;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.ArrayDeque;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A half-close passes through a tunnel without sockets: a FIN from one side shuts the other side's output after
 * what was relayed, the answer still flows back, and the tunnel ends (one {@link AuditEvent.TunnelClosed}) once
 * both directions are done.
 */
class TunnelHalfCloseTest {
  private final RecordingAuditSink audit = new RecordingAuditSink();
  private final HalfClosable client = new HalfClosable();
  private final HalfClosable upstream = new HalfClosable();
  private final AccessRequest request = new AccessRequest(Destination.parseAuthority("allowed.test:443"),
      Protocol.HTTPS_CONNECT, "CONNECT", false, "127.0.0.1:5555", 5);

  @AfterEach
  void tearDown() {
    client.finishAndReleaseAll();
    upstream.finishAndReleaseAll();
  }

  private static ByteBuf ascii(String text) {
    return Unpooled.copiedBuffer(text, StandardCharsets.US_ASCII);
  }

  private static String read(EmbeddedChannel channel) {
    ByteBuf buf = channel.readOutbound();
    try {
      return buf.toString(StandardCharsets.US_ASCII);
    } finally {
      buf.release();
    }
  }

  @Test
  void clientFinReachesTheOriginAndTheAnswerStillComesBack() {
    Tunnel.start(client, upstream, request, audit, Clock.systemUTC(), new ArrayDeque<>());
    client.writeInbound(ascii("request"));
    assertThat(read(upstream)).isEqualTo("request");

    client.finInbound();

    assertThat(upstream.isOutputShutdown()).as("the FIN was passed on").isTrue();
    assertThat(client.isOpen()).isTrue();
    assertThat(upstream.isOpen()).isTrue();
    upstream.writeInbound(ascii("answer"));
    assertThat(read(client)).isEqualTo("answer");

    upstream.finInbound();

    assertThat(client.isOutputShutdown()).isTrue();
    assertThat(client.isOpen()).isFalse();
    assertThat(upstream.isOpen()).isFalse();
    assertThat(audit.events()).filteredOn(AuditEvent.TunnelClosed.class::isInstance).singleElement()
        .isInstanceOfSatisfying(AuditEvent.TunnelClosed.class, closed -> {
          assertThat(closed.bytesUp()).isEqualTo(7);
          assertThat(closed.bytesDown()).isEqualTo(6);
          assertThat(closed.request().connectionId()).isEqualTo(5);
        });
  }

  @Test
  void closeWithoutHalfCloseEndsBothSides() {
    Tunnel.start(client, upstream, request, audit, Clock.systemUTC(), new ArrayDeque<>());

    upstream.close();

    assertThat(client.isOpen()).isFalse();
    assertThat(audit.events()).filteredOn(AuditEvent.TunnelClosed.class::isInstance).hasSize(1);
  }

  /** An embedded channel that can be half closed, as a TCP socket can. */
  private static final class HalfClosable extends EmbeddedChannel implements DuplexChannel {
    private boolean inputShutdown;
    private boolean outputShutdown;

    HalfClosable() {
      config().setAutoRead(false);
    }

    /** The remote sent FIN: the input ends and the pipeline is told, as the socket transports do. */
    void finInbound() {
      inputShutdown = true;
      pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
      runPendingTasks();
    }

    @Override
    public boolean isInputShutdown() {
      return inputShutdown;
    }

    @Override
    public ChannelFuture shutdownInput() {
      return shutdownInput(newPromise());
    }

    @Override
    public ChannelFuture shutdownInput(ChannelPromise promise) {
      inputShutdown = true;
      return promise.setSuccess();
    }

    @Override
    public boolean isOutputShutdown() {
      return outputShutdown;
    }

    @Override
    public ChannelFuture shutdownOutput() {
      return shutdownOutput(newPromise());
    }

    @Override
    public ChannelFuture shutdownOutput(ChannelPromise promise) {
      outputShutdown = true;
      return promise.setSuccess();
    }

    @Override
    public boolean isShutdown() {
      return inputShutdown && outputShutdown;
    }

    @Override
    public ChannelFuture shutdown() {
      return shutdown(newPromise());
    }

    @Override
    public ChannelFuture shutdown(ChannelPromise promise) {
      inputShutdown = true;
      outputShutdown = true;
      return promise.setSuccess();
    }
  }
}
