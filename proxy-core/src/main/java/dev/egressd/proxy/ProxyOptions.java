package dev.egressd.proxy;

import dev.egressd.audit.ProxyMetrics;
import dev.egressd.policy.HostAddresses;
import dev.egressd.proxy.tunnel.DecisionStep;
import dev.egressd.proxy.tunnel.ProxyRoutes;
import dev.egressd.proxy.tunnel.ReadLimit;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * Listener and connection settings of a {@link ProxyServer}. Build with {@link #builder()}; the defaults are in the
 * builder.
 *
 * @param httpListen where the HTTP proxy listens (port 0 picks a free port)
 * @param connectTimeout how long one upstream connect attempt may take
 * @param resolveTimeout how long a DNS lookup may take before the request fails closed
 * @param requestHeadTimeout how long a client may take to send a complete request head (slowloris guard)
 * @param idleTimeout how long a connection or tunnel may sit without traffic in either direction
 * @param maxInitialLineLength longest accepted request line, in bytes
 * @param maxHeaderSize largest accepted header block, in bytes
 * @param transport which Netty transport to use
 * @param metrics where connection counts and connect/DNS latencies go ({@link ProxyMetrics#NONE} by default)
 * @param maxConnections client connections open at once, over all listeners; more are answered with 503
 *     (HTTP) or reply 0x01 (SOCKS5) and closed
 * @param maxReadBytes the most one socket read takes, client and upstream side alike; with one read in flight per
 *     direction, what a connection buffers ({@link dev.egressd.proxy.tunnel.ReadLimit})
 * @param hostAddresses this host's interface addresses, through which a listener on the wildcard address is reached
 *     as a loop ({@link HostAddresses#NONE} by default; the daemon passes {@link InterfaceAddresses#live()})
 * @param decisions how each request is decided: {@link DecisionStep#ENGINE} (the static policy, at once) by default,
 *     or a step that consults a decider for allowlist misses ({@link dev.egressd.proxy.decider.DeciderStep})
 * @param routes which parent proxy each allowed connection goes through, read once per connection
 *     ({@link ProxyRoutes#DIRECT} by default)
 */
public record ProxyOptions(InetSocketAddress httpListen, Duration connectTimeout, Duration resolveTimeout,
    Duration requestHeadTimeout, Duration idleTimeout, int maxInitialLineLength, int maxHeaderSize,
    TransportChoice transport, ProxyMetrics metrics, int maxConnections, int maxReadBytes,
    HostAddresses hostAddresses, DecisionStep decisions, Supplier<ProxyRoutes> routes) {

  /** Which event-loop transport to run on. */
  public enum TransportChoice {
    /** Native epoll when the platform supports it, NIO otherwise. */
    AUTO,
    /** Native epoll; fails to start when unavailable. */
    EPOLL,
    /** Java NIO. */
    NIO
  }

  /** Validates every value. */
  public ProxyOptions {
    Objects.requireNonNull(httpListen, "httpListen");
    Objects.requireNonNull(transport, "transport");
    Objects.requireNonNull(metrics, "metrics");
    Objects.requireNonNull(hostAddresses, "hostAddresses");
    Objects.requireNonNull(decisions, "decisions");
    Objects.requireNonNull(routes, "routes");
    requirePositive(connectTimeout, "connectTimeout");
    requirePositive(resolveTimeout, "resolveTimeout");
    requirePositive(requestHeadTimeout, "requestHeadTimeout");
    requirePositive(idleTimeout, "idleTimeout");
    if (maxInitialLineLength < 256) {
      throw new IllegalArgumentException("maxInitialLineLength: " + maxInitialLineLength + " (expected: >= 256)");
    }
    if (maxConnections < 1) {
      throw new IllegalArgumentException("maxConnections: " + maxConnections + " (expected: >= 1)");
    }
    if (maxReadBytes < 1024) {
      throw new IllegalArgumentException("maxReadBytes: " + maxReadBytes + " (expected: >= 1024)");
    }
    if (maxHeaderSize < 1024) {
      throw new IllegalArgumentException("maxHeaderSize: " + maxHeaderSize + " (expected: >= 1024)");
    }
  }

  /**
   * A builder with the defaults: 127.0.0.1:3128, 10 s connect, 2 s DNS, 30 s request head, 300 s idle, 4096
   * connections.
   */
  public static Builder builder() {
    return new Builder();
  }

  private static void requirePositive(Duration d, String name) {
    Objects.requireNonNull(d, name);
    if (d.isNegative() || d.isZero()) {
      throw new IllegalArgumentException(name + ": " + d + " (expected: > 0)");
    }
  }

  /** Builds {@link ProxyOptions}. */
  public static final class Builder {
    private InetSocketAddress httpListen = new InetSocketAddress("127.0.0.1", 3128);
    private Duration connectTimeout = Duration.ofSeconds(10);
    private Duration resolveTimeout = Duration.ofSeconds(2);
    private Duration requestHeadTimeout = Duration.ofSeconds(30);
    private Duration idleTimeout = Duration.ofSeconds(300);
    private int maxInitialLineLength = 8192;
    private int maxHeaderSize = 32768;
    private TransportChoice transport = TransportChoice.AUTO;
    private ProxyMetrics metrics = ProxyMetrics.NONE;
    private int maxConnections = 4096;
    private int maxReadBytes = ReadLimit.DEFAULT_MAX_READ_BYTES;
    private HostAddresses hostAddresses = HostAddresses.NONE;
    private DecisionStep decisions = DecisionStep.ENGINE;
    private Supplier<ProxyRoutes> routes = () -> ProxyRoutes.DIRECT;

    private Builder() {}

    /** Sets the HTTP listener address. */
    public Builder httpListen(InetSocketAddress httpListen) {
      this.httpListen = httpListen;
      return this;
    }

    /** Sets the per-attempt upstream connect timeout. */
    public Builder connectTimeout(Duration connectTimeout) {
      this.connectTimeout = connectTimeout;
      return this;
    }

    /** Sets the DNS lookup timeout. */
    public Builder resolveTimeout(Duration resolveTimeout) {
      this.resolveTimeout = resolveTimeout;
      return this;
    }

    /** Sets the deadline for a complete request head. */
    public Builder requestHeadTimeout(Duration requestHeadTimeout) {
      this.requestHeadTimeout = requestHeadTimeout;
      return this;
    }

    /** Sets the idle timeout for connections and tunnels. */
    public Builder idleTimeout(Duration idleTimeout) {
      this.idleTimeout = idleTimeout;
      return this;
    }

    /** Sets the longest accepted request line. */
    public Builder maxInitialLineLength(int maxInitialLineLength) {
      this.maxInitialLineLength = maxInitialLineLength;
      return this;
    }

    /** Sets the largest accepted header block. */
    public Builder maxHeaderSize(int maxHeaderSize) {
      this.maxHeaderSize = maxHeaderSize;
      return this;
    }

    /** Sets the transport. */
    public Builder transport(TransportChoice transport) {
      this.transport = transport;
      return this;
    }

    /** Sets where connection counts and latencies are reported. */
    public Builder metrics(ProxyMetrics metrics) {
      this.metrics = metrics;
      return this;
    }

    /** Sets the most bytes one socket read may take (what each direction of a connection buffers). */
    public Builder maxReadBytes(int maxReadBytes) {
      this.maxReadBytes = maxReadBytes;
      return this;
    }

    /** Sets this host's interface addresses, for the loop guard. */
    public Builder hostAddresses(HostAddresses hostAddresses) {
      this.hostAddresses = hostAddresses;
      return this;
    }

    /** Sets how many client connections may be open at once. */
    public Builder maxConnections(int maxConnections) {
      this.maxConnections = maxConnections;
      return this;
    }

    /** See {@link ProxyOptions#routes()}. */
    public Builder routes(Supplier<ProxyRoutes> routes) {
      this.routes = routes;
      return this;
    }

    /** See {@link ProxyOptions#decisions()}. */
    public Builder decisions(DecisionStep decisions) {
      this.decisions = decisions;
      return this;
    }

    /** Validates and builds. */
    public ProxyOptions build() {
      return new ProxyOptions(httpListen, connectTimeout, resolveTimeout, requestHeadTimeout, idleTimeout,
          maxInitialLineLength, maxHeaderSize, transport, metrics, maxConnections, maxReadBytes,
          hostAddresses, decisions, routes);
    }
  }
}
