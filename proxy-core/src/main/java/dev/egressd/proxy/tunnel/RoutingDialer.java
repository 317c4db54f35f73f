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
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The dial step with parent proxies: a connection the {@link ProxyRoutes} send through a parent goes there (plain
 * HTTP as a connection to the parent, on which the request is sent in absolute form; everything else through a
 * {@code CONNECT} naming the host, not the address), and every other connection is dialled directly by
 * {@link UpstreamConnector}. The policy has decided and vetted before: a parent never sees a refused name.
 */
public final class RoutingDialer implements Dialer {
  /** The pipeline name of the CONNECT handler in front of the upstream channel. */
  public static final String PARENT_PROXY = "parent-proxy";
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

  /** The parent a connection for {@code target} would go through, or empty for direct. */
  public Optional<ParentProxy> parentFor(Vetting.Approved target) {
    AccessRequest request = target.request();
    return routes.get().parentFor(request.protocol(), request.destination().host(), target.addresses());
  }

  @Override
  public Future<Connection> dial(Vetting.Approved target, EventLoop loop, ChannelHandler initializer) {
    Optional<ParentProxy> chosen = parentFor(target);
    if (chosen.isEmpty()) {
      return direct.dial(target, loop, initializer);
    }
    ParentProxy parent = chosen.get();
    AccessRequest request = target.request();
    IpAddress vetted = target.addresses().get(0);
    Promise<Connection> result = direct.timed(loop.newPromise());
    if (request.protocol() == Protocol.HTTP) {
      ChannelFuture connect = direct.dialParent(parent.address(), null, loop, initializer);
      connect.addListener(f -> {
        if (!f.isSuccess()) {
          result.tryFailure(failure(parent, request, f.cause()));
        } else if (!result.trySuccess(new Connection(connect.channel(), vetted,
            new Connection.Forward(parent.authorization())))) {
          connect.channel().close();
        }
      });
      return result;
    }
    HttpProxyHandler connectHandler = parent.username() == null ? new HttpProxyHandler(parent.address())
        : new HttpProxyHandler(parent.address(), parent.username(), parent.password());
    connectHandler.setConnectTimeoutMillis(connectTimeout.toMillis());
    ChannelFuture connect = direct.dialParent(parent.address(),
        InetSocketAddress.createUnresolved(request.destination().host().value(), request.destination().port()), loop,
        new ChannelInitializer<Channel>() {
          @Override
          protected void initChannel(Channel channel) {
            // First, so that what the initializer adds (TLS to the origin, the relay) runs inside the CONNECT.
            channel.pipeline().addFirst(PARENT_PROXY, connectHandler);
            channel.pipeline().addLast(initializer);
          }
        });
    connect.addListener(f -> {
      if (!f.isSuccess()) {
        result.tryFailure(failure(parent, request, f.cause()));
      }
    });
    connectHandler.connectFuture().addListener(f -> {
      if (!f.isSuccess()) {
        connect.channel().close();
        result.tryFailure(failure(parent, request, f.cause()));
      } else if (!result.trySuccess(new Connection(connect.channel(), vetted))) {
        connect.channel().close(); // the client went away meanwhile
      }
    });
    return result;
  }

  /** What went wrong with the parent, for the client and the audit; never with its credentials. */
  static ParentProxyException failure(ParentProxy parent, AccessRequest request, Throwable cause) {
    String target = request.destination().authority();
    String message = String.valueOf(cause == null ? null : cause.getMessage());
    if (cause instanceof ConnectTimeoutException) {
      return new ParentProxyException(UpstreamFailure.PARENT_TIMEOUT, parent + " did not connect in time", cause);
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
}
