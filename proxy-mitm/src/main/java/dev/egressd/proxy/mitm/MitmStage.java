package dev.egressd.proxy.mitm;

import dev.egressd.proxy.PipelineNames;
import dev.egressd.proxy.ProxyOptions;
import dev.egressd.proxy.tunnel.TunnelInterceptor;
import dev.egressd.proxy.tunnel.TunnelEstablisher;
import dev.egressd.proxy.tunnel.Vetting;
import io.netty.channel.Channel;
import io.netty.handler.ssl.SslContext;
import io.netty.util.ReferenceCountUtil;
import java.util.Objects;
import java.util.Queue;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The TLS interception stage: takes over tunnels the policy says to intercept, checks that the client speaks TLS
 * for the tunnel's host, terminates it with a leaf certificate from {@link LeafMinter}, and serves the requests
 * inside with the proxy's own HTTP handler, so every inner request is decided, vetted and audited (see
 * {@code InterceptedHttp}). Upstream connections verify the origin against {@code upstreamTls}.
 */
public final class MitmStage implements TunnelInterceptor {
  private static final Logger log = LoggerFactory.getLogger(MitmStage.class);

  private final ProxyOptions proxyOptions;
  private final LeafMinter minter;
  private final SslContext upstreamTls;
  private final MitmOptions options;
  private final AtomicInteger openTunnels = new AtomicInteger();

  private MitmStage(ProxyOptions proxyOptions, LeafMinter minter, SslContext upstreamTls, MitmOptions options) {
    this.proxyOptions = proxyOptions;
    this.minter = minter;
    this.upstreamTls = upstreamTls;
    this.options = options;
  }

  /**
   * The factory to pass to {@code ProxyServer.start}.
   *
   * @param upstreamTls a client context that verifies origins (system roots plus configured extra roots)
   */
  public static TunnelInterceptor.Factory factory(LeafMinter minter, SslContext upstreamTls, MitmOptions options) {
    Objects.requireNonNull(minter, "minter");
    Objects.requireNonNull(upstreamTls, "upstreamTls");
    Objects.requireNonNull(options, "options");
    if (!upstreamTls.isClient()) {
      throw new IllegalArgumentException("upstreamTls: a server context (expected: a client context)");
    }
    return proxyOptions -> new MitmStage(proxyOptions, minter, upstreamTls, options);
  }

  @Override
  public void intercept(Channel client, Vetting.Approved tunnel, TunnelEstablisher establisher, Queue<Object> early) {
    if (openTunnels.incrementAndGet() > options.maxTunnels()) {
      openTunnels.decrementAndGet();
      log.warn("closing tunnel {} from {}: {} intercepted tunnels are open (the maximum)",
          tunnel.request().destination(), tunnel.request().client(), options.maxTunnels());
      early.forEach(ReferenceCountUtil::release);
      client.close();
      return;
    }
    client.closeFuture().addListener(f -> openTunnels.decrementAndGet());
    client.pipeline().addLast(PipelineNames.TLS_DETECT, new TlsDetectHandler(this, establisher, tunnel));
    for (Object msg; (msg = early.poll()) != null; ) {
      client.pipeline().fireChannelRead(msg);
    }
    client.read();
  }

  /** Intercepted tunnels open now. */
  public int openTunnels() {
    return openTunnels.get();
  }

  ProxyOptions proxyOptions() {
    return proxyOptions;
  }

  LeafMinter minter() {
    return minter;
  }

  SslContext upstreamTls() {
    return upstreamTls;
  }

  MitmOptions options() {
    return options;
  }
}
