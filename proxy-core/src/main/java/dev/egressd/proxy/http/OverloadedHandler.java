package dev.egressd.proxy.http;

import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.util.ReferenceCountUtil;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * The whole pipeline of a connection accepted over the connection limit: it reads the request head, so the client
 * is not reset mid-send and sees the answer, then answers 503 {@code proxy-overloaded} and closes.
 */
final class OverloadedHandler extends ChannelInboundHandlerAdapter {
  private final Duration headTimeout;

  /** @param headTimeout the connection is closed when no request head arrived by then, however slowly it trickles */
  OverloadedHandler(Duration headTimeout) {
    this.headTimeout = headTimeout;
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) {
    ctx.executor().schedule(() -> {
      ctx.close();
    }, headTimeout.toMillis(), TimeUnit.MILLISECONDS);
    ctx.read();
    ctx.fireChannelActive();
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    boolean head = msg instanceof HttpRequest;
    ReferenceCountUtil.release(msg);
    if (!head) {
      ctx.read();
      return;
    }
    FullHttpResponse response = HttpMessages.error(HttpResponseStatus.SERVICE_UNAVAILABLE, "proxy-overloaded",
        "egressd is at its connection limit (max_connections); retry later");
    response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
    response.headers().set(HttpHeaderNames.RETRY_AFTER, "1");
    ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    ctx.close();
  }
}
