package dev.egressd.proxy.socks5;

import dev.egressd.policy.AccessRequest;
import dev.egressd.policy.Decision;
import dev.egressd.policy.Destination;
import dev.egressd.policy.HostName;
import dev.egressd.policy.InvalidHostException;
import dev.egressd.policy.Protocol;
import dev.egressd.policy.Reason;
import dev.egressd.proxy.PipelineNames;
import dev.egressd.proxy.ProxyOptions;
import dev.egressd.proxy.ProxyServer;
import dev.egressd.proxy.internal.ClientConnections;
import dev.egressd.proxy.internal.DrainEvent;
import dev.egressd.proxy.tunnel.Tunnel;
import dev.egressd.proxy.tunnel.TunnelEstablisher;
import dev.egressd.proxy.tunnel.TunnelResponder;
import dev.egressd.proxy.tunnel.UpstreamFailure;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.DatagramChannel;
import io.netty.handler.codec.socksx.v5.DefaultSocks5CommandResponse;
import io.netty.handler.codec.socksx.v5.Socks5AddressType;
import io.netty.handler.codec.socksx.v5.Socks5CommandRequest;
import io.netty.handler.codec.socksx.v5.Socks5CommandStatus;
import io.netty.handler.codec.socksx.v5.Socks5CommandType;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Carries out one SOCKS5 command. CONNECT goes through the same {@link TunnelEstablisher} as an HTTP CONNECT
 * (protocol {@code socks5_tcp}) and ends in a tunnel; UDP ASSOCIATE starts a {@link Socks5UdpRelayHandler}
 * and keeps the control connection open until either ends; BIND is refused (0x07).
 *
 * <p>Reply codes: policy refusal 0x02, network unreachable 0x03, host unreachable or DNS failure 0x04, connection
 * refused 0x05, timeout 0x06, unsupported command 0x07, unsupported address type 0x08, anything else 0x01.
 */
final class Socks5CommandHandler extends ChannelInboundHandlerAdapter {
  private static final Logger log = LoggerFactory.getLogger(Socks5CommandHandler.class);

  /** What every command needs, shared by all connections of a listener. */
  record Settings(TunnelEstablisher establisher, ProxyOptions options, Socks5Options socks,
      Class<? extends DatagramChannel> datagramChannelType) {}

  private enum State { AWAITING_COMMAND, CONNECTING, ASSOCIATED, CLOSING }

  private final Settings settings;
  private final ArrayDeque<Object> early = new ArrayDeque<>();
  private ChannelHandlerContext ctx;
  private State state = State.AWAITING_COMMAND;
  private ScheduledFuture<?> deadline;
  private AccessRequest request;

  Socks5CommandHandler(Settings settings) {
    this.settings = settings;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
    deadline = ctx.executor().schedule(() -> {
      if (state == State.AWAITING_COMMAND) {
        ctx.close();
      }
    }, settings.options().requestHeadTimeout().toMillis(), TimeUnit.MILLISECONDS);
    ctx.read();
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (state == State.AWAITING_COMMAND && msg instanceof Socks5CommandRequest command) {
      deadline.cancel(false);
      onCommand(command);
    } else if (state == State.CONNECTING && msg instanceof ByteBuf) {
      early.add(msg); // bytes sent right behind the command, before our reply
    } else {
      ReferenceCountUtil.release(msg);
      if (state == State.ASSOCIATED) {
        ctx.read(); // the control connection carries nothing; keep reading to notice when it closes
      }
    }
  }

  private void onCommand(Socks5CommandRequest command) {
    if (command.decoderResult().isFailure()) {
      String cause = String.valueOf(command.decoderResult().cause().getMessage());
      log.info("SOCKS5 request from {} rejected: {}", ClientConnections.label(ctx.channel()), cause);
      replyAndClose(cause.contains("address type") ? Socks5CommandStatus.ADDRESS_UNSUPPORTED
          : Socks5CommandStatus.FAILURE);
      return;
    }
    if (ProxyServer.overConnectionLimit(ctx.channel())) {
      log.info("SOCKS5 request from {} refused: the connection limit is reached", ClientConnections.label(ctx.channel()));
      replyAndClose(Socks5CommandStatus.FAILURE);
      return;
    }
    if (Socks5CommandType.CONNECT.equals(command.type())) {
      onConnect(command);
    } else if (Socks5CommandType.UDP_ASSOCIATE.equals(command.type()) && settings.socks().udpEnabled()) {
      onAssociate(command);
    } else {
      replyAndClose(Socks5CommandStatus.COMMAND_UNSUPPORTED);
    }
  }

  // ---- CONNECT ----

  private void onConnect(Socks5CommandRequest command) {
    Destination destination;
    try {
      destination = new Destination(HostName.parse(command.dstAddr()), command.dstPort());
    } catch (IllegalArgumentException e) { // includes InvalidHostException
      log.info("SOCKS5 CONNECT from {} rejected: {}", ClientConnections.label(ctx.channel()), e.getMessage());
      replyAndClose(Socks5CommandStatus.FAILURE);
      return;
    }
    request = ClientConnections.request(ctx.channel(), destination, Protocol.SOCKS5_TCP, null, false);
    state = State.CONNECTING;
    ctx.pipeline().remove(PipelineNames.SOCKS5_DECODER); // from here on the client speaks the tunnelled protocol
    settings.establisher().establish(ctx.channel(), request, new Responder(command.dstAddrType()), early,
        PipelineNames.SOCKS5_ENCODER, PipelineNames.SOCKS5_COMMAND);
  }

  /** Puts the outcome of a CONNECT on the wire as a SOCKS5 reply. */
  private final class Responder implements TunnelResponder {
    private final Socks5AddressType askedFor;

