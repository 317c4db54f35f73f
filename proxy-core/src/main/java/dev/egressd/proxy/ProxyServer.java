package dev.egressd.proxy;

import dev.egressd.audit.AuditSink;
import dev.egressd.audit.ProxyMetrics;
import dev.egressd.policy.PolicyEngine;
import dev.egressd.proxy.dns.Resolver;
import dev.egressd.proxy.http.HttpProxyInitializer;
import dev.egressd.proxy.internal.ClientConnections;
import dev.egressd.proxy.internal.DrainEvent;
import dev.egressd.proxy.internal.Transport;
import dev.egressd.proxy.tunnel.LoopGuard;
import dev.egressd.proxy.tunnel.ReadLimit;
import dev.egressd.proxy.tunnel.RoutingDialer;
import dev.egressd.proxy.tunnel.TunnelEstablisher;
import dev.egressd.proxy.tunnel.TunnelInterceptor;
import dev.egressd.proxy.tunnel.UpstreamConnector;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.socket.DatagramChannel;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running proxy: the HTTP listener (absolute-form forwarding and CONNECT) plus any listeners other front-end
 * modules contribute (SOCKS5), all on one set of event loops and one {@link UpstreamConnector}.
 *
 * <p>{@link #start} binds every listener and returns once they accept connections. {@link #close} stops accepting,
 * closes idle connections, lets requests in flight and tunnels finish for a grace period, then closes the rest.
 */
public final class ProxyServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ProxyServer.class);
  /** The name of the built-in HTTP listener. */
  public static final String HTTP = "http";

  /** Builds the client-side pipeline initializer of a contributed listener. */
  @FunctionalInterface
  public interface FrontEnd {
    /** Called once, before the listener binds; the handler must be sharable (an initializer). */
    ChannelHandler initializer(ListenerContext context);
  }

  /**
   * What a front end needs to build its pipelines.
   *
   * @param establisher the shared connection path (decide, resolve, vet, intercept or dial, hand over)
   * @param options timeouts and limits
   * @param datagramChannelType the datagram channel class matching the event loops (for UDP relays)
   */
  public record ListenerContext(TunnelEstablisher establisher, ProxyOptions options,
      Class<? extends DatagramChannel> datagramChannelType) {}

  /**
   * A listener contributed by a front-end module.
   *
   * @param name a short unique name, e.g. {@code socks5}
   * @param address where to bind: an {@link InetSocketAddress} (port 0 picks a free port) or a
   *     {@link UnixDomainSocketAddress}, whose file must not exist yet
   * @param frontEnd builds its pipeline
   * @param limited whether its connections count against {@link ProxyOptions#maxConnections()} (false for the
   *     admin listener, which must answer while the proxy is full)
   * @param executionId the {@code egressd run} execution every connection of this listener belongs to (a run's
   *     isolation bridge), or null
   */
  public record Listener(String name, SocketAddress address, FrontEnd frontEnd, boolean limited,
      String executionId) {
    /** Null and address-type checks. */
    public Listener {
      Objects.requireNonNull(name, "name");
      Objects.requireNonNull(address, "address");
      Objects.requireNonNull(frontEnd, "frontEnd");
      if (!(address instanceof InetSocketAddress || address instanceof UnixDomainSocketAddress)) {
        throw new IllegalArgumentException("listener address: " + address + " (expected an IP socket address or a"
            + " Unix domain socket path)");
      }
    }

    /** A listener no execution is known for. */
    public Listener(String name, SocketAddress address, FrontEnd frontEnd, boolean limited) {
      this(name, address, frontEnd, limited, null);
    }

    /** A listener whose connections count against the limit. */
    public Listener(String name, SocketAddress address, FrontEnd frontEnd) {
      this(name, address, frontEnd, true);
    }
  }

  /**
   * Set on a client connection accepted while {@link ProxyOptions#maxConnections()} were already open. Its front
   * end answers the first request with its protocol's "overloaded" reply and closes it.
   */
  public static final AttributeKey<Boolean> OVER_CONNECTION_LIMIT =
      AttributeKey.valueOf(ProxyServer.class, "overConnectionLimit");

  /** Whether {@code channel} was accepted over the connection limit. */
  public static boolean overConnectionLimit(Channel channel) {
    return Boolean.TRUE.equals(channel.attr(OVER_CONNECTION_LIMIT).get());
  }

  private final Transport transport;
  private final EventLoopGroup bossGroup;
  private final EventLoopGroup workerGroup;
  private final Map<String, Channel> listeners;
  private final ChannelGroup connections;
  private final UpstreamConnector connector;
  private final AtomicBoolean closed = new AtomicBoolean();

  private ProxyServer(Transport transport, EventLoopGroup bossGroup, EventLoopGroup workerGroup,
      Map<String, Channel> listeners, ChannelGroup connections, UpstreamConnector connector) {
    this.transport = transport;
    this.bossGroup = bossGroup;
    this.workerGroup = workerGroup;
    this.listeners = listeners;
    this.connections = connections;
    this.connector = connector;
  }

  /**
   * One event loop per core (as the JVM sees them, so a container's CPU limit counts), not Netty's default of two:
   * every handler here is non-blocking, and on 2 cores one loop per core gave 11 to 37% more requests or connections
   * per second at 10 to 30% less CPU in every scenario measured (docs/performance.md). {@code
   * -Dio.netty.eventLoopThreads=N} still sets the count.
   */
  static int workerThreads() {
    return Math.max(1, Integer.getInteger("io.netty.eventLoopThreads", Runtime.getRuntime().availableProcessors()));
  }

  /** Starts the HTTP listener only, without interception. */
  public static ProxyServer start(ProxyOptions options, Supplier<PolicyEngine> engine, Resolver resolver,
      AuditSink audit) throws InterruptedException {
    return start(options, engine, resolver, audit, List.of(), null);
  }

  /**
   * Binds the HTTP listener and {@code extraListeners}.
   *
   * @param engine supplies the current policy engine; read once per request
   * @param interceptorFactory creates the TLS interception stage, or null for none; the engine must only ask for
   *     interception when there is one
   * @throws InterruptedException if interrupted while binding
   * @throws io.netty.channel.ChannelException or another exception when an address cannot be bound; listeners
   *     bound so far are closed again
   */
  public static ProxyServer start(ProxyOptions options, Supplier<PolicyEngine> engine, Resolver resolver,
      AuditSink audit, List<Listener> extraListeners, TunnelInterceptor.Factory interceptorFactory)
      throws InterruptedException {
    Objects.requireNonNull(options, "options");
    Transport transport = Transport.select(options.transport());
    EventLoopGroup boss = transport.newGroup(1);
    EventLoopGroup workers = transport.newGroup(workerThreads());
    Map<String, Channel> bound = new LinkedHashMap<>();
    try {
      List<Listener> all = new ArrayList<>();
      all.add(new Listener(HTTP, options.httpListen(), httpFrontEnd()));
      all.addAll(extraListeners);
      LoopGuard loopGuard = new LoopGuard(options.hostAddresses());
      for (Listener listener : all) {
        if (listener.address() instanceof InetSocketAddress address && address.getPort() != 0) {
          loopGuard.addListener(address); // known before bind, so no request can race the guard
        }
      }
      UpstreamConnector connector = new UpstreamConnector(engine, resolver, audit, transport.channelType(),
          options.connectTimeout(), options.resolveTimeout(), Clock.systemUTC(), loopGuard, options.metrics(),
          options.maxReadBytes());
      TunnelInterceptor interceptor = interceptorFactory == null ? null
          : interceptorFactory.create(options);
      TunnelEstablisher establisher = new TunnelEstablisher(connector, options.decisions(),
          new RoutingDialer(connector, options.routes(), options.connectTimeout()), interceptor,
          options.idleTimeout());
      ListenerContext context = new ListenerContext(establisher, options, transport.datagramChannelType());
      ChannelGroup connections = new DefaultChannelGroup("egressd-connections", GlobalEventExecutor.INSTANCE);
      ConnectionLimit open = new ConnectionLimit(options.maxConnections());
      for (Listener listener : all) {
        if (bound.containsKey(listener.name())) {
          throw new IllegalArgumentException("listener name: " + listener.name() + " (expected: unique)");
        }
        Channel channel;
        try {
          channel = bind(transport, boss, workers, connections, listener.frontEnd().initializer(context),
              listener, options, open);
        } catch (InterruptedException e) {
          throw e;
        } catch (Exception e) { // Netty rethrows the bind's IOException unchecked
          throw new BindException(listener, e);
        }
        if (channel.localAddress() instanceof InetSocketAddress address) {
          loopGuard.addListener(address);
        }
        bound.put(listener.name(), channel);
      }
      return new ProxyServer(transport, boss, workers, Map.copyOf(bound), connections, connector);
    } catch (InterruptedException | RuntimeException e) {
      bound.values().forEach(Channel::close);
      boss.shutdownGracefully(0, 0, TimeUnit.SECONDS);
      workers.shutdownGracefully(0, 0, TimeUnit.SECONDS);
      throw e;
    }
  }

  /** The built-in HTTP proxy front end (absolute-form requests and CONNECT), for binding it at further addresses. */
  public static FrontEnd httpFrontEnd() {
    return context -> new HttpProxyInitializer(context.establisher(), context.options());
  }

  private static Channel bind(Transport transport, EventLoopGroup boss, EventLoopGroup workers,
      ChannelGroup connections, ChannelHandler initializer, Listener listener, ProxyOptions options,
      ConnectionLimit limit) throws InterruptedException {
    String name = listener.name();
    ProxyMetrics metrics = options.metrics();
    ServerBootstrap bootstrap = new ServerBootstrap()
        .group(boss, workers)
        .option(ChannelOption.SO_BACKLOG, 1024)
        .childOption(ChannelOption.AUTO_READ, false)
        .childOption(ChannelOption.RCVBUF_ALLOCATOR, ReadLimit.allocator(options.maxReadBytes()));
    if (listener.executionId() != null) {
      bootstrap.childAttr(ClientConnections.EXECUTION_ID, listener.executionId());
    }
    SocketAddress address = listener.address();
    if (address instanceof UnixDomainSocketAddress unix) {
      // Both transports unlink whatever is at the path before binding; never let that remove someone's file.
      if (Files.exists(unix.getPath(), LinkOption.NOFOLLOW_LINKS)) {
        throw new IllegalStateException("a file already exists at " + unix.getPath());
      }
      bootstrap.channel(transport.domainServerChannelType());
      address = transport.domainSocketAddress(unix);
    } else {
      bootstrap.channel(transport.serverChannelType())
          .option(ChannelOption.SO_REUSEADDR, true)
          .childOption(ChannelOption.TCP_NODELAY, true);
    }
    return bootstrap
        .childHandler(new ChannelInboundHandlerAdapter() {
          @Override
          public void channelRegistered(ChannelHandlerContext ctx) {
            connections.add(ctx.channel());
            metrics.connectionOpened(name);
            ctx.channel().closeFuture().addListener(f -> metrics.connectionClosed(name));
            if (listener.limited() && !limit.admit(ctx.channel(), name)) {
              ctx.channel().attr(OVER_CONNECTION_LIMIT).set(true);
            }
            ctx.pipeline().replace(this, null, initializer);
            ctx.fireChannelRegistered();
          }

          @Override
          public boolean isSharable() {
            return true;
          }
        })
        .bind(address)
        .sync()
        .channel();
  }

  /** A listener could not be bound; the message names the listener, the address and the cause. */
  public static final class BindException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    BindException(Listener listener, Throwable cause) {
      super("cannot bind the " + listener.name() + " listener to " + hostPort(listener.address()) + ": "
          + reason(cause), cause);
    }

    private static String hostPort(SocketAddress address) {
      if (!(address instanceof InetSocketAddress inet)) {
        return address.toString();
      }
      String host = inet.getAddress().getHostAddress();
      return (host.contains(":") ? "[" + host + "]" : host) + ":" + inet.getPort();
    }

    private static String reason(Throwable cause) {
      String message = String.valueOf(cause.getMessage());
      // Netty's native transport words it "bind(..) failed with error(-98): Address already in use".
      int colon = message.lastIndexOf("): ");
      return colon >= 0 ? message.substring(colon + 3) : message;
    }
  }

  /** Counts limited client connections; logs when the limit is hit, at most once a minute. */
  private static final class ConnectionLimit {
    private final int max;
    private final AtomicInteger open = new AtomicInteger();
    private final AtomicLong lastWarning = new AtomicLong(Long.MIN_VALUE);

    ConnectionLimit(int max) {
      this.max = max;
    }

    /** Counts {@code channel} until it closes; false when it is over the limit. */
    boolean admit(Channel channel, String listener) {
      int now = open.incrementAndGet();
      channel.closeFuture().addListener(f -> open.decrementAndGet());
      if (now <= max) {
        return true;
      }
      long minute = TimeUnit.NANOSECONDS.toMinutes(System.nanoTime());
      long last = lastWarning.get();
      if (last != minute && lastWarning.compareAndSet(last, minute)) {
        log.warn("connection limit reached ({} open, max_connections {}): refusing new connections on {} and"
            + " the other listeners until some close", now, max, listener);
      }
      return false;
    }
  }

  /** The address the HTTP listener is bound to (with the real port when port 0 was requested). */
  public InetSocketAddress httpAddress() {
    return address(HTTP);
  }

  /** The bound address of the IP listener called {@code name}. */
  public InetSocketAddress address(String name) {
    Channel channel = listeners.get(name);
    if (channel == null) {
      throw new IllegalArgumentException("listener: " + name + " (expected one of " + listeners.keySet() + ")");
    }
    if (!(channel.localAddress() instanceof InetSocketAddress address)) {
      throw new IllegalArgumentException("listener: " + name + " is not an IP listener");
    }
    return address;
  }

  /** The transport in use: {@code epoll} or {@code nio}. */
  public String transportName() {
    return transport.name();
  }

  /** The network side of the shared connection path (resolver, dialler, upstream channels). */
  public UpstreamConnector connector() {
    return connector;
  }

  /** Client connections currently open, on every listener. */
  public int openConnections() {
    return connections.size();
  }

  /**
   * Stops accepting, closes idle keep-alive connections, lets requests in flight and open tunnels continue for up to
   * {@code grace}, then closes the rest and shuts the event loops down. Closing twice does nothing the second time.
   */
  public void close(Duration grace) {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    listeners.values().forEach(channel -> channel.close().syncUninterruptibly());
    for (Channel connection : connections) {
      connection.pipeline().fireUserEventTriggered(DrainEvent.INSTANCE);
    }
    long deadline = System.nanoTime() + grace.toNanos();
    while (!connections.isEmpty() && System.nanoTime() < deadline) {
      try {
        Thread.sleep(50);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    connections.close().awaitUninterruptibly(1, TimeUnit.SECONDS);
    connector.closeAll().awaitUninterruptibly(1, TimeUnit.SECONDS);
    bossGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    workerGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
  }

  /** {@link #close(Duration)} with no grace period. */
  @Override
  public void close() {
    close(Duration.ZERO);
  }
}
