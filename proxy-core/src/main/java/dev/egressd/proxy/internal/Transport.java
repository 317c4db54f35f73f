package dev.egressd.proxy.internal;

import dev.egressd.proxy.ProxyOptions.TransportChoice;
import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.channel.socket.nio.NioDomainSocketChannel;
import io.netty.channel.socket.nio.NioServerDomainSocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;

/** The Netty transport in use: native epoll where available, NIO otherwise. */
public record Transport(String name, IoHandlerFactory ioHandlerFactory,
    Class<? extends ServerChannel> serverChannelType, Class<? extends Channel> channelType,
    Class<? extends DatagramChannel> datagramChannelType, Class<? extends ServerChannel> domainServerChannelType,
    Class<? extends Channel> domainChannelType) {

  /** Selects a transport; {@link TransportChoice#EPOLL} fails when epoll is unavailable. */
  public static Transport select(TransportChoice choice) {
    boolean epoll = switch (choice) {
      case NIO -> false;
      case AUTO -> Epoll.isAvailable();
      case EPOLL -> {
        Epoll.ensureAvailability();
        yield true;
      }
    };
    return epoll
        ? new Transport("epoll", EpollIoHandler.newFactory(), EpollServerSocketChannel.class, EpollSocketChannel.class,
            EpollDatagramChannel.class, EpollServerDomainSocketChannel.class, EpollDomainSocketChannel.class)
        : new Transport("nio", NioIoHandler.newFactory(), NioServerSocketChannel.class, NioSocketChannel.class,
            NioDatagramChannel.class, NioServerDomainSocketChannel.class, NioDomainSocketChannel.class);
  }

  /**
   * The address a channel of this transport binds or connects to for a Unix domain socket: Netty's own type for
   * epoll, the JDK's for NIO.
   */
  public SocketAddress domainSocketAddress(UnixDomainSocketAddress address) {
    return domainServerChannelType == EpollServerDomainSocketChannel.class
        ? new DomainSocketAddress(address.getPath().toString()) : address;
  }

  /** A new event loop group; 0 threads means Netty's default ({@code io.netty.eventLoopThreads}, else 2 x cores). */
  public EventLoopGroup newGroup(int threads) {
    return new MultiThreadIoEventLoopGroup(threads, ioHandlerFactory);
  }
}
