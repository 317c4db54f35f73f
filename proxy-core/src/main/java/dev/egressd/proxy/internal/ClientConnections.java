package dev.egressd.proxy.internal;

import dev.egressd.policy.AccessRequest;
import dev.egressd.policy.Destination;
import dev.egressd.policy.HostName;
import dev.egressd.policy.IpAddress;
import dev.egressd.policy.Protocol;
import io.netty.channel.Channel;
import io.netty.util.AttributeKey;
import java.net.InetSocketAddress;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What every front end says about a client connection in its requests: one label (IPv6 in brackets, as in
 * {@code [::1]:5555}) and one connection id, shared by every audit event of the connection.
 */
public final class ClientConnections {
  private static final AttributeKey<Long> ID = AttributeKey.valueOf(ClientConnections.class, "connectionId");
  private static final AtomicLong LAST_ID = new AtomicLong();

  private ClientConnections() {}

  /** The connection's id, assigned on first use; ids start at 1 and are unique within the process. */
  public static long id(Channel client) {
    Long id = client.attr(ID).get();
    if (id == null) {
      Long assigned = LAST_ID.incrementAndGet();
      id = client.attr(ID).setIfAbsent(assigned);
      id = id == null ? assigned : id;
    }
    return id;
  }

  /** {@code ip:port} of the peer ({@code [v6]:port}), {@code unix-socket} for a Unix-socket client, or {@code unknown}. */
  public static String label(Channel client) {
    if (client.remoteAddress() instanceof InetSocketAddress address && address.getAddress() != null) {
      return HostName.of(IpAddress.of(address.getAddress())).authorityForm() + ":" + address.getPort();
    }
    return client.localAddress() instanceof InetSocketAddress ? "unknown" : "unix-socket";
  }

  /** A request made on {@code client}: its label and connection id. */
  public static AccessRequest request(Channel client, Destination destination, Protocol protocol, String method,
      boolean upgrade) {
    return new AccessRequest(destination, protocol, method, upgrade, label(client), id(client));
  }
}
