package dev.egressd.proxy.tunnel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** One read never takes more than the limit, on a real socket with a sender that has far more queued. */
@Timeout(30)
class ReadLimitTest {
  private static final int SENT = 4 * 1024 * 1024;

  private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());

  @AfterEach
  void tearDown() {
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
  }

  @Test
  void noReadExceedsTheLimit() throws Exception {
    assertThat(largestRead(4096)).isBetween(1, 4096);
  }

  @Test
  void aLargerLimitLetsReadsGrowWithTheSameSender() throws Exception {
    // The control: the same burst does produce reads above 4 KiB when the limit allows them.
    assertThat(largestRead(256 * 1024)).isGreaterThan(4096);
  }

  @Test
  void limitBelowTheMinimumIsRefused() {
    assertThatThrownBy(() -> ReadLimit.allocator(63)).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("maxReadBytes: 63 (expected: >= 64)");
  }

  /** Sends {@link #SENT} bytes in one write while the receiver reads one buffer at a time; the largest read. */
  private int largestRead(int limit) throws Exception {
    AtomicInteger largest = new AtomicInteger();
    AtomicLong received = new AtomicLong();
    CountDownLatch done = new CountDownLatch(1);
    Channel server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
        .childOption(ChannelOption.AUTO_READ, false)
        .childOption(ChannelOption.RCVBUF_ALLOCATOR, ReadLimit.allocator(limit))
        .childHandler(new ChannelInboundHandlerAdapter() {
          @Override
          public void channelActive(ChannelHandlerContext ctx) {
            ctx.read();
          }

          @Override
          public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf buf = (ByteBuf) msg;
            largest.accumulateAndGet(buf.readableBytes(), Math::max);
            if (received.addAndGet(buf.readableBytes()) == SENT) {
              done.countDown();
            }
            buf.release();
            ctx.read(); // one read in flight, as in the relay
          }
        })
        .bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
    try (Socket client = new Socket("127.0.0.1", ((InetSocketAddress) server.localAddress()).getPort())) {
      OutputStream out = client.getOutputStream();
      out.write(new byte[SENT]);
      out.flush();
      assertThat(done.await(20, TimeUnit.SECONDS)).as("all bytes received").isTrue();
    } finally {
      server.close().sync();
    }
    return largest.get();
  }
}
