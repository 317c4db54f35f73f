package dev.egressd.proxy.tunnel;

import dev.egressd.policy.HostAddresses;
import dev.egressd.policy.IpAddress;
import dev.egressd.policy.ProxyListeners;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Knows the proxy's own listening sockets, so a request whose vetted address is one of them is refused instead of
 * looping through the proxy until file descriptors run out. Only reachable with {@code allow_local_binding = true}
 * or an explicit loopback rule, but then a single request would be enough.
 */
public final class LoopGuard implements ProxyListeners {
  /** A guard that knows no listeners ({@code check}, tests). */
  public static final LoopGuard NONE = new LoopGuard(HostAddresses.NONE);

  private final List<InetSocketAddress> listeners = new CopyOnWriteArrayList<>();
  private final HostAddresses hostAddresses;

  /**
   * Creates a guard that knows no listeners yet.
   *
   * @param hostAddresses this host's interface addresses: a listener on the wildcard address is reached through each
   */
  public LoopGuard(HostAddresses hostAddresses) {
    this.hostAddresses = Objects.requireNonNull(hostAddresses, "hostAddresses");
  }

  /** Registers a bound listener; called once per listener after bind. */
  public void addListener(InetSocketAddress bound) {
    if (this == NONE) {
      throw new IllegalStateException("LoopGuard.NONE cannot hold listeners");
    }
    listeners.add(bound);
  }

  /** True when connecting to {@code address:port} would reach one of our own listeners. */
  @Override
  public boolean isListener(IpAddress address, int port) {
    for (InetSocketAddress listener : listeners) {
      if (listener.getPort() != port) {
        continue;
      }
      InetAddress bound = listener.getAddress();
      IpAddress target = address.unmapped();
      if (bound.isAnyLocalAddress()) {
        if (target.toInetAddress().isLoopbackAddress() || target.toInetAddress().isAnyLocalAddress()
            || hostAddresses.contains(target)) {
          return true;
        }
      } else if (IpAddress.of(bound).unmapped().equals(target)
          || bound.isLoopbackAddress() && target.toInetAddress().isAnyLocalAddress()) {
        return true;
      }
    }
    return false;
  }
}
