package dev.egressd.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.egressd.policy.IpAddress;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.util.Collections;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

class InterfaceAddressesTest {

  @Test
  void snapshotHoldsEveryAddressOfEveryInterface() throws Exception {
    Set<IpAddress> expected = new HashSet<>();
    for (NetworkInterface nif : Collections.list(NetworkInterface.getNetworkInterfaces())) {
      for (InetAddress address : Collections.list(nif.getInetAddresses())) {
        expected.add(IpAddress.of(address));
      }
    }

    InterfaceAddresses snapshot = InterfaceAddresses.snapshot();

    assertThat(expected).contains(IpAddress.parse("127.0.0.1").orElseThrow());
    assertThat(snapshot.addresses()).isEqualTo(expected);
    expected.forEach(address -> assertThat(snapshot.contains(address)).as(address.toString()).isTrue());
    assertThat(snapshot.contains(IpAddress.parse("192.0.2.1").orElseThrow())).isFalse();
  }

  @Test
  void liveViewStartsFilledAndStopsOnClose() throws InterruptedException {
    try (InterfaceAddresses live = InterfaceAddresses.live()) {
      assertThat(live.contains(IpAddress.parse("127.0.0.1").orElseThrow())).isTrue();
      assertThat(live.addresses()).isEqualTo(InterfaceAddresses.snapshot().addresses());
      assertThat(refresherThreads()).isNotZero();
    }
    long deadline = System.nanoTime() + 5_000_000_000L;
    while (refresherThreads() > 0 && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    assertThat(refresherThreads()).as("refresher threads alive after close").isZero();
  }

  private static long refresherThreads() {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(t -> t.getName().equals("egressd-interface-addresses") && t.isAlive()).count();
  }
}
