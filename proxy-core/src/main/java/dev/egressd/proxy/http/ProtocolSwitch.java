package dev.egressd.proxy.http;

import dev.egressd.policy.AccessRequest;
import dev.egressd.proxy.PipelineNames;
import dev.egressd.proxy.tunnel.RelayHandler;
import dev.egressd.proxy.tunnel.Tunnel;
import dev.egressd.proxy.tunnel.TunnelEstablisher;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayDeque;

/**
 * An origin accepted an upgrade (e.g. WebSocket): forwards the 101, then both connections stop speaking HTTP and
 * become a {@link Tunnel}. Bytes the origin sends right behind the 101 wait here and reach the client first.
 */
final class ProtocolSwitch {
  private final Channel origin;
  private final ArrayDeque<ByteBuf> originEarly = new ArrayDeque<>();

  ProtocolSwitch(Channel origin) {
    this.origin = origin;
  }

  /** Keeps bytes the origin sent after its 101 until the tunnel starts. */
  void originBytes(ByteBuf bytes) {
    originEarly.add(bytes);
  }

  /**
   * Writes the 101 through {@code client} (the proxy handler's context); once written, removes the HTTP handlers of
   * both connections and starts the tunnel; when either is gone, closes the origin and runs {@code failed}.
   */
  void start(ChannelHandlerContext client, HttpResponse response, AccessRequest request,
      TunnelEstablisher establisher, Runnable failed) {
    String protocol = response.headers().get(HttpHeaderNames.UPGRADE, "");
    HttpMessages.stripHopByHop(response.headers());
    response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE);
    response.headers().set(HttpHeaderNames.UPGRADE, protocol);
    client.writeAndFlush(new DefaultFullHttpResponse(response.protocolVersion(), response.status(),
        Unpooled.EMPTY_BUFFER, response.headers(), EmptyHttpHeaders.INSTANCE)).addListener((ChannelFutureListener) f -> {
          Channel channel = client.channel();
          if (!f.isSuccess() || !origin.isActive()) {
            abandon();
            failed.run();
            return;
          }
          channel.pipeline().remove(HttpServerCodec.class);
          channel.pipeline().remove(client.handler());
          for (ByteBuf early; (early = originEarly.poll()) != null; ) {
            channel.write(early);
          }
          channel.flush();
          Tunnel.start(channel, origin, request, establisher.audit(), establisher.connector().clock(),
              new ArrayDeque<>());
          origin.pipeline().remove(PipelineNames.UPSTREAM_RESPONSE);
          origin.pipeline().remove(PipelineNames.HTTP_CLIENT_CODEC);
          origin.closeFuture().addListener(c -> RelayHandler.closeOnFlush(channel));
        });
  }

  /** The client went away mid-switch: drops what waits and closes the origin. */
  void abandon() {
    originEarly.forEach(ReferenceCountUtil::release);
    originEarly.clear();
    origin.close();
  }
}
