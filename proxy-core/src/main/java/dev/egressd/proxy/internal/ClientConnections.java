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
  /** Worked out once per connection: the label and id of every request on it. */
  private record Identity(String label, long id, String executionId) {}

  /**
   * Set (as a child attribute of a listener) on connections known to come from one {@code egressd run} execution:
   * the run's isolation bridge, whose namespace holds only that run's command.
   */
  public static final AttributeKey<String> EXECUTION_ID = AttributeKey.valueOf(ClientConnections.class,
      "executionId");

  private static final AttributeKey<Identity> IDENTITY = AttributeKey.valueOf(ClientConnections.class, "identity");
  private static final AtomicLong LAST_ID = new AtomicLong();

  private ClientConnections() {}

  /** The connection's id, assigned on first use; ids start at 1 and are unique within the process. */
  public static long id(Channel client) {
    return identity(client).id();
  }

  /** {@code ip:port} of the peer ({@code [v6]:port}), {@code unix-socket} for a Unix-socket client, or {@code unknown}. */
  public static String label(Channel client) {
    return identity(client).label();
  }

  /** A request made on {@code client}: its label and connection id. */
  public static AccessRequest request(Channel client, Destination destination, Protocol protocol, String method,
      boolean upgrade) {
    Identity identity = identity(client);
    return new AccessRequest(destination, protocol, method, upgrade, identity.label(), identity.id(),
        identity.executionId());
  }

  private static Identity identity(Channel client) {
    Identity known = client.attr(IDENTITY).get();
    if (known != null) {
      return known;
    }
    Identity made = new Identity(labelOf(client), LAST_ID.incrementAndGet(), client.attr(EXECUTION_ID).get());
    Identity raced = client.attr(IDENTITY).setIfAbsent(made);
    return raced == null ? made : raced;
  }

  private static String labelOf(Channel client) {
    if (client.remoteAddress() instanceof InetSocketAddress address && address.getAddress() != null) {
      return HostName.of(IpAddress.of(address.getAddress())).authorityForm() + ":" + address.getPort();
    }
    return client.localAddress() instanceof InetSocketAddress ? "unknown" : "unix-socket";
  }
}
