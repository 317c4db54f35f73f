package dev.egressd.proxy.socks5;

import dev.egressd.proxy.PipelineNames;
import dev.egressd.proxy.internal.ClientConnections;
import dev.egressd.proxy.internal.DrainEvent;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.socksx.v5.DefaultSocks5InitialResponse;
import io.netty.handler.codec.socksx.v5.DefaultSocks5PasswordAuthResponse;
import io.netty.handler.codec.socksx.v5.Socks5AuthMethod;
import io.netty.handler.codec.socksx.v5.Socks5CommandRequestDecoder;
import io.netty.handler.codec.socksx.v5.Socks5InitialRequest;
import io.netty.handler.codec.socksx.v5.Socks5PasswordAuthRequest;
import io.netty.handler.codec.socksx.v5.Socks5PasswordAuthRequestDecoder;
import io.netty.handler.codec.socksx.v5.Socks5PasswordAuthStatus;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Method selection (RFC 1928 section 3) and, when configured, username/password authentication (RFC 1929). Once the
 * client may send its command, it installs the command decoder and a {@link Socks5CommandHandler} in its own place.
 * Anything that is not SOCKS5 (SOCKS4, HTTP, TLS, garbage) is logged and closed.
 */
final class Socks5HandshakeHandler extends ChannelInboundHandlerAdapter {
  private static final Logger log = LoggerFactory.getLogger(Socks5HandshakeHandler.class);

  private final Socks5CommandHandler.Settings settings;
  private ScheduledFuture<?> deadline;

  Socks5HandshakeHandler(Socks5CommandHandler.Settings settings) {
    this.settings = settings;
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) {
    deadline = ctx.executor().schedule(() -> {
      log.debug("closing {}: SOCKS5 handshake not finished in time", ClientConnections.label(ctx.channel()));
      ctx.close();
    }, settings.options().requestHeadTimeout().toMillis(), TimeUnit.MILLISECONDS);
    ctx.read();
    ctx.fireChannelActive();
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    try {
      if (msg instanceof Socks5InitialRequest initial) {
        onInitial(ctx, initial);
      } else if (msg instanceof Socks5PasswordAuthRequest auth) {
        onPassword(ctx, auth);
      }
    } finally {
      ReferenceCountUtil.release(msg);
    }
  }

  private void onInitial(ChannelHandlerContext ctx, Socks5InitialRequest initial) {
    if (initial.decoderResult().isFailure()) {
      log.info("closing {}: not a SOCKS5 client ({})", ClientConnections.label(ctx.channel()),
          initial.decoderResult().cause().getMessage());
      ctx.close();
      return;
    }
    Socks5AuthMethod method = choose(initial.authMethods());
    ctx.writeAndFlush(new DefaultSocks5InitialResponse(method));
    if (method == Socks5AuthMethod.UNACCEPTED) {
      log.info("closing {}: offered SOCKS5 methods {} include none we accept", ClientConnections.label(
          ctx.channel()), initial.authMethods());
      ctx.close();
    } else if (method == Socks5AuthMethod.PASSWORD) {
      ctx.pipeline().replace(PipelineNames.SOCKS5_DECODER, PipelineNames.SOCKS5_DECODER,
          new Socks5PasswordAuthRequestDecoder());
      ctx.read();
    } else {
      awaitCommand(ctx);
    }
  }

  /**
   * With credentials configured only username/password is acceptable. Without them, "no authentication" is
   * preferred, and a client that only offers username/password is let in with whatever it sends.
   */
  private Socks5AuthMethod choose(List<Socks5AuthMethod> offered) {
    if (settings.socks().credentials() != null) {
      return offered.contains(Socks5AuthMethod.PASSWORD) ? Socks5AuthMethod.PASSWORD : Socks5AuthMethod.UNACCEPTED;
    }
    if (offered.contains(Socks5AuthMethod.NO_AUTH)) {
      return Socks5AuthMethod.NO_AUTH;
    }
    return offered.contains(Socks5AuthMethod.PASSWORD) ? Socks5AuthMethod.PASSWORD : Socks5AuthMethod.UNACCEPTED;
  }

  private void onPassword(ChannelHandlerContext ctx, Socks5PasswordAuthRequest auth) {
    Socks5Options.Credentials expected = settings.socks().credentials();
    boolean ok = auth.decoderResult().isSuccess()
        && (expected == null || expected.matches(auth.username(), auth.password()));
    if (!ok) {
      log.info("closing {}: SOCKS5 authentication failed", ClientConnections.label(ctx.channel()));
      ctx.writeAndFlush(new DefaultSocks5PasswordAuthResponse(Socks5PasswordAuthStatus.FAILURE))
          .addListener(ChannelFutureListener.CLOSE);
      return;
    }
    ctx.writeAndFlush(new DefaultSocks5PasswordAuthResponse(Socks5PasswordAuthStatus.SUCCESS));
    awaitCommand(ctx);
  }

  /**
   * Installs the command handler before the command decoder: bytes a client pipelined behind its greeting flow into
   * the new decoder at once, and the command it decodes must find its handler already there.
   */
  private void awaitCommand(ChannelHandlerContext ctx) {
    ctx.pipeline().replace(this, PipelineNames.SOCKS5_COMMAND, new Socks5CommandHandler(settings));
    ctx.pipeline().replace(PipelineNames.SOCKS5_DECODER, PipelineNames.SOCKS5_DECODER,
        new Socks5CommandRequestDecoder());
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    if (deadline != null) {
      deadline.cancel(false);
    }
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
    if (evt instanceof IdleStateEvent || evt == DrainEvent.INSTANCE) {
      ctx.close(); // idle, or shutting down before the client even said what it wants
    } else {
      ctx.fireUserEventTriggered(evt);
    }
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    log.debug("SOCKS5 handshake with {} failed: {}", ClientConnections.label(ctx.channel()), cause.toString());
    ctx.close();
  }
}
