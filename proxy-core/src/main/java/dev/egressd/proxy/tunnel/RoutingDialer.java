package dev.egressd.proxy.tunnel;

import dev.egressd.policy.AccessRequest;
import dev.egressd.policy.IpAddress;
import dev.egressd.policy.Protocol;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.EventLoop;
import io.netty.handler.proxy.HttpProxyHandler;
import io.netty.handler.proxy.ProxyConnectException;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeTimeoutException;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;

/**
 * The dial step with parent proxies: a connection the {@link ProxyRoutes} send through a parent goes there (plain
 * HTTP as a connection to the parent, on which the request is sent in absolute form; everything else through a
 * {@code CONNECT} naming the host, not the address), and every other connection is dialled directly by
 * {@link UpstreamConnector}. The policy has decided and vetted before: a parent never sees a refused name.
 */
public final class RoutingDialer implements Dialer {
  /** The pipeline name of the CONNECT handler in front of the upstream channel. */
  public static final String PARENT_PROXY = "parent-proxy";
  /** The pipeline name of the TLS handler to an {@code https://} parent. */
  public static final String PARENT_TLS = "parent-tls";
  private static final Pattern STATUS = Pattern.compile("status: (\\d{3})([^,]*)");

  private final UpstreamConnector direct;
  private final Supplier<ProxyRoutes> routes;
  private final Duration connectTimeout;

  /**
   * @param routes read once per connection, so a reload applies to new connections
   * @param connectTimeout how long the parent may take to connect and answer the CONNECT
   */
  public RoutingDialer(UpstreamConnector direct, Supplier<ProxyRoutes> routes, Duration connectTimeout) {
    this.direct = Objects.requireNonNull(direct, "direct");
    this.routes = Objects.requireNonNull(routes, "routes");
    this.connectTimeout = Objects.requireNonNull(connectTimeout, "connectTimeout");
  }

  @Override
  public ParentProxy parentFor(Vetting.Approved target) {
    AccessRequest request = target.request();
    return routes.get().parentFor(request.protocol(), request.destination().host(), target.addresses()).orElse(null);
  }

  @Override
  public boolean parentResolves(AccessRequest request) {
    ProxyRoutes current = routes.get();
    return current.parentResolves() && !request.destination().host().isIpLiteral()
        && current.parentFor(request.protocol(), request.destination().host(), List.of()).isPresent();
  }

  @Override
  public Future<Connection> dial(Vetting.Approved target, EventLoop loop, ChannelHandler initializer) {
    ParentProxy parent = parentFor(target);
    if (parent == null) {
      return direct.dial(target, loop, initializer);
    }
    AccessRequest request = target.request();
    IpAddress reached = IpAddress.of(parent.address().getAddress());
    Promise<Connection> result = direct.timed(loop.newPromise());
    boolean forwarding = request.protocol() == Protocol.HTTP;
    HttpProxyHandler connectHandler = forwarding ? null : parent.username() == null
        ? new HttpProxyHandler(parent.address())
        : new HttpProxyHandler(parent.address(), parent.username(), parent.password());
    if (connectHandler != null) {
      connectHandler.setConnectTimeoutMillis(connectTimeout.toMillis());
    }
    SslHandler[] tls = new SslHandler[1];
    ChannelFuture connect = direct.dialParent(parent.address(), forwarding ? null
        : InetSocketAddress.createUnresolved(request.destination().host().value(), request.destination().port()), loop,
        new ChannelInitializer<Channel>() {
          @Override
          protected void initChannel(Channel channel) {
            // In front, so that what the initializer adds (TLS to the origin, the relay) runs inside the CONNECT
            // (itself inside TLS to an https:// parent).
            if (connectHandler != null) {
              channel.pipeline().addFirst(PARENT_PROXY, connectHandler);
            }
            if (parent.tls() != null) {
              tls[0] = parentTls(parent, channel);
              channel.pipeline().addFirst(PARENT_TLS, tls[0]);
            }
            channel.pipeline().addLast(initializer);
          }
        });
    connect.addListener(f -> {
      if (!f.isSuccess()) {
        result.tryFailure(failure(parent, request, f.cause()));
        return;
      }
      Future<?> handshake = tls[0] == null ? loop.newSucceededFuture(null) : tls[0].handshakeFuture();
      handshake.addListener(h -> {
        if (!h.isSuccess()) {
          connect.channel().close();
          result.tryFailure(failure(parent, request, h.cause()));
        } else if (forwarding && !result.trySuccess(new Connection(connect.channel(), reached, parent, true))) {
          connect.channel().close(); // the client went away meanwhile
        }
      });
    });
    if (connectHandler != null) {
      connectHandler.connectFuture().addListener(f -> {
        if (!f.isSuccess()) {
          connect.channel().close();
          result.tryFailure(failure(parent, request, f.cause()));
        } else if (!result.trySuccess(new Connection(connect.channel(), reached, parent, false))) {
          connect.channel().close(); // the client went away meanwhile
        }
      });
    }
    return result;
  }

