package dev.egressd.proxy.http;

import dev.egressd.policy.AccessRequest;
import dev.egressd.policy.Destination;
import dev.egressd.proxy.PipelineNames;
import dev.egressd.proxy.ProxyOptions;
import dev.egressd.proxy.tunnel.TunnelEstablisher;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import java.util.Objects;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;

/**
 * Serves the HTTP requests inside an intercepted, TLS-terminated tunnel with the same handler as the proxy
 * listener, so every inner request is decided (protocol {@code https}, the limited-mode method check included),
 * resolved, vetted against DNS rebinding and audited exactly like a plain-HTTP request, and streamed the same way.
 * Only the target rules differ: inner requests may name no host but the tunnel's ({@code 421} otherwise), CONNECT
 * is {@code 405}, and the upstream connection is TLS with certificate and host-name verification.
 */
public final class InterceptedHttp {
  /**
   * One intercepted tunnel.
   *
   * @param request the approved tunnel request (HTTPS CONNECT or SOCKS5 CONNECT)
   * @param upstreamTls the client-side TLS context for origins: system trust plus any configured extra roots, never
   *     trust-all
   */
  public record Tunnel(AccessRequest request, SslContext upstreamTls) {
    /** Null checks only. */
    public Tunnel {
      Objects.requireNonNull(request, "request");
      Objects.requireNonNull(upstreamTls, "upstreamTls");
    }

    /** A TLS handler for an origin connection: SNI is the host name, and the certificate must match it. */
    SslHandler upstreamTls(ByteBufAllocator alloc, Destination destination) {
      String host = destination.host().value();
      SslHandler handler = upstreamTls.newHandler(alloc, host, destination.port());
      SSLEngine engine = handler.engine();
      SSLParameters parameters = engine.getSSLParameters();
      parameters.setEndpointIdentificationAlgorithm("HTTPS"); // checks DNS or IP SANs against the host
      engine.setSSLParameters(parameters);
      return handler;
    }
  }

  private InterceptedHttp() {}

  /**
   * Appends the HTTP codec and request handler to {@code pipeline}, behind the handler that terminates the client's
   * TLS. Reading starts at once if the channel is active.
   */
  public static void install(ChannelPipeline pipeline, TunnelEstablisher establisher, ProxyOptions options,
      Tunnel tunnel) {
    Objects.requireNonNull(tunnel, "tunnel");
    pipeline.addLast(PipelineNames.HTTP_CODEC, HttpProxyInitializer.serverCodec(options));
    pipeline.addLast(PipelineNames.HTTP_PROXY, new HttpProxyHandler(establisher, options, RequestRules.inTunnel(tunnel)));
  }
}
