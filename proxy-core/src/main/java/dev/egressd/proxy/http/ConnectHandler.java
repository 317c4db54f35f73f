package dev.egressd.proxy.http;

import dev.egressd.policy.AccessRequest;
import dev.egressd.proxy.PipelineNames;
import dev.egressd.proxy.internal.DrainEvent;
import dev.egressd.proxy.tunnel.Tunnel;
import dev.egressd.proxy.tunnel.TunnelInterceptor;
import dev.egressd.proxy.tunnel.UpstreamConnector;
import dev.egressd.proxy.tunnel.UpstreamFailure;
import dev.egressd.proxy.tunnel.Vetting;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Owns one CONNECT from its request head until the tunnel runs: vets the destination, connects to the vetted
 * address, answers {@code 200}, then removes the HTTP codec and itself and hands both channels to a {@link Tunnel}.
 * A refusal or upstream failure is answered with a one-line text body and the connection closes.
 *
 * <p>It is installed in place of {@link HttpProxyHandler} before the codec's decoder is removed, so any bytes the
 * client sent right behind the CONNECT head arrive here raw, wait in {@link #early}, and go upstream first.
 */
final class ConnectHandler extends ChannelInboundHandlerAdapter {
  private static final Logger log = LoggerFactory.getLogger(ConnectHandler.class);

  private final UpstreamConnector connector;
  private final AccessRequest request;
  private final Duration idleTimeout;
  private final TunnelInterceptor interceptor;
  private final ArrayDeque<Object> early = new ArrayDeque<>();
  private ChannelHandlerContext ctx;
  private boolean closing;

  ConnectHandler(UpstreamConnector connector, AccessRequest request, Duration idleTimeout,
      TunnelInterceptor interceptor) {
    this.connector = connector;
    this.request = request;
    this.idleTimeout = idleTimeout;
    this.interceptor = interceptor;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
    // Next loop turn: the handler installing us must first stop the codec's decoder, and with interception (no
    // upstream connect) the whole hand-over could otherwise complete inside this call.
    ctx.executor().execute(() -> connector.vet(request, ctx.executor())
        .addListener(f -> onVetted((Vetting) f.getNow())));
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (msg instanceof ByteBuf && !closing) {
      early.add(msg);
    } else {
      ReferenceCountUtil.release(msg); // the empty content that ends the CONNECT head
    }
  }

  private void onVetted(Vetting vetting) {
    if (closing || !ctx.channel().isActive()) {
      return;
    }
    if (vetting instanceof Vetting.Refused refused) {
      refuse(HttpMessages.blockedText(refused.decision()));
    } else if (vetting instanceof Vetting.Unresolved unresolved) {
      refuse(HttpMessages.upstreamFailure(unresolved.failure(), request.destination().host().value()));
    } else if (((Vetting.Approved) vetting).intercept() && interceptor != null) {
      intercept((Vetting.Approved) vetting);
    } else {
      connector.connect((Vetting.Approved) vetting, ctx.channel().eventLoop(), new ChannelInitializer<>() {
        @Override
        protected void initChannel(Channel ch) {
          ch.pipeline().addLast(PipelineNames.IDLE_TIMEOUT,
              new IdleStateHandler(0, 0, idleTimeout.toMillis(), TimeUnit.MILLISECONDS));
        }
      }).addListener(this::onConnected);
    }
  }

  private void onConnected(Future<?> connect) {
    if (!connect.isSuccess()) {
      UpstreamFailure failure = UpstreamConnector.classify(connect.cause());
      connector.recordFailure(request, failure);
      refuse(HttpMessages.upstreamFailure(failure, request.destination().authority()));
      return;
    }
    Channel upstream = (Channel) connect.getNow();
    if (closing) {
      upstream.close();
      return;
    }
    ctx.writeAndFlush(established()).addListener((ChannelFutureListener) f -> {
      if (f.isSuccess()) {
        Tunnel.handOver(ctx.channel(), upstream, request, connector.audit(), connector.clock(), early,
            PipelineNames.HTTP_CODEC, PipelineNames.CONNECT);
      } else {
        upstream.close();
      }
    });
  }

  /**
   * Answers 200 without connecting anywhere: the interception stage decides and connects each inner request on its
   * own, so there is nothing to dial for the tunnel itself.
   */
  private void intercept(Vetting.Approved tunnel) {
    ctx.writeAndFlush(established()).addListener((ChannelFutureListener) f -> {
      if (f.isSuccess()) {
        Tunnel.handOver(ctx.channel(), tunnel, interceptor, early, PipelineNames.HTTP_CODEC, PipelineNames.CONNECT);
      }
    });
  }

  private static FullHttpResponse established() {
    return new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, new HttpResponseStatus(200, "Connection Established"));
  }

  private void refuse(FullHttpResponse response) {
    closing = true;
    releaseEarly();
    response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
    ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
  }

  private void releaseEarly() {
    for (Object msg; (msg = early.poll()) != null; ) {
      ReferenceCountUtil.release(msg);
    }
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
    releaseEarly();
    ctx.fireChannelInactive();
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    releaseEarly();
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    log.debug("CONNECT {} from {} failed: {}", request.destination(), request.client(), cause.toString());
    closing = true;
    ctx.close();
  }
}
