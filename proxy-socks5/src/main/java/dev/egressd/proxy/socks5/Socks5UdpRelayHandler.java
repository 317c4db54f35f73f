package dev.egressd.proxy.socks5;

import dev.egressd.policy.AccessRequest;
import dev.egressd.policy.Destination;
import dev.egressd.policy.HostName;
import dev.egressd.policy.IpAddress;
import dev.egressd.policy.Protocol;
import dev.egressd.proxy.PipelineNames;
import dev.egressd.proxy.internal.ClientConnections;
import dev.egressd.proxy.internal.IdleTimeouts;
import dev.egressd.proxy.tunnel.Vetting;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.socket.DatagramPacket;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.resolver.NoopAddressResolverGroup;
import io.netty.util.ReferenceCountUtil;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The UDP relay of one SOCKS5 association, on its own datagram socket bound to the listener's address.
 *
 * <ul>
 *   <li>Datagrams from the client's endpoint (the address it announced, else the control connection's IP; the port
 *       is locked to the first datagram when the client announced none) are requests: fragments (FRAG != 0) and
 *       malformed headers are dropped; each destination is decided once per association (protocol
 *       {@code socks5_udp}) through the shared connection path ({@code TunnelEstablisher.vet}), so names are
 *       resolved and vetted like TCP targets; payloads to refused destinations are dropped and counted.</li>
 *   <li>Datagrams from an address the client has sent to are replies: they are wrapped with a header naming the
 *       sender and passed to the client. Anything else is dropped, so nobody can inject traffic into the
 *       association.</li>
 * </ul>
 * The association ends when the control connection closes or after the idle timeout, and then logs its counters.
 */
final class Socks5UdpRelayHandler extends ChannelInboundHandlerAdapter {
  private static final Logger log = LoggerFactory.getLogger(Socks5UdpRelayHandler.class);
  private static final int MAX_DESTINATIONS = 1024;
  private static final int MAX_QUEUED_PER_DESTINATION = 16;

  /**
   * Which source may send requests.
   *
   * @param ip the client's IP
   * @param port its port, or 0 until the first datagram fixes it
   */
  record ClientEndpoint(InetAddress ip, int port) {
    /** From the UDP ASSOCIATE request, falling back to the control connection's IP when it is unspecified. */
    static ClientEndpoint of(String announcedAddress, int announcedPort, InetSocketAddress controlPeer) {
      HostName host = HostName.parse(announcedAddress);
      InetAddress ip = host.ip().map(IpAddress::toInetAddress)
          .filter(a -> !a.isAnyLocalAddress())
          .orElse(controlPeer.getAddress());
      return new ClientEndpoint(ip, announcedPort);
    }
  }

  /** One destination's vetting outcome, and datagrams waiting for it. */
  private static final class Target {
    Vetting vetting;
    final ArrayDeque<ByteBuf> queued = new ArrayDeque<>(2);
  }

  private final Socks5CommandHandler.Settings settings;
  private final String clientLabel;
  private final long connectionId;
  private final Map<Destination, Target> targets = new HashMap<>();
  private final Set<InetSocketAddress> contacted = new HashSet<>();
  private ClientEndpoint client;
  private long sent;
  private long received;
  private long dropped;

  private Socks5UdpRelayHandler(Socks5CommandHandler.Settings settings, ClientEndpoint client, String clientLabel,
      long connectionId) {
    this.settings = settings;
    this.client = client;
    this.clientLabel = clientLabel;
    this.connectionId = connectionId;
  }

  /** Binds a relay socket on the control connection's event loop. */
  static ChannelFuture bind(Socks5CommandHandler.Settings settings, Channel control, ClientEndpoint client,
      InetSocketAddress local) {
    String label = ClientConnections.label(control);
    long connectionId = ClientConnections.id(control);
    return new Bootstrap()
        .group(control.eventLoop())
        .channel(settings.datagramChannelType())
        .resolver(NoopAddressResolverGroup.INSTANCE)
        .handler(new ChannelInitializer<Channel>() {
          @Override
          protected void initChannel(Channel ch) {
            ch.pipeline()
                .addLast(PipelineNames.IDLE_TIMEOUT, IdleTimeouts.handler(settings.options().idleTimeout()))
                .addLast(PipelineNames.SOCKS5_UDP_RELAY, new Socks5UdpRelayHandler(settings, client, label,
                    connectionId));
          }
        })
        .bind(local);
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (!(msg instanceof DatagramPacket packet)) {
      ReferenceCountUtil.release(msg);
      return;
    }
    try {
      InetSocketAddress sender = packet.sender();
      if (isClient(sender)) {
        fromClient(ctx, packet.content());
      } else if (contacted.contains(sender)) {
        toClient(ctx, sender, packet.content());
      } else {
        dropped++;
      }
    } finally {
      packet.release();
    }
  }

