package dev.egressd.config;

import static dev.egressd.config.Fixtures.parse;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class UnixSocketSettingsTest {
  @Test
  void arrayAndTableCombineAndDenyRemoves() throws ConfigException {
    DaemonConfig config = parse("""
        default_permissions = "p"
        [network]
        allow_unix_sockets = ["/run/a.sock", "/run/b.sock"]
        [permissions.p.network.unix_sockets]
        "/run/b.sock" = "deny"
        "/run/c.sock" = "allow"
        """);

    assertThat(config.unixSockets().allowed()).containsExactly("/run/a.sock", "/run/c.sock");
    assertThat(config.unixSockets().allowAll()).isFalse();
    assertThat(config.unixSockets().allows("/run/a.sock")).isTrue();
    assertThat(config.unixSockets().allows("/run/b.sock")).isFalse();
  }

  @Test
  void denyInTheSameTableWinsOverTheArray() throws ConfigException {
    DaemonConfig config = parse("""
        [network]
        allow_unix_sockets = ["/run/a.sock"]
        unix_sockets = { "/run/a.sock" = "deny" }
        """);

    assertThat(config.unixSockets().anyAllowed()).isFalse();
  }

  @Test
  void allowAllAllowsOnlyAbsolutePaths() throws ConfigException {
    UnixSocketSettings sockets = parse("[network]\ndangerously_allow_all_unix_sockets = true\n").unixSockets();

    assertThat(sockets.allows("/any/path.sock")).isTrue();
    assertThat(sockets.allows("relative.sock")).isFalse();
  }
}
