package dev.egressd.proxy;

import dev.egressd.policy.HostAddresses;
import dev.egressd.policy.IpAddress;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.util.Collections;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This host's interface addresses, refreshed in the background so that decisions on event loops only read a set:
 * enumerating interfaces costs system calls, and addresses come and go (DHCP, VPNs, containers). The policy engine
 * and the {@link dev.egressd.proxy.tunnel.LoopGuard} read the same instance.
 */
public final class InterfaceAddresses implements HostAddresses, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(InterfaceAddresses.class);
  private static final long REFRESH_SECONDS = 5;

  private final ScheduledExecutorService refresher;
  private volatile Set<IpAddress> addresses;

  private InterfaceAddresses(ScheduledExecutorService refresher) {
    this.refresher = refresher;
    this.addresses = enumerate(Set.of());
  }

  /** Enumerates now and then every few seconds until closed. */
  public static InterfaceAddresses live() {
    ScheduledExecutorService refresher = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread thread = new Thread(r, "egressd-interface-addresses");
      thread.setDaemon(true);
      return thread;
    });
    InterfaceAddresses live = new InterfaceAddresses(refresher);
    refresher.scheduleWithFixedDelay(live::refresh, REFRESH_SECONDS, REFRESH_SECONDS, TimeUnit.SECONDS);
    return live;
  }

  /** One enumeration, never refreshed ({@code egressd check}). */
  public static InterfaceAddresses snapshot() {
    return new InterfaceAddresses(null);
  }

  @Override
  public boolean contains(IpAddress address) {
    return addresses.contains(address);
  }

  /** The current set, for the start-up log and tests. */
  public Set<IpAddress> addresses() {
    return addresses;
  }

  private void refresh() {
    Set<IpAddress> next = enumerate(addresses);
    if (!next.equals(addresses)) {
      log.info("this host's interface addresses changed: {}", next);
      addresses = next;
    }
  }

  /** The addresses of every interface, up or down (a down interface can come up between refreshes). */
  private static Set<IpAddress> enumerate(Set<IpAddress> previous) {
    Set<IpAddress> found = new HashSet<>();
    try {
      for (NetworkInterface nif : Collections.list(NetworkInterface.getNetworkInterfaces())) {
        for (InetAddress address : Collections.list(nif.getInetAddresses())) {
          found.add(IpAddress.of(address).unmapped());
        }
      }
    } catch (SocketException | RuntimeException e) {
      // Keep what we knew rather than forget addresses: forgetting would open them.
      log.warn("cannot list this host's interface addresses ({}); keeping the last known {}", e, previous);
      return previous;
    }
    return Set.copyOf(found);
  }

  @Override
  public void close() {
    if (refresher != null) {
      refresher.shutdownNow();
    }
  }
}
