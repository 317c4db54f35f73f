package dev.egressd.proxy.http;

import dev.egressd.policy.AccessRequest;
import dev.egressd.policy.Decision;
import dev.egressd.policy.Destination;
import dev.egressd.policy.InvalidHostException;
import dev.egressd.policy.Protocol;
import dev.egressd.proxy.PipelineNames;
import dev.egressd.proxy.internal.ClientConnections;
import dev.egressd.proxy.internal.DrainEvent;
import dev.egressd.proxy.tunnel.Tunnel;
import dev.egressd.proxy.tunnel.TunnelEstablisher;
import dev.egressd.proxy.tunnel.TunnelResponder;
import dev.egressd.proxy.tunnel.UpstreamFailure;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import java.util.Collection;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Owns one CONNECT from its request head until the tunnel runs: hands it to the {@link TunnelEstablisher} and puts
 * the outcome on the wire as HTTP: {@code 200 Connection Established}, or a one-line text body with
 * {@code x-proxy-error} and a close. At hand-over the establisher removes the HTTP codec and this handler.
 *
 * <p>It is installed in place of {@link HttpProxyHandler} before the codec's decoder is removed, so any bytes the
 * client sent right behind the CONNECT head arrive here raw, wait in {@link #early}, and go upstream first.
 */
final class ConnectHandler extends ChannelInboundHandlerAdapter implements TunnelResponder {
  private static final Logger log = LoggerFactory.getLogger(ConnectHandler.class);

  private final TunnelEstablisher establisher;
  private final AccessRequest request;
  private final ArrayDeque<Object> early = new ArrayDeque<>();
  private ChannelHandlerContext ctx;
  private boolean closing;

  /**
   * Takes a CONNECT over from the handler in {@code ctx}: replaces it with a {@code ConnectHandler} before the codec
   * stops decoding, so bytes the client sends behind the CONNECT head reach the new handler raw.
   *
   * @param pending what the client sent after the head and the codec already parsed
   * @return a refusal to send instead (bad authority, or bytes pipelined behind the CONNECT), or null
   */
  static FullHttpResponse takeOver(ChannelHandlerContext ctx, HttpRequest connect, Collection<Object> pending,
      TunnelEstablisher establisher) {
    Destination destination;
    try {
      destination = Destination.parseAuthority(connect.uri());
    } catch (InvalidHostException e) {
      return HttpMessages.error(HttpResponseStatus.BAD_REQUEST, "invalid-host", e.getMessage());
    }
    if (pending.stream().anyMatch(msg -> !(msg instanceof LastHttpContent last) || last.content().isReadable())) {
      // Bytes after a pipelined CONNECT were already parsed as HTTP, so they cannot be tunnelled intact.
      return HttpMessages.error(HttpResponseStatus.BAD_REQUEST, "malformed-request",
          "CONNECT must not be pipelined behind other requests");
    }
    AccessRequest request = ClientConnections.request(ctx.channel(), destination, Protocol.HTTPS_CONNECT, "CONNECT",
        false);
    ctx.pipeline().replace(ctx.handler(), PipelineNames.CONNECT, new ConnectHandler(establisher, request));
    ctx.pipeline().get(HttpServerCodec.class).removeInboundHandler();
    return null;
  }

  private ConnectHandler(TunnelEstablisher establisher, AccessRequest request) {
    this.establisher = establisher;
    this.request = request;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
    // Next loop turn: the handler installing us must first stop the codec's decoder, and with interception (no
    // upstream connect) the whole hand-over could otherwise complete inside this call.
    ctx.executor().execute(() -> establisher.establish(ctx.channel(), request, this, early,
        PipelineNames.HTTP_CODEC, PipelineNames.CONNECT));
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (msg instanceof ByteBuf && !closing) {
      early.add(msg);
    } else {
      ReferenceCountUtil.release(msg); // the empty content that ends the CONNECT head
    }
  }

  @Override
  public ChannelFuture success(InetSocketAddress bound) {
    return ctx.writeAndFlush(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
        new HttpResponseStatus(200, "Connection Established")));
  }

  @Override
  public void refused(Decision decision) {
    refuse(HttpMessages.blockedText(decision));
  }

  @Override
  public void failed(UpstreamFailure failure, String subject) {
    refuse(HttpMessages.upstreamFailure(failure, subject));
  }

  private void refuse(FullHttpResponse response) {
    if (closing) {
      response.release();
      return;
    }
    closing = true;
    Tunnel.releaseAll(early);
    response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
    ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
    if (evt instanceof IdleStateEvent) {
      closing = true;
      ctx.close();
    } else if (evt != DrainEvent.INSTANCE) { // a CONNECT being set up may finish within the shutdown grace
      ctx.fireUserEventTriggered(evt);
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    closing = true;
    Tunnel.releaseAll(early);
    ctx.fireChannelInactive();
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    Tunnel.releaseAll(early);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    log.debug("CONNECT {} from {} failed: {}", request.destination(), request.client(), cause.toString());
    closing = true;
    ctx.close();
  }
}
