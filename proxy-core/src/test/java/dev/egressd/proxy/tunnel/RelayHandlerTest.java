package dev.egressd.proxy.tunnel;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.LastHttpContent;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class RelayHandlerTest {
  /** Counts read() calls, so the test can see when the relay asks for more. */
  private static final class ReadCounter extends ChannelOutboundHandlerAdapter {
    int reads;

    @Override
    public void read(ChannelHandlerContext ctx) {
      reads++;
      ctx.read();
    }
  }

  @Test
  void relaysBytesToThePeerAndReadsAgainOnlyAfterTheWriteCompleted() {
    EmbeddedChannel peer = new EmbeddedChannel();
    ReadCounter counter = new ReadCounter();
    AtomicLong closedWith = new AtomicLong(-1);
    EmbeddedChannel source = new EmbeddedChannel(counter, new RelayHandler(peer, closedWith::set));
    source.config().setAutoRead(false); // as in production: only the relay asks for reads
    int readsAfterAdd = counter.reads;

    source.writeInbound(Unpooled.copiedBuffer("hello", StandardCharsets.US_ASCII));

    ByteBuf relayed = peer.readOutbound();
    assertThat(relayed.toString(StandardCharsets.US_ASCII)).isEqualTo("hello");
    relayed.release();
    assertThat(counter.reads).isEqualTo(readsAfterAdd + 1);

    source.close();
    assertThat(closedWith.get()).isEqualTo(5);
    assertThat(peer.isOpen()).as("peer closed after flush").isFalse();
    source.finishAndReleaseAll();
    peer.finishAndReleaseAll();
  }

  @Test
  void nonByteMessagesAreDroppedNotRelayed() {
    EmbeddedChannel peer = new EmbeddedChannel();
    EmbeddedChannel source = new EmbeddedChannel(new RelayHandler(peer, n -> {}));

    source.writeInbound(LastHttpContent.EMPTY_LAST_CONTENT);

    assertThat((Object) peer.readOutbound()).isNull();
    assertThat(source.isOpen()).isTrue();
    source.finishAndReleaseAll();
    peer.finishAndReleaseAll();
  }

  @Test
  void bytesForAClosedPeerAreReleasedAndTheSourceCloses() {
    EmbeddedChannel peer = new EmbeddedChannel();
    peer.close();
    EmbeddedChannel source = new EmbeddedChannel(new RelayHandler(peer, n -> {}));
    ByteBuf data = Unpooled.copiedBuffer("late", StandardCharsets.US_ASCII);

    source.writeInbound(data);

    assertThat(data.refCnt()).isZero();
    assertThat(source.isOpen()).isFalse();
    source.finishAndReleaseAll();
  }
}
