package dev.egressd.proxy.tunnel;

import dev.egressd.policy.IpAddress;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Future;
import java.util.Objects;

/**
 * How an approved request reaches its destination: the last step of the connection path. The default dials the
 * vetted addresses directly ({@link UpstreamConnector}); {@link RoutingDialer} may go through a parent proxy. A dialer
 * never resolves names again: it connects to one of {@link Vetting.Approved#addresses()}, or to a parent that is
 * told that address.
 */
@FunctionalInterface
public interface Dialer {
  /**
   * An open upstream connection.
   *
   * @param channel the connected channel, on the loop it was dialled on, auto-read off, {@code initializer} installed
   * @param address the vetted address it reaches, which a kept-alive connection is later checked against
   * @param forward how requests are sent when the channel goes to a forwarding parent proxy, or null
   */
  record Connection(Channel channel, IpAddress address, Forward forward) {
    /**
     * The connection goes to a parent proxy that forwards plain HTTP: requests on it are sent in absolute form.
     *
     * @param authorization the {@code Proxy-Authorization} value to add to each request, or null
     */
    public record Forward(String authorization) {}

    /** Null checks; {@code forward} may be null (a direct connection, or a tunnel through a parent). */
    public Connection {
      Objects.requireNonNull(channel, "channel");
      Objects.requireNonNull(address, "address");
    }

    /** A direct connection (or one through a parent's CONNECT). */
    public Connection(Channel channel, IpAddress address) {
      this(channel, address, null);
    }
  }

  /**
   * Connects to {@code target} on {@code loop} (the client's, so both sides of a connection share one thread).
   *
   * @param initializer installed on the new channel before it connects
   * @return fails with the raw cause (a {@code ConnectException}, a timeout, an {@code SSLException}); the
   *     establisher classifies and audits it once
   */
  Future<Connection> dial(Vetting.Approved target, EventLoop loop, ChannelHandler initializer);
}
