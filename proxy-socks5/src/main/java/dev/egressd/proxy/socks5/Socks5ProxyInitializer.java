package dev.egressd.proxy.socks5;

import dev.egressd.proxy.PipelineNames;
import dev.egressd.proxy.ProxyOptions;
import dev.egressd.proxy.ProxyServer;
import dev.egressd.proxy.internal.IdleTimeouts;
import dev.egressd.proxy.tunnel.TunnelEstablisher;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.socket.DatagramChannel;
import io.netty.handler.codec.socksx.v5.Socks5InitialRequestDecoder;
import io.netty.handler.codec.socksx.v5.Socks5ServerEncoder;
import java.util.Objects;

/** Builds the client-side pipeline of the SOCKS5 listener; the order is documented in {@link PipelineNames}. */
public final class Socks5ProxyInitializer extends ChannelInitializer<Channel> {
  private final TunnelEstablisher establisher;
  private final ProxyOptions options;
  private final Socks5Options socks;
  private final Class<? extends DatagramChannel> datagramChannelType;

  /** Creates an initializer sharing one connection path across connections. */
  public Socks5ProxyInitializer(TunnelEstablisher establisher, ProxyOptions options, Socks5Options socks,
      Class<? extends DatagramChannel> datagramChannelType) {
    this.establisher = Objects.requireNonNull(establisher, "establisher");
    this.options = Objects.requireNonNull(options, "options");
    this.socks = Objects.requireNonNull(socks, "socks");
    this.datagramChannelType = Objects.requireNonNull(datagramChannelType, "datagramChannelType");
  }

  /** The front end to pass to {@link ProxyServer#start} as a {@link ProxyServer.Listener}. */
  public static ProxyServer.FrontEnd frontEnd(Socks5Options socks) {
    return context -> new Socks5ProxyInitializer(context.establisher(), context.options(), socks,
        context.datagramChannelType());
  }

  @Override
  protected void initChannel(Channel ch) {
    ch.pipeline()
        .addLast(PipelineNames.IDLE_TIMEOUT, IdleTimeouts.handler(options.idleTimeout()))
        .addLast(PipelineNames.SOCKS5_ENCODER, Socks5ServerEncoder.DEFAULT)
        .addLast(PipelineNames.SOCKS5_DECODER, new Socks5InitialRequestDecoder())
        .addLast(PipelineNames.SOCKS5_HANDSHAKE, new Socks5HandshakeHandler(
            new Socks5CommandHandler.Settings(establisher, options, socks, datagramChannelType)));
  }
}
