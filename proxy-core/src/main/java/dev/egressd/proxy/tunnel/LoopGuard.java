package dev.egressd.proxy.tunnel;

import dev.egressd.policy.IpAddress;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Knows the proxy's own listening sockets, so a request whose vetted address is one of them is refused instead of
 * looping through the proxy until file descriptors run out. Only reachable with {@code allow_local_binding = true}
 * or an explicit loopback rule, but then a single request would be enough.
 */
public final class LoopGuard {
  /** A guard that knows no listeners ({@code check}, tests). */
  public static final LoopGuard NONE = new LoopGuard();

  private final List<InetSocketAddress> listeners = new CopyOnWriteArrayList<>();
  private volatile Set<IpAddress> interfaceAddresses = Set.of();

  /** Registers a bound listener; called once per listener after bind. */
  public void addListener(InetSocketAddress bound) {
    if (this == NONE) {
      throw new IllegalStateException("LoopGuard.NONE cannot hold listeners");
    }
    if (bound.getAddress().isAnyLocalAddress()) {
      interfaceAddresses = localInterfaceAddresses();
    }
    listeners.add(bound);
  }

  /** True when connecting to {@code address:port} would reach one of our own listeners. */
  public boolean isSelf(IpAddress address, int port) {
    for (InetSocketAddress listener : listeners) {
      if (listener.getPort() != port) {
        continue;
      }
      InetAddress bound = listener.getAddress();
      IpAddress target = address.unmapped();
      if (bound.isAnyLocalAddress()) {
        if (target.toInetAddress().isLoopbackAddress() || target.toInetAddress().isAnyLocalAddress()
            || interfaceAddresses.contains(target)) {
          return true;
        }
      } else if (IpAddress.of(bound).unmapped().equals(target)
          || bound.isLoopbackAddress() && target.toInetAddress().isAnyLocalAddress()) {
        return true;
      }
    }
    return false;
  }

  private static Set<IpAddress> localInterfaceAddresses() {
    Set<IpAddress> addresses = new HashSet<>();
    try {
      for (NetworkInterface nif : Collections.list(NetworkInterface.getNetworkInterfaces())) {
        for (InetAddress a : Collections.list(nif.getInetAddresses())) {
          addresses.add(IpAddress.of(a).unmapped());
        }
      }
    } catch (SocketException e) {
      // Without the list, loopback and the wildcard are still caught; interface addresses need a deny rule.
    }
    return Set.copyOf(addresses);
  }
}
