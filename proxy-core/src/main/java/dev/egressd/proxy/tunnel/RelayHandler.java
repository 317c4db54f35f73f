package dev.egressd.proxy.tunnel;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.ReferenceCountUtil;
import java.util.Objects;

/**
 * Copies bytes from its channel to a peer channel with backpressure: the next read is requested only after the
 * previous write completed (auto-read is off on both sides), so a slow reader stalls the fast writer instead of
 * filling memory. Both channels run on one event loop, so no synchronisation is needed.
 *
 * <p>A half-close passes through: when this channel's input ends (its remote sent FIN), the peer's output is shut
 * down once everything relayed so far has been flushed, so a client may finish sending and still receive the whole
 * answer. A channel closes when both its directions are done, and the idle timeout still bounds a tunnel that stays
 * half open. When either side closes or resets, the other is closed after pending writes flush. One instance per
 * direction; {@link Tunnel#start} turns half-closure on for both channels.
 */
public final class RelayHandler extends ChannelInboundHandlerAdapter {
  /** Receives the byte count of this direction when the relay ends. */
  @FunctionalInterface
  public interface Completion {
    /** Called once, on the event loop, when this side becomes inactive. */
    void closed(long bytesRelayed);
  }

  private final Channel peer;
  private final Completion completion;
  private long bytes;

  /** Relays what this channel reads into {@code peer}. */
  public RelayHandler(Channel peer, Completion completion) {
    this.peer = Objects.requireNonNull(peer, "peer");
    this.completion = Objects.requireNonNull(completion, "completion");
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    if (ctx.channel().isActive()) {
      ctx.read();
    }
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (!(msg instanceof ByteBuf buf)) {
      // A codec removed at hand-over may still emit an end-of-message marker; only bytes cross a tunnel.
      ReferenceCountUtil.release(msg);
      ctx.read();
      return;
    }
    if (!peer.isActive()) {
      buf.release();
      ctx.close();
      return;
    }
    bytes += buf.readableBytes();
    peer.writeAndFlush(buf).addListener((ChannelFutureListener) f -> {
      if (f.isSuccess()) {
        ctx.read();
      } else {
        ctx.close();
      }
    });
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    closeOnFlush(peer);
    completion.closed(bytes);
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
    if (evt instanceof IdleStateEvent) {
      ctx.close();
    } else if (evt == ChannelInputShutdownEvent.INSTANCE) {
      inputEnded(ctx.channel());
    } else {
      ctx.fireUserEventTriggered(evt);
    }
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    // Resets and broken pipes end tunnels all the time; closing both sides is the whole response.
    ctx.close();
  }

  /**
   * This side will send nothing more: pass the FIN on once the peer has flushed what was relayed (nothing else writes
   * to it, so its outbound buffer is empty when the output is shut), and close whichever channel is then done both
   * ways.
   */
  private void inputEnded(Channel self) {
    if (!(peer instanceof DuplexChannel duplexPeer) || !(self instanceof DuplexChannel duplexSelf)) {
      self.close(); // no half-close on this transport: end the tunnel as before
      return;
    }
    if (peer.isActive()) {
      peer.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener((ChannelFutureListener) flushed -> {
        if (!flushed.isSuccess()) {
          peer.close();
          return;
        }
        duplexPeer.shutdownOutput().addListener((ChannelFutureListener) shut -> {
          if (!shut.isSuccess() || duplexPeer.isInputShutdown()) {
            peer.close();
          }
        });
      });
    }
    if (duplexSelf.isOutputShutdown() || !peer.isActive()) {
      self.close();
    }
  }

  /** Closes {@code channel} once everything written so far has been flushed. */
  public static void closeOnFlush(Channel channel) {
    if (channel.isActive()) {
      channel.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
    }
  }
}
