package dev.egressd.proxy.tunnel;

import dev.egressd.audit.AuditSink;
import dev.egressd.audit.ProxyMetrics;
import dev.egressd.policy.HostName;
import dev.egressd.policy.IpAddress;
import dev.egressd.policy.PolicyEngine;
import dev.egressd.proxy.dns.Resolver;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelOption;
import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.EventLoop;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.ChannelGroupFuture;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.resolver.NoopAddressResolverGroup;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.netty.util.concurrent.Promise;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnknownHostException;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The network side of the connection path: resolves names the policy allowed (with a timeout, never for a refused
 * name) and dials vetted addresses directly. {@link TunnelEstablisher} decides, vets and audits around it; this class
 * makes no decision and records no audit event.
 *
 * <p>Connections go to a vetted address through a {@link Bootstrap} that cannot resolve again
 * ({@link NoopAddressResolverGroup}), so the address dialled is the address that was checked.
 */
public final class UpstreamConnector implements Dialer {
  private final Supplier<PolicyEngine> engine;
  private final RecvByteBufAllocator readAllocator;
  private final Resolver resolver;
  private final AuditSink audit;
  private final Class<? extends Channel> channelType;
  private final Duration connectTimeout;
  private final Duration resolveTimeout;
  private final Clock clock;
  private final LoopGuard loopGuard;
  private final ProxyMetrics metrics;
  private final ChannelGroup upstreams = new DefaultChannelGroup("egressd-upstreams", GlobalEventExecutor.INSTANCE);

  /**
   * Creates a connector.
   *
   * @param engine the current engine; read once per request, so a reload applies to the next request
   * @param channelType the socket channel class matching the event loops' transport
   * @param loopGuard the proxy's own listeners, which are never dialled
   * @param metrics where connect and DNS latencies go
   */
  public UpstreamConnector(Supplier<PolicyEngine> engine, Resolver resolver, AuditSink audit,
      Class<? extends Channel> channelType, Duration connectTimeout, Duration resolveTimeout, Clock clock,
      LoopGuard loopGuard, ProxyMetrics metrics) {
    this(engine, resolver, audit, channelType, connectTimeout, resolveTimeout, clock, loopGuard, metrics,
        ReadLimit.DEFAULT_MAX_READ_BYTES);
  }

  /**
   * Creates a connector whose upstream channels read at most {@code maxReadBytes} at a time (see {@link ReadLimit}).
   */
  public UpstreamConnector(Supplier<PolicyEngine> engine, Resolver resolver, AuditSink audit,
      Class<? extends Channel> channelType, Duration connectTimeout, Duration resolveTimeout, Clock clock,
      LoopGuard loopGuard, ProxyMetrics metrics, int maxReadBytes) {
    this.readAllocator = ReadLimit.allocator(maxReadBytes);
    this.engine = Objects.requireNonNull(engine, "engine");
    this.resolver = Objects.requireNonNull(resolver, "resolver");
    this.audit = Objects.requireNonNull(audit, "audit");
    this.channelType = Objects.requireNonNull(channelType, "channelType");
    this.connectTimeout = Objects.requireNonNull(connectTimeout, "connectTimeout");
    this.resolveTimeout = Objects.requireNonNull(resolveTimeout, "resolveTimeout");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.loopGuard = Objects.requireNonNull(loopGuard, "loopGuard");
    this.metrics = Objects.requireNonNull(metrics, "metrics");
  }

  /** The engine in force now (it may change between requests when the policy is reloaded). */
  public PolicyEngine currentEngine() {
    return engine.get();
  }

  /** The sink the connection path records to. */
  public AuditSink audit() {
    return audit;
  }

  /** The clock used for event timestamps. */
  public Clock clock() {
    return clock;
  }

  /** The proxy's own listeners, which the engine refuses to dial. */
  public LoopGuard loopGuard() {
    return loopGuard;
  }

  /**
   * The addresses of {@code host}: those {@link PolicyEngine#literalAddresses} gives without DNS, else a lookup
   * bounded by the resolve timeout. Call only for a host the policy allowed. Fails with an
   * {@link UpstreamException} ({@link UpstreamFailure#DNS_FAILURE} or {@link UpstreamFailure#DNS_TIMEOUT}) whose
   * message is the resolver's; completes on {@code executor}.
   */
  public Future<List<IpAddress>> addresses(PolicyEngine current, HostName host, EventExecutor executor) {
    Optional<List<IpAddress>> literal = current.literalAddresses(host);
    if (literal.isPresent()) {
      return executor.newSucceededFuture(literal.get());
    }
    Promise<List<IpAddress>> result = executor.newPromise();
    Promise<List<IpAddress>> lookup = executor.newPromise();
    Future<?> timeout = executor.schedule(() -> lookup.tryFailure(new DnsTimeoutException()),
        resolveTimeout.toMillis(), TimeUnit.MILLISECONDS);
    long lookupStarted = System.nanoTime();
    lookup.addListener(f -> {
      timeout.cancel(false);
      boolean found = f.isSuccess() && !lookup.getNow().isEmpty();
      metrics.dnsLookup(System.nanoTime() - lookupStarted, found);
      if (found) {
        result.trySuccess(lookup.getNow());
      } else {
        UpstreamFailure failure = f.cause() instanceof DnsTimeoutException ? UpstreamFailure.DNS_TIMEOUT
            : UpstreamFailure.DNS_FAILURE;
        result.tryFailure(new UpstreamException(failure, f.cause() == null ? new UnknownHostException("no addresses")
            : f.cause()));
      }
    });
    resolver.resolve(host, lookup);
    return result;
  }

