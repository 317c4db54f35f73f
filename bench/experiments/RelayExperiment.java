import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.socket.SocketChannel;

/**
 * A bare TCP relay (client -> this port -> origin) to measure relay designs for egressd's tunnels without the rest
 * of the proxy. Not part of bench/run; run it next to the bench origin and pull the 1 GiB file through it:
 *
 * <pre>
 * java -cp daemon/target/egressd.jar bench/experiments/RelayExperiment.java MODE 19500 28080 &
 * curl -s -o /dev/null -w '%{speed_download}\n' http://127.0.0.1:19500/big
 * </pre>
 *
 * MODE: {@code copy64} is egressd's RelayHandler today (auto-read off, read after each completed write, Netty's
 * adaptive buffer up to 64 KiB); {@code copy256} the same with reads of up to 256 KiB; {@code autoread} auto-read
 * with writability backpressure (several reads per wake-up); {@code splice} epoll splice(2) both ways, no copy
 * into user space.
 */
public final class RelayExperiment {
  public static void main(String[] args) throws Exception {
    String mode = args[0];
    int port = Integer.parseInt(args[1]);
    int originPort = Integer.parseInt(args[2]);
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(Integer.getInteger("threads", 2),
        EpollIoHandler.newFactory());
    RecvByteBufAllocator recv = new AdaptiveRecvByteBufAllocator(64, 2048, mode.equals("copy256") ? 262144 : 65536);
    boolean autoRead = mode.equals("autoread");
    new ServerBootstrap().group(group).channel(EpollServerSocketChannel.class)
        .childOption(ChannelOption.AUTO_READ, false)
        .childOption(ChannelOption.TCP_NODELAY, true)
        .childOption(ChannelOption.RCVBUF_ALLOCATOR, recv)
        .childHandler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel client) {
            new Bootstrap().group(client.eventLoop()).channel(EpollSocketChannel.class)
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.RCVBUF_ALLOCATOR, recv)
                .handler(new ChannelInboundHandlerAdapter())
                .connect("127.0.0.1", originPort).addListener((ChannelFutureListener) f -> {
                  if (!f.isSuccess()) {
                    client.close();
                    return;
                  }
                  start(mode, autoRead, client, f.channel());
                });
          }
        }).bind("127.0.0.1", port).sync();
    System.out.println("relay " + mode + " on " + port + " -> " + originPort);
  }

  private static void start(String mode, boolean autoRead, Channel client, Channel upstream) {
    client.closeFuture().addListener(f -> upstream.close());
    upstream.closeFuture().addListener(f -> client.close());
    if (mode.equals("splice")) {
      ((EpollSocketChannel) client).spliceTo((EpollSocketChannel) upstream, Integer.MAX_VALUE);
      ((EpollSocketChannel) upstream).spliceTo((EpollSocketChannel) client, Integer.MAX_VALUE);
      client.config().setAutoRead(true);
      upstream.config().setAutoRead(true);
      return;
    }
    client.pipeline().addLast(new Relay(upstream, autoRead));
    upstream.pipeline().addLast(new Relay(client, autoRead));
    if (autoRead) {
      client.config().setAutoRead(true);
      upstream.config().setAutoRead(true);
    } else {
      client.read();
      upstream.read();
    }
  }

  /** One direction. Read-after-write, or auto-read paused while the peer is not writable. */
  static final class Relay extends ChannelInboundHandlerAdapter {
    private final Channel peer;
    private final boolean autoRead;

    Relay(Channel peer, boolean autoRead) {
      this.peer = peer;
      this.autoRead = autoRead;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (autoRead) {
        peer.write(msg);
        if (!peer.isWritable()) {
          ctx.channel().config().setAutoRead(false);
        }
        return;
      }
      peer.writeAndFlush(msg).addListener((ChannelFutureListener) f -> {
        if (f.isSuccess()) {
          ctx.read();
        } else {
          ctx.close();
        }
      });
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
      if (autoRead) {
        peer.flush();
      }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
      // This channel drained: let the peer, which writes into it, read again.
      if (autoRead && ctx.channel().isWritable()) {
        peer.config().setAutoRead(true);
      }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      peer.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      ctx.close();
    }
  }
}
