package dev.egressd.config;

import static dev.egressd.config.Fixtures.parse;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import org.junit.jupiter.api.Test;

class ListenerSettingsTest {
  @Test
  void nonLoopbackBindIsClampedWithAPositionedWarning() throws ConfigException {
    DaemonConfig config = parse("[network]\nproxy_url = \"http://0.0.0.0:3128\"\n");

    assertThat(config.listeners().http().getAddress().isLoopbackAddress()).isTrue();
    assertThat(config.listeners().http().getPort()).isEqualTo(3128);
    assertThat(config.listeners().nonLoopbackAllowed()).isFalse();
    assertThat(config.warnings()).anyMatch(w -> w.startsWith("config.toml:2:1: network.proxy_url: listen address"));
  }

  @Test
  void dangerousFlagKeepsNonLoopbackBind() throws ConfigException {
    DaemonConfig config = parse("""
        [network]
        proxy_url = "http://0.0.0.0:3128"
        socks_url = "0.0.0.0:1080"
        dangerously_allow_non_loopback_proxy = true
        """);

    assertThat(config.listeners().http().getAddress().isAnyLocalAddress()).isTrue();
    assertThat(config.listeners().socks().getAddress().isAnyLocalAddress()).isTrue();
    assertThat(config.listeners().nonLoopbackAllowed()).isTrue();
    assertThat(config.warnings()).filteredOn(w -> w.contains("DANGEROUS")).hasSize(2);
  }

  @Test
  void allowedUnixSocketsForceLoopbackDespiteTheDangerousFlag() throws ConfigException {
    DaemonConfig config = parse("""
        [network]
        proxy_url = "http://0.0.0.0:3128"
        dangerously_allow_non_loopback_proxy = true
        allow_unix_sockets = ["/var/run/docker.sock"]
        """);

    assertThat(config.listeners().http().getAddress().isLoopbackAddress()).isTrue();
    assertThat(config.listeners().nonLoopbackAllowed()).isFalse();
    assertThat(config.warnings()).anyMatch(w -> w.startsWith(
        "config.toml:3:1: network.dangerously_allow_non_loopback_proxy: overridden: unix sockets are allowed"));
  }

  @Test
  void allowAllUnixSocketsAlsoForcesLoopback() throws ConfigException {
    DaemonConfig config = parse("""
        [network]
        socks_url = "0.0.0.0:1080"
        dangerously_allow_non_loopback_proxy = true
        dangerously_allow_all_unix_sockets = true
        """);

    assertThat(config.listeners().socks().getAddress().isLoopbackAddress()).isTrue();
    assertThat(config.unixSockets().allowAll()).isTrue();
  }

  @Test
  void listenersNothingNamedGetFreePortsForAWrappedCommand() throws ConfigException {
    ListenerSettings defaults = parse("[network]\nallowed_domains = [\"example.com\"]\n").listeners();

    ListenerSettings wrapped = defaults.withFreeDefaultPorts();

    assertThat(defaults.httpNamed()).isFalse();
    assertThat(defaults.socksNamed()).isFalse();
    assertThat(wrapped.http()).isEqualTo(new InetSocketAddress(defaults.http().getAddress(), 0));
    assertThat(wrapped.socks()).isEqualTo(new InetSocketAddress(defaults.socks().getAddress(), 0));
  }

  @Test
  void namedListenersKeepTheirPortsForAWrappedCommand() throws ConfigException {
    ListenerSettings named = parse("[network]\nproxy_url = \"http://127.0.0.1:4128\"\n").listeners();

    ListenerSettings wrapped = named.withFreeDefaultPorts();

    assertThat(named.httpNamed()).isTrue();
    assertThat(wrapped.http().getPort()).isEqualTo(4128);
    assertThat(wrapped.socks().getPort()).isZero();
    assertThat(named.withSocks(new InetSocketAddress("127.0.0.1", 9050)).withFreeDefaultPorts().socks().getPort())
        .as("a flag names the port too").isEqualTo(9050);
  }
}