  /**
   * Connects to the first reachable vetted address, trying them in order, on {@code loop} (the client's loop, so
   * both sides of a connection share one thread). The new channel has auto-read off.
   */
  @Override
  public Future<Connection> dial(Vetting.Approved target, EventLoop loop, ChannelHandler initializer) {
    Promise<Connection> result = timed(loop.newPromise());
    attempt(bootstrap(loop, initializer), target, 0, null, result);
    return result;
  }

  /**
   * Connects to {@code parent} (a parent proxy) instead of the target, with the same channel settings as a direct
   * dial; the channel joins the upstream group, so {@link #closeAll} closes it too.
   */
  ChannelFuture dialParent(InetSocketAddress parent, SocketAddress remote, EventLoop loop,
      ChannelHandler initializer) {
    ChannelFuture connect = bootstrap(loop, initializer).connect(remote == null ? parent : remote);
    upstreams.add(connect.channel());
    return connect;
  }

  /** Records the connect latency of {@code result} once it completes. */
  <T> Promise<T> timed(Promise<T> result) {
    long connectStarted = System.nanoTime();
    result.addListener(f -> metrics.upstreamConnect(System.nanoTime() - connectStarted, f.isSuccess()));
    return result;
  }

  private Bootstrap bootstrap(EventLoop loop, ChannelHandler initializer) {
    return new Bootstrap()
        .group(loop)
        .channel(channelType)
        .resolver(NoopAddressResolverGroup.INSTANCE)
        .option(ChannelOption.AUTO_READ, false)
        .option(ChannelOption.RCVBUF_ALLOCATOR, readAllocator)
        .option(ChannelOption.TCP_NODELAY, true)
        .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) connectTimeout.toMillis())
        .handler(initializer);
  }

  /** Maps a connect exception to the failure the client is told about. */
  public static UpstreamFailure classify(Throwable cause) {
    if (cause instanceof ParentProxyException parent) {
      return parent.failure();
    }
    if (cause instanceof javax.net.ssl.SSLException) {
      return UpstreamFailure.UPSTREAM_TLS;
    }
    if (cause instanceof ConnectTimeoutException) {
      return UpstreamFailure.CONNECT_TIMEOUT;
    }
    String message = String.valueOf(cause == null ? null : cause.getMessage());
    if (cause instanceof ConnectException && message.contains("refused")) {
      return UpstreamFailure.CONNECT_REFUSED;
    }
    if (message.contains("Network is unreachable") || message.contains("Network unreachable")) {
      return UpstreamFailure.NETWORK_UNREACHABLE;
    }
    return UpstreamFailure.UNREACHABLE;
  }

  /**
   * Closes every upstream channel still open, connecting ones included, for shutdown. A tunnel whose origin stopped
   * reading never finishes the flush its relay waits for before closing, and the event loops' own teardown does not
   * reliably close what is left: with a zero quiet period, Netty 4.2 can end a loop without closing its channels,
   * and the bytes queued on them are then never released.
   */
  public ChannelGroupFuture closeAll() {
    return upstreams.close();
  }

  private void attempt(Bootstrap bootstrap, Vetting.Approved target, int index, Throwable last,
      Promise<Connection> result) {
    if (index >= target.addresses().size()) {
      result.tryFailure(last);
      return;
    }
    IpAddress vetted = target.addresses().get(index);
    InetSocketAddress address = new InetSocketAddress(vetted.toInetAddress(), target.request().destination().port());
    ChannelFuture connect = bootstrap.connect(address);
    upstreams.add(connect.channel()); // leaves the group when it closes
    connect.addListener(f -> {
      if (f.isSuccess()) {
        if (!result.trySuccess(new Connection(connect.channel(), vetted))) {
          connect.channel().close(); // the client went away meanwhile
        }
      } else {
        attempt(bootstrap, target, index + 1, f.cause(), result);
      }
    });
  }

  private static final class DnsTimeoutException extends UnknownHostException {
    DnsTimeoutException() {
      super("DNS lookup timed out");
    }
  }
}
