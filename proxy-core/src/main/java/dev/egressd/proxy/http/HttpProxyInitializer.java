package dev.egressd.proxy.http;

import dev.egressd.proxy.PipelineNames;
import dev.egressd.proxy.ProxyOptions;
import dev.egressd.proxy.ProxyServer;
import dev.egressd.proxy.internal.IdleTimeouts;
import dev.egressd.proxy.tunnel.TunnelEstablisher;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.Channel;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpServerCodec;
import java.util.Objects;

/** Builds the client-side pipeline of the HTTP proxy listener; the order is documented in {@link PipelineNames}. */
public final class HttpProxyInitializer extends ChannelInitializer<Channel> {
  private final TunnelEstablisher establisher;
  private final ProxyOptions options;

  /** Creates an initializer sharing one connection path across connections. */
  public HttpProxyInitializer(TunnelEstablisher establisher, ProxyOptions options) {
    this.establisher = Objects.requireNonNull(establisher, "establisher");
    this.options = Objects.requireNonNull(options, "options");
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
        .addLast(PipelineNames.IDLE_TIMEOUT, IdleTimeouts.handler(options.idleTimeout()))
        .addLast(PipelineNames.HTTP_CODEC, serverCodec(options))
        .addLast(PipelineNames.HTTP_PROXY, new HttpProxyHandler(establisher, options, RequestRules.PLAIN));
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