    Responder(Socks5AddressType askedFor) {
      this.askedFor = askedFor;
    }

    /** For an intercepted tunnel the bound address is {@code 0.0.0.0:0}, as the reference replies. */
    @Override
    public ChannelFuture success(InetSocketAddress bound) {
      return ctx.writeAndFlush(Socks5CommandHandler.success(bound));
    }

    @Override
    public void refused(Decision decision) {
      if (decision.reason() == Reason.NOT_ALLOWED && askedFor != Socks5AddressType.DOMAIN) {
        log.info("SOCKS5 client {} asked for the address {} rather than a name; host rules cannot match it: use"
            + " socks5h so the proxy sees the host name", request.client(), request.destination());
      }
      replyAndClose(Socks5CommandStatus.FORBIDDEN);
    }

    @Override
    public void failed(UpstreamFailure failure, String subject) {
      replyAndClose(statusFor(failure));
    }
  }

  /** Maps an upstream failure to its RFC 1928 reply code. */
  static Socks5CommandStatus statusFor(UpstreamFailure failure) {
    return switch (failure) {
      case CONNECT_REFUSED -> Socks5CommandStatus.CONNECTION_REFUSED;
      case CONNECT_TIMEOUT -> Socks5CommandStatus.TTL_EXPIRED;
      case NETWORK_UNREACHABLE -> Socks5CommandStatus.NETWORK_UNREACHABLE;
      case DNS_FAILURE, DNS_TIMEOUT, UNREACHABLE -> Socks5CommandStatus.HOST_UNREACHABLE;
      case UPSTREAM_CLOSED, UPSTREAM_TLS -> Socks5CommandStatus.FAILURE;
      case PARENT_UNREACHABLE -> Socks5CommandStatus.HOST_UNREACHABLE;
      case PARENT_REFUSED, PARENT_AUTH_REQUIRED -> Socks5CommandStatus.CONNECTION_REFUSED;
      case PARENT_TIMEOUT -> Socks5CommandStatus.TTL_EXPIRED;
    };
  }

  // ---- UDP ASSOCIATE ----

  private void onAssociate(Socks5CommandRequest command) {
    if (!(ctx.channel().remoteAddress() instanceof InetSocketAddress peer)
        || !(ctx.channel().localAddress() instanceof InetSocketAddress local)) {
      // A Unix-socket client (run --isolate) has no IP address the relay could accept datagrams from.
      replyAndClose(Socks5CommandStatus.COMMAND_UNSUPPORTED);
      return;
    }
    if (settings.options().routes().get().blocksUdp()) {
      // An HTTP parent proxy cannot carry datagrams, and sending them direct would go around it.
      log.warn("UDP ASSOCIATE from {} refused: allowed traffic leaves through the upstream proxy {}, which cannot"
          + " carry UDP", peer, settings.options().routes().get().secure());
      replyAndClose(Socks5CommandStatus.COMMAND_UNSUPPORTED);
      return;
    }
    Socks5UdpRelayHandler.ClientEndpoint endpoint;
    try {
      endpoint = Socks5UdpRelayHandler.ClientEndpoint.of(command.dstAddr(), command.dstPort(), peer);
    } catch (InvalidHostException e) {
      replyAndClose(Socks5CommandStatus.FAILURE);
      return;
    }
    ctx.pipeline().remove(PipelineNames.SOCKS5_DECODER);
    state = State.ASSOCIATED;
    Channel control = ctx.channel();
    ChannelFuture bind = Socks5UdpRelayHandler.bind(settings, control, endpoint,
        new InetSocketAddress(local.getAddress(), 0));
    bind.addListener(f -> {
      if (!f.isSuccess()) {
        log.info("SOCKS5 UDP relay for {} could not bind: {}", ClientConnections.label(control), f.cause().toString());
        replyAndClose(Socks5CommandStatus.FAILURE);
        return;
      }
      Channel relay = bind.channel();
      control.closeFuture().addListener(c -> relay.close());
      relay.closeFuture().addListener(c -> control.close());
      ctx.writeAndFlush(success(relay.localAddress()));
      ctx.read();
    });
  }

  // ---- shared ----

  private static DefaultSocks5CommandResponse success(SocketAddress bound) {
    InetSocketAddress address = (InetSocketAddress) bound;
    Socks5AddressType type = address.getAddress() instanceof Inet4Address ? Socks5AddressType.IPv4
        : Socks5AddressType.IPv6;
    return new DefaultSocks5CommandResponse(Socks5CommandStatus.SUCCESS, type,
        address.getAddress().getHostAddress(), address.getPort());
  }

  private void replyAndClose(Socks5CommandStatus status) {
    if (state == State.CLOSING) {
      return;
    }
    state = State.CLOSING;
    Tunnel.releaseAll(early);
    ctx.writeAndFlush(new DefaultSocks5CommandResponse(status, Socks5AddressType.IPv4))
        .addListener(ChannelFutureListener.CLOSE);
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
    if (evt instanceof IdleStateEvent) {
      // An association's control connection is idle by design; the relay's own idle timeout ends it.
      if (state != State.ASSOCIATED) {
        ctx.close();
      }
    } else if (evt == DrainEvent.INSTANCE && state == State.AWAITING_COMMAND) {
      ctx.close();
    } else {
      ctx.fireUserEventTriggered(evt);
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    state = State.CLOSING;
    Tunnel.releaseAll(early);
    if (deadline != null) {
      deadline.cancel(false);
    }
    ctx.fireChannelInactive();
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    Tunnel.releaseAll(early);
    if (deadline != null) {
      deadline.cancel(false);
    }
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    log.debug("SOCKS5 connection {} failed: {}", ClientConnections.label(ctx.channel()), cause.toString());
    state = State.CLOSING;
    ctx.close();
  }
}
