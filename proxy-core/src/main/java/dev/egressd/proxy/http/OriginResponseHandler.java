package dev.egressd.proxy.http;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.ReferenceCountUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Streams an origin's responses to the client side, on the origin channel. It owns the origin-side flow: the next
 * read is asked for only after the previous part was written to the client, interim (1xx) responses are dropped, and
 * a response is flushed at its end or when the origin read is over, not per part, so a small response leaves in one
 * TLS record and one send. Everything about the client goes through {@link Listener}; nothing here touches the
 * client side's state.
 */
final class OriginResponseHandler extends ChannelInboundHandlerAdapter {
  private static final Logger log = LoggerFactory.getLogger(OriginResponseHandler.class);

  /** What the client side does with a response head. */
  enum Head {
    /** Forward it and what follows. */
    FORWARD,
    /** An interim response: drop it and its content, read on. */
    INTERIM,
    /** An accepted upgrade: from here the origin speaks another protocol; its bytes go to {@link Listener#upgradeBytes}. */
    UPGRADE,
    /** The exchange cannot continue; the client side has closed what needs closing. */
    ABORT
  }

  /** The client side of the exchange, called on the shared event loop. */
  interface Listener {
    /** Whether {@code origin} still serves the current exchange; messages of a stale origin are dropped. */
    boolean serves(Channel origin);

    /** Decides what to do with a response head (prepares its headers when forwarding it). */
    Head head(HttpResponse head);

    /** Writes a response part to the client, flushing when {@code flush}. */
    ChannelFuture forward(Object part, boolean flush);

    /** Flushes what {@link #forward} wrote without flushing. */
    void flush();

    /** The last part of a response was written. */
    void responseComplete();

    /** A write to the client failed; the origin is being closed. */
    void clientWriteFailed();

    /** Bytes the origin sent after an accepted upgrade's 101, before the tunnel took over. */
    void upgradeBytes(ByteBuf bytes);

    /** The origin connection closed. */
    void originClosed(Channel origin);
  }

  private final Listener listener;
  private boolean skippingInterim;
  private boolean upgraded;
  private boolean unflushed;

  OriginResponseHandler(Listener listener) {
    this.listener = listener;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    Channel origin = ctx.channel();
    if (upgraded) {
      if (msg instanceof ByteBuf bytes) {
        listener.upgradeBytes(bytes);
      } else {
        ReferenceCountUtil.release(msg); // the empty content that ends the 101
      }
      return;
    }
    if (!listener.serves(origin)) {
      ReferenceCountUtil.release(msg);
      return;
    }
    if (msg instanceof HttpResponse response) {
      Head head = listener.head(response);
      if (head != Head.FORWARD) {
        ReferenceCountUtil.release(msg);
        skippingInterim = head == Head.INTERIM && !(msg instanceof LastHttpContent);
        upgraded = head == Head.UPGRADE;
        if (head == Head.INTERIM) {
          ctx.read();
        }
        return;
      }
    } else if (skippingInterim) {
      skippingInterim = !(msg instanceof LastHttpContent);
      ReferenceCountUtil.release(msg);
      ctx.read();
      return;
    }
    boolean last = msg instanceof LastHttpContent;
    unflushed = !last;
    listener.forward(msg, last).addListener((ChannelFutureListener) f -> {
      if (!f.isSuccess()) {
        origin.close();
        listener.clientWriteFailed();
      } else if (last) {
        listener.responseComplete();
      } else {
        ctx.read();
      }
    });
  }

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    if (unflushed) {
      unflushed = false;
      listener.flush();
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    listener.originClosed(ctx.channel());
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
    if (evt instanceof IdleStateEvent) {
      ctx.close();
    }
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    log.debug("origin {} failed: {}", ctx.channel().remoteAddress(), cause.toString());
    ctx.close();
  }
}
