package dev.egressd.config;

import static dev.egressd.config.Fixtures.parse;
import static org.assertj.core.api.Assertions.assertThat;

import dev.egressd.policy.AccessMode;
import org.junit.jupiter.api.Test;

class DefaultValuesTest {
  @Test
  void emptyNetworkTableTakesEveryDefault() throws ConfigException {
    DaemonConfig config = parse("[network]\n");

    assertThat(config.policy().enabled()).as("absent enabled means true for egressd").isTrue();
    assertThat(config.policy().mode()).isEqualTo(AccessMode.FULL);
    assertThat(config.policy().allowLocalBinding()).isFalse();
    assertThat(config.policy().mitm()).isFalse();
    assertThat(config.policy().rules()).isEmpty();
    assertThat(config.allowUpstreamProxy()).isTrue();
    assertThat(config.unixSockets()).isEqualTo(UnixSocketSettings.NONE);
    assertThat(config.listeners()).isEqualTo(ListenerSettings.defaults());
  }

  @Test
  void listenerDefaultsAreTheReferencePorts() {
    ListenerSettings listeners = ListenerSettings.defaults();

    assertThat(listeners.http().getAddress().getHostAddress()).isEqualTo("127.0.0.1");
    assertThat(listeners.http().getPort()).isEqualTo(3128);
    assertThat(listeners.socks().getPort()).isEqualTo(8081);
    assertThat(listeners.socksEnabled()).isTrue();
    assertThat(listeners.socksUdpEnabled()).isTrue();
    assertThat(listeners.nonLoopbackAllowed()).isFalse();
  }

  @Test
  void emptyAllowListWarnsThatEverythingIsBlocked() throws ConfigException {
    assertThat(parse("[network]\n").warnings())
        .containsExactly("config.toml: no allow rules in [network]; every destination is blocked. Add hosts to "
            + "allowed_domains or the domains table");
  }

  @Test
  void builtInDefaultBlocksEverythingAndSaysHowToAllow() {
    DaemonConfig config = ConfigLoader.defaults();

    assertThat(config.source()).isNull();
    assertThat(config.profile()).isNull();
    assertThat(config.policy().enabled()).isTrue();
    assertThat(config.policy().mode()).isEqualTo(AccessMode.FULL);
    assertThat(config.policy().rules()).isEmpty();
    assertThat(config.listeners()).isEqualTo(ListenerSettings.defaults());
    assertThat(config.warnings()).singleElement().asString()
        .contains("every destination is blocked")
        .contains("--allow example.com")
        .contains("docs/configuration.md");
  }

  @Test
  void socksUdpIsOffWhenSocksIsOff() throws ConfigException {
    DaemonConfig config = parse("[network]\nenable_socks5 = false\nenable_socks5_udp = true\n");

    assertThat(config.listeners().socksEnabled()).isFalse();
    assertThat(config.listeners().socksUdpEnabled()).isFalse();
  }

  @Test
  void everyScalarIsRead() throws ConfigException {
    DaemonConfig config = parse("""
        [network]
        enabled = false
        proxy_url = "http://127.0.0.1:0"
        enable_socks5 = true
        socks_url = "127.0.0.1:1080"
        enable_socks5_udp = false
        allow_upstream_proxy = false
        dangerously_allow_non_loopback_proxy = false
        mode = "limited"
        mitm = true
        allow_local_binding = true
        """);

    assertThat(config.policy().enabled()).isFalse();
    assertThat(config.listeners().http().getPort()).isZero();
    assertThat(config.listeners().socks().getPort()).isEqualTo(1080);
    assertThat(config.listeners().socksUdpEnabled()).isFalse();
    assertThat(config.allowUpstreamProxy()).isFalse();
    assertThat(config.policy().mode()).isEqualTo(AccessMode.LIMITED);
    assertThat(config.policy().mitm()).isTrue();
    assertThat(config.policy().allowLocalBinding()).isTrue();
  }

  @Test
  void withersReplaceOnlyTheirComponent() throws ConfigException {
    DaemonConfig config = parse("[network]\nallowed_domains = [\"example.com\"]\n");
    ListenerSettings other = new ListenerSettings(ListenerSettings.defaults().http(), false,
        ListenerSettings.defaults().socks(), false, false, null, false, false);

    DaemonConfig changed = config.withListeners(other).withPolicy(ConfigLoader.defaults().policy());

    assertThat(changed.listeners()).isEqualTo(other);
    assertThat(changed.policy().rules()).isEmpty();
    assertThat(changed.warnings()).isEqualTo(config.warnings());
    assertThat(changed.unixSockets()).isEqualTo(config.unixSockets());
  }
}
