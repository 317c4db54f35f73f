package dev.egressd.proxy.http;

import dev.egressd.policy.Destination;
import dev.egressd.proxy.PipelineNames;
import dev.egressd.proxy.ProxyOptions;
import dev.egressd.proxy.tunnel.Dialer;
import dev.egressd.proxy.tunnel.ParentProxy;
import dev.egressd.proxy.tunnel.TunnelEstablisher;
import dev.egressd.proxy.tunnel.UpstreamException;
import dev.egressd.proxy.tunnel.UpstreamFailure;
import dev.egressd.proxy.tunnel.Vetting;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.util.Objects;

/**
 * The origin side of the forwarded requests of one client connection: at most one open connection, kept alive for
 * the next request only when it may carry that request ({@link #reusableFor}). Owned by one {@link HttpProxyHandler}, on its event loop.
 */
final class OriginConnection {
  private final TunnelEstablisher establisher;
  private final ProxyOptions options;
  private final RequestRules rules;
  private Dialer.Connection open;
  private Destination destination;
  private boolean reusable;

  OriginConnection(TunnelEstablisher establisher, ProxyOptions options, RequestRules rules) {
    this.establisher = establisher;
    this.options = options;
    this.rules = rules;
  }

  /** The open connection's channel, or null. */
  Channel channel() {
    return open == null ? null : open.channel();
  }

  /** The open connection, or null. */
  Dialer.Connection open() {
    return open;
  }

  /**
   * Whether the open connection may carry a request to {@code target}, which {@code approved} vetted: one to a
   * forwarding parent when this request is routed through that same parent, whatever its destination (the parent
   * opens its own); any other when it goes to the same destination the same way (directly at an address that passed
   * this vetting too, or through the same parent's {@code CONNECT}).
   */
  boolean reusableFor(Destination target, Vetting.Approved approved) {
    if (open == null || !reusable || !open.channel().isActive()) {
      return false;
    }
    ParentProxy parent = establisher.parentFor(approved);
    if (open.forwarding()) {
      return open.parent().equals(parent);
    }
    return target.equals(destination) && Objects.equals(open.parent(), parent)
        && (parent != null || approved.addresses().contains(open.address()));
  }

  /** Whether the open connection may stay open for the next request, once the current response ends. */
  void reusable(boolean reusable) {
    this.reusable = reusable;
  }

  /** Whether the open connection may stay open after the current response. */
  boolean reusable() {
    return reusable;
  }

  /**
   * Closes any open connection and dials {@code approved}; completes once the new connection can carry the request
   * (after its TLS handshake inside a tunnel). Fails with an {@link UpstreamException}, already audited. The caller
   * then {@link #use}s or closes the connection.
   */
  Future<Dialer.Connection> dial(Vetting.Approved approved, Destination target, EventLoop loop,
      OriginResponseHandler.Listener listener) {
    close();
    Promise<Dialer.Connection> ready = loop.newPromise();
    establisher.dial(approved, loop, new ChannelInitializer<>() {
      @Override
      protected void initChannel(Channel ch) {
        rules.prepareOrigin(ch, target);
        ch.pipeline().addLast(PipelineNames.HTTP_CLIENT_CODEC, new HttpClientCodec(
            options.maxInitialLineLength(), options.maxHeaderSize(), 65536));
        ch.pipeline().addLast(PipelineNames.UPSTREAM_RESPONSE, new OriginResponseHandler(listener));
      }
    }).addListener(dialled -> {
      if (!dialled.isSuccess()) {
        ready.tryFailure(dialled.cause());
        return;
      }
      Dialer.Connection connection = (Dialer.Connection) dialled.getNow();
      rules.ready(connection.channel()).addListener(handshake -> {
        if (handshake.isSuccess()) {
          ready.trySuccess(connection);
        } else {
          connection.channel().close();
          establisher.recordFailure(approved.request(), UpstreamFailure.UPSTREAM_TLS);
          ready.tryFailure(new UpstreamException(UpstreamFailure.UPSTREAM_TLS, handshake.cause()));
        }
      });
    });
    return ready;
  }

  /** Makes {@code connection} (from {@link #dial}) the open connection, for requests to {@code target}. */
  void use(Dialer.Connection connection, Destination target) {
    open = connection;
    destination = target;
  }

  /**
   * Gives up the open connection without closing it (it is becoming a tunnel after an upgrade).
   *
   * @return its channel
   */
  Channel release() {
    Channel channel = open.channel();
    open = null;
    return channel;
  }

  /** Forgets the open connection if it is {@code closed}; true if it was. */
  boolean forget(Channel closed) {
    if (open != null && open.channel() == closed) {
      open = null;
      return true;
    }
    return false;
  }

  /** Closes the open connection, if any. */
  void close() {
    if (open != null) {
      Channel old = open.channel();
      open = null;
      old.close();
    }
  }
}