  private boolean isClient(InetSocketAddress sender) {
    if (!sender.getAddress().equals(client.ip())) {
      return false;
    }
    if (client.port() == 0) {
      client = new ClientEndpoint(client.ip(), sender.getPort()); // RFC 1928: the first datagram fixes the port
    }
    return sender.getPort() == client.port();
  }

  private void fromClient(ChannelHandlerContext ctx, ByteBuf datagram) {
    Socks5UdpHeader header = Socks5UdpHeader.read(datagram);
    Destination destination = header == null || header.fragment() != 0 ? null : destination(header);
    if (destination == null) {
      dropped++;
      return;
    }
    Target target = targets.get(destination);
    if (target == null) {
      if (targets.size() >= MAX_DESTINATIONS) {
        dropped++;
        return;
      }
      target = vet(ctx, destination);
    }
    ByteBuf payload = datagram.retainedSlice();
    if (target.vetting == null) {
      if (target.queued.size() < MAX_QUEUED_PER_DESTINATION) {
        target.queued.add(payload);
      } else {
        payload.release();
        dropped++;
      }
    } else {
      send(ctx, target.vetting, destination, payload);
    }
  }

  private static Destination destination(Socks5UdpHeader header) {
    try {
      return new Destination(HostName.parse(header.address()), header.port());
    } catch (IllegalArgumentException e) {
      return null; // bad name or port 0
    }
  }

  private Target vet(ChannelHandlerContext ctx, Destination destination) {
    Target target = new Target();
    targets.put(destination, target);
    AccessRequest request = new AccessRequest(destination, Protocol.SOCKS5_UDP, null, false, clientLabel,
        connectionId);
    settings.establisher().vet(request, ctx.executor()).addListener(f -> {
      target.vetting = (Vetting) f.getNow();
      for (ByteBuf payload; (payload = target.queued.poll()) != null; ) {
        send(ctx, target.vetting, destination, payload);
      }
    });
    return target;
  }

  private void send(ChannelHandlerContext ctx, Vetting vetting, Destination destination, ByteBuf payload) {
    if (!(vetting instanceof Vetting.Approved approved) || !ctx.channel().isActive()) {
      payload.release();
      dropped++;
      return;
    }
    InetSocketAddress address = new InetSocketAddress(approved.addresses().get(0).toInetAddress(),
        destination.port());
    contacted.add(address);
    sent++;
    ctx.writeAndFlush(new DatagramPacket(payload, address));
  }

  private void toClient(ChannelHandlerContext ctx, InetSocketAddress sender, ByteBuf payload) {
    received++;
    ByteBuf header = Socks5UdpHeader.write(ctx.alloc(), sender);
    ByteBuf datagram = Unpooled.wrappedBuffer(header, payload.retain());
    ctx.writeAndFlush(new DatagramPacket(datagram, new InetSocketAddress(client.ip(), client.port())));
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
    if (evt instanceof IdleStateEvent) {
      ctx.close();
    } else {
      ctx.fireUserEventTriggered(evt);
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    for (Target target : targets.values()) {
      for (ByteBuf payload; (payload = target.queued.poll()) != null; ) {
        payload.release();
      }
    }
    log.info("SOCKS5 UDP association of {} ended: sent={} received={} dropped={}", clientLabel, sent, received,
        dropped);
    ctx.fireChannelInactive();
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    log.debug("SOCKS5 UDP relay of {} failed: {}", clientLabel, cause.toString());
    // A failed send (e.g. ICMP unreachable) must not end the association; the idle timeout does.
  }
}
