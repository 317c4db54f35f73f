package dev.egressd.proxy.socks5;

import dev.egressd.proxy.PipelineNames;
import dev.egressd.proxy.ProxyOptions;
import dev.egressd.proxy.ProxyServer;
import dev.egressd.proxy.tunnel.TunnelInterceptor;
import dev.egressd.proxy.tunnel.UpstreamConnector;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.socket.DatagramChannel;
import io.netty.handler.codec.socksx.v5.Socks5InitialRequestDecoder;
import io.netty.handler.codec.socksx.v5.Socks5ServerEncoder;
import io.netty.handler.timeout.IdleStateHandler;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/** Builds the client-side pipeline of the SOCKS5 listener; the order is documented in {@link PipelineNames}. */
public final class Socks5ProxyInitializer extends ChannelInitializer<Channel> {
  private final UpstreamConnector connector;
  private final ProxyOptions options;
  private final Socks5Options socks;
  private final Class<? extends DatagramChannel> datagramChannelType;
  private final TunnelInterceptor interceptor;

  /**
   * Creates an initializer sharing one connector across connections.
   *
   * @param interceptor takes over port-443 tunnels the policy says to intercept, or null when interception is off
   */
  public Socks5ProxyInitializer(UpstreamConnector connector, ProxyOptions options, Socks5Options socks,
      Class<? extends DatagramChannel> datagramChannelType, TunnelInterceptor interceptor) {
    this.connector = Objects.requireNonNull(connector, "connector");
    this.options = Objects.requireNonNull(options, "options");
    this.socks = Objects.requireNonNull(socks, "socks");
    this.datagramChannelType = Objects.requireNonNull(datagramChannelType, "datagramChannelType");
    this.interceptor = interceptor;
  }

  /** The front end to pass to {@link ProxyServer#start} as a {@link ProxyServer.Listener}. */
  public static ProxyServer.FrontEnd frontEnd(Socks5Options socks) {
    return context -> new Socks5ProxyInitializer(context.connector(), context.options(), socks,
        context.datagramChannelType(), context.interceptor());
  }

  @Override
  protected void initChannel(Channel ch) {
    ch.pipeline()
        .addLast(PipelineNames.IDLE_TIMEOUT,
            new IdleStateHandler(0, 0, options.idleTimeout().toMillis(), TimeUnit.MILLISECONDS))
        .addLast(PipelineNames.SOCKS5_ENCODER, Socks5ServerEncoder.DEFAULT)
        .addLast(PipelineNames.SOCKS5_DECODER, new Socks5InitialRequestDecoder())
        .addLast(PipelineNames.SOCKS5_HANDSHAKE, new Socks5HandshakeHandler(
            new Socks5CommandHandler.Settings(connector, options, socks, datagramChannelType, interceptor)));
  }
}