  /** TLS to an {@code https://} parent, verified for the name it was configured with. */
  private SslHandler parentTls(ParentProxy parent, Channel channel) {
    SslHandler handler = parent.tls().newHandler(channel.alloc(), parent.address().getHostString(),
        parent.address().getPort());
    SSLParameters parameters = handler.engine().getSSLParameters();
    parameters.setEndpointIdentificationAlgorithm("HTTPS");
    handler.engine().setSSLParameters(parameters);
    handler.setHandshakeTimeoutMillis(connectTimeout.toMillis());
    return handler;
  }

  /** What went wrong with the parent, for the client and the audit; never with its credentials. */
  static ParentProxyException failure(ParentProxy parent, AccessRequest request, Throwable cause) {
    String target = request.destination().authority();
    String message = String.valueOf(cause == null ? null : cause.getMessage());
    if (cause instanceof ConnectTimeoutException) {
      return new ParentProxyException(UpstreamFailure.PARENT_TIMEOUT, parent + " did not connect in time", cause);
    }
    Throwable tlsCause = tlsCause(cause);
    if (tlsCause instanceof SslHandshakeTimeoutException) {
      return new ParentProxyException(UpstreamFailure.PARENT_TIMEOUT, parent + " did not complete TLS in time", cause);
    }
    if (tlsCause != null) {
      return new ParentProxyException(UpstreamFailure.PARENT_UNREACHABLE, parent + ": TLS to the parent failed ("
          + firstLine(tlsCause.getMessage()) + ")", cause);
    }
    if (cause instanceof ProxyConnectException) {
      Matcher status = STATUS.matcher(message);
      if (status.find()) {
        String answered = parent + " answered " + status.group(1) + status.group(2).stripTrailing() + " to CONNECT "
            + target;
        return new ParentProxyException(status.group(1).equals("407") ? UpstreamFailure.PARENT_AUTH_REQUIRED
            : UpstreamFailure.PARENT_REFUSED, answered, cause);
      }
      if (message.contains("timeout")) {
        return new ParentProxyException(UpstreamFailure.PARENT_TIMEOUT, parent + " did not answer the CONNECT to "
            + target + " in time", cause);
      }
      return new ParentProxyException(UpstreamFailure.PARENT_UNREACHABLE, parent + " closed the connection before"
          + " answering the CONNECT to " + target, cause);
    }
    return new ParentProxyException(UpstreamFailure.PARENT_UNREACHABLE, parent + " cannot be reached ("
        + (cause == null ? "unknown" : cause.getClass().getSimpleName()) + ")", cause);
  }

  private static Throwable tlsCause(Throwable cause) {
    for (Throwable at = cause; at != null; at = at.getCause()) {
      if (at instanceof SSLException) {
        return at;
      }
    }
    return null;
  }

  private static String firstLine(String message) {
    if (message == null) {
      return "no reason given";
    }
    int end = message.indexOf('\n');
    String line = end < 0 ? message : message.substring(0, end);
    return line.length() > 200 ? line.substring(0, 200) + "..." : line;
  }
}
