package dev.egressd.policy;

import java.util.Collection;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The addresses of the machine's own network interfaces. A service bound to {@code 0.0.0.0} answers on every one of
 * them, so an interface address that looks public is as local as {@code 127.0.0.1}. The daemon supplies the live set;
 * the engine stays free of I/O.
 */
@FunctionalInterface
public interface HostAddresses {
  /** No interface addresses known: only the address classes decide what is local. */
  HostAddresses NONE = address -> false;

  /** Whether {@code address} (already unmapped from IPv4-mapped IPv6) belongs to one of this host's interfaces. */
  boolean contains(IpAddress address);

  /** A fixed set, e.g. for tests and {@code egressd check}. */
  static HostAddresses of(Collection<IpAddress> addresses) {
    Set<IpAddress> set = addresses.stream().map(IpAddress::unmapped).collect(Collectors.toUnmodifiableSet());
    return set::contains;
  }
}
