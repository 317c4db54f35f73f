package dev.egressd.proxy.tunnel;

import dev.egressd.policy.AccessRequest;
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
 * told the name those addresses were vetted for.
 */
@FunctionalInterface
public interface Dialer {
  /**
   * An open upstream connection.
   *
   * @param channel the connected channel, on the loop it was dialled on, auto-read off, {@code initializer} installed
   * @param address the address it connects to: a vetted one, which a kept-alive connection is later checked
   *     against, or the parent proxy's
   * @param parent the parent proxy it goes through, or null for a direct connection
   * @param forwarding true when it is a connection to {@code parent} that forwards plain HTTP: requests on it are sent
   *     in absolute form with the parent's credentials, and it may carry the next request to any destination routed
   *     through the same parent; false for a direct connection or one through the parent's {@code CONNECT}
   */
  record Connection(Channel channel, IpAddress address, ParentProxy parent, boolean forwarding) {
    /** Null checks; a forwarding connection has a parent. */
    public Connection {
      Objects.requireNonNull(channel, "channel");
      Objects.requireNonNull(address, "address");
      if (forwarding && parent == null) {
        throw new IllegalArgumentException("forwarding: true without a parent");
      }
    }

    /** A direct connection. */
    public Connection(Channel channel, IpAddress address) {
      this(channel, address, null, false);
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

  /** The parent proxy {@link #dial} sends {@code target} through, or null for a direct connection. */
  default ParentProxy parentFor(Vetting.Approved target) {
    return null;
  }

  /**
   * Whether the name of {@code request} is left to a parent proxy to resolve ({@code upstream_resolution =
   * "parent"}): then egressd neither resolves it nor vets its addresses, and the approval carries none.
   */
  default boolean parentResolves(AccessRequest request) {
    return false;
  }
}
