package dev.egressd.proxy.http;

import dev.egressd.proxy.PipelineNames;
import dev.egressd.proxy.ProxyOptions;
import dev.egressd.proxy.ProxyServer;
import dev.egressd.proxy.tunnel.TunnelInterceptor;
import dev.egressd.proxy.tunnel.UpstreamConnector;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.Channel;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.timeout.IdleStateHandler;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/** Builds the client-side pipeline of the HTTP proxy listener; the order is documented in {@link PipelineNames}. */
public final class HttpProxyInitializer extends ChannelInitializer<Channel> {
  private final UpstreamConnector connector;
  private final ProxyOptions options;
  private final TunnelInterceptor interceptor;

  /**
   * Creates an initializer sharing one connector across connections.
   *
   * @param interceptor takes over tunnels the policy says to intercept, or null when interception is off
   */
  public HttpProxyInitializer(UpstreamConnector connector, ProxyOptions options, TunnelInterceptor interceptor) {
    this.connector = Objects.requireNonNull(connector, "connector");
    this.options = Objects.requireNonNull(options, "options");
    this.interceptor = interceptor;
  }

  @Override
  protected void initChannel(Channel ch) {
    if (ProxyServer.overConnectionLimit(ch)) {
      ch.pipeline()
          .addLast(PipelineNames.HTTP_CODEC, serverCodec(options))
          .addLast(new OverloadedHandler(options.requestHeadTimeout()));
      return;
    }
    ch.pipeline()
        .addLast(PipelineNames.IDLE_TIMEOUT,
            new IdleStateHandler(0, 0, options.idleTimeout().toMillis(), TimeUnit.MILLISECONDS))
        .addLast(PipelineNames.HTTP_CODEC, serverCodec(options))
        .addLast(PipelineNames.HTTP_PROXY, new HttpProxyHandler(connector, options, interceptor, null));
  }

  /** The request parser with tight limits, strict header validation and no duplicate Content-Length. */
  static HttpServerCodec serverCodec(ProxyOptions options) {
    return new HttpServerCodec(new HttpDecoderConfig()
        .setMaxInitialLineLength(options.maxInitialLineLength())
        .setMaxHeaderSize(options.maxHeaderSize())
        .setMaxChunkSize(65536)
        .setValidateHeaders(true)
        .setAllowDuplicateContentLengths(false));
  }
}
