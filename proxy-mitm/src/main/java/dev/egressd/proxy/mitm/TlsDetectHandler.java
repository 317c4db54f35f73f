package dev.egressd.proxy.mitm;

import dev.egressd.policy.AccessRequest;
import dev.egressd.policy.Decision;
import dev.egressd.policy.HostName;
import dev.egressd.policy.InvalidHostException;
import dev.egressd.policy.Protocol;
import dev.egressd.proxy.PipelineNames;
import dev.egressd.proxy.http.InterceptedHttp;
import dev.egressd.proxy.internal.DrainEvent;
import dev.egressd.proxy.tunnel.TunnelEstablisher;
import dev.egressd.proxy.tunnel.TunnelResponder;
import dev.egressd.proxy.tunnel.UpstreamFailure;
import dev.egressd.proxy.tunnel.Vetting;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.ssl.SniHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.util.AsyncMapping;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLHandshakeException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Looks at the first bytes of an intercepted tunnel, once. A TLS record starts interception: an {@link SniHandler}
 * checks the server name against the tunnel's host (a different name is refused: the certificate is only ever
 * minted for the host the policy approved) and then terminates TLS, and the proxy's HTTP handler serves the
 * requests inside. Anything else is refused in limited mode (nothing could check its methods) and relayed as an
 * opaque tunnel in full mode (a host listed in {@code mitm_domains} that turns out to speak SSH, say).
 */
final class TlsDetectHandler extends ChannelInboundHandlerAdapter {
  private static final Logger log = LoggerFactory.getLogger(TlsDetectHandler.class);
  /** TLS record content type "handshake": every ClientHello record starts with it (RFC 8446 5.1). */
  private static final int TLS_HANDSHAKE_RECORD = 0x16;

  private final MitmStage stage;
  private final TunnelEstablisher establisher;
  private final Vetting.Approved tunnel;
  private CompositeByteBuf first;
  private ScheduledFuture<?> deadline;

  TlsDetectHandler(MitmStage stage, TunnelEstablisher establisher, Vetting.Approved tunnel) {
    this.stage = stage;
    this.establisher = establisher;
    this.tunnel = tunnel;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    first = ctx.alloc().compositeBuffer();
    // Covers the wait for the first bytes; SslHandler's own timeout covers the rest of the handshake.
    deadline = ctx.executor().schedule(() -> {
      log.debug("closing tunnel {}: no TLS from {} within {}", tunnel.request().destination(),
          tunnel.request().client(), stage.options().handshakeTimeout());
      ctx.close();
    }, stage.options().handshakeTimeout().toMillis(), TimeUnit.MILLISECONDS);
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (!(msg instanceof ByteBuf buf)) {
      ReferenceCountUtil.release(msg);
      return;
    }
    first.addComponent(true, buf);
    if (!first.isReadable()) {
      ctx.read();
      return;
    }
    deadline.cancel(false);
    // One byte decides, so a short non-TLS greeting (a client that speaks first and waits) is not held back; a
    // truncated or malformed record after 0x16 is the SslHandler's to refuse.
    if (first.getUnsignedByte(first.readerIndex()) == TLS_HANDSHAKE_RECORD) {
      startTls(ctx);
    } else {
      opaque(ctx);
    }
  }

  private void startTls(ChannelHandlerContext ctx) {
    SniHandler sni = new SniHandler(new LeafMapping(ctx.channel()), 16 * 1024,
        stage.options().handshakeTimeout().toMillis());
    ctx.pipeline().addAfter(ctx.name(), PipelineNames.CLIENT_TLS, sni);
    InterceptedHttp.install(ctx.pipeline(), establisher, stage.proxyOptions(),
        new InterceptedHttp.Tunnel(tunnel.request(), stage.upstreamTls()));
    ByteBuf hello = first;
    first = null;
    ctx.pipeline().remove(this);
    ctx.fireChannelRead(hello);
  }

  /** Picks the leaf for the tunnel's host, and refuses a ClientHello that names another host. */
  private final class LeafMapping implements AsyncMapping<String, SslContext> {
    private final Channel client;
    private boolean refused;

    LeafMapping(Channel client) {
      this.client = client;
    }

    @Override
    public Future<SslContext> map(String serverName, Promise<SslContext> promise) {
      HostName host = tunnel.request().destination().host();
      if (serverName != null && !sameHost(serverName, host)) {
        if (!refused) {
          refused = true;
          record(establisher.currentEngine().hostMismatch("TLS server name " + serverName
              + " is not the tunnel's host " + host.value() + "."));
        }
        client.close();
        return promise.setFailure(new SSLHandshakeException("SNI " + serverName + " does not match " + host));
      }
      try {
        return promise.setSuccess(stage.minter().serverContext(host));
      } catch (RuntimeException e) {
        log.warn("cannot mint a certificate for {}: {}", host, e.toString());
        client.close();
        return promise.setFailure(e);
      }
    }
  }

  private static boolean sameHost(String serverName, HostName host) {
    try {
      return HostName.parse(serverName).equals(host);
    } catch (InvalidHostException e) {
      return false;
    }
  }

  /**
   * Not TLS: refused when the policy that approved the tunnel said so (limited mode, where nothing could check
   * methods), else dialled and relayed as an opaque tunnel through the shared path, which audits a failed dial.
   */
  private void opaque(ChannelHandlerContext ctx) {
    Optional<Decision> refusal = tunnel.terms().opaqueRefusal();
    if (refusal.isPresent()) {
      record(refusal.get());
      release();
      ctx.close();
      return;
    }
    ArrayDeque<Object> early = new ArrayDeque<>();
    early.add(first);
    first = null;
    establisher.relay(ctx.channel(), tunnel, new OpaqueResponder(ctx), early, PipelineNames.TLS_DETECT);
  }

  /** The client was told the tunnel is open when it was approved: there is nothing left to answer, only to close. */
  private record OpaqueResponder(ChannelHandlerContext ctx) implements TunnelResponder {
    @Override
    public ChannelFuture success(InetSocketAddress bound) {
      return ctx.newSucceededFuture();
    }

    @Override
    public void refused(Decision decision) {
      ctx.close();
    }

    @Override
    public void failed(UpstreamFailure failure, String subject) {
      ctx.close();
    }
  }

  private void record(Decision decision) {
    AccessRequest opened = tunnel.request();
    establisher.recordDecision(opened.inner(opened.destination(), Protocol.HTTPS, null, false), decision);
  }

  private void release() {
    if (first != null) {
      first.release();
      first = null;
    }
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    if (deadline != null) {
      deadline.cancel(false);
    }
    release();
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object event) {
    if (event == DrainEvent.INSTANCE) {
      // Shutting down while the client has not even sent its ClientHello: nothing in flight to finish.
      ctx.close();
      return;
    }
    ctx.fireUserEventTriggered(event);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    log.debug("intercepted tunnel {} failed: {}", tunnel.request().destination(), cause.toString());
    ctx.close();
  }
}
