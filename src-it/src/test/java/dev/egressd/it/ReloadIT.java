package dev.egressd.it;

import static dev.egressd.it.TestData.connect;
import static dev.egressd.it.TestData.get;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Hot reload of the real daemon: a changed file applies to the next decision, a broken file is rejected and the
 * running policy stays, SIGHUP reloads, open tunnels keep running, and command-line overrides survive.
 */
@Timeout(value = 90, unit = SECONDS)
class ReloadIT {
  private static final String ALLOWS_OTHER = """
      [network]
      allowed_domains = ["other.test", "127.0.0.1"]
      """;
  private static final String ALLOWS_ALLOWED = """
      [network]
      allowed_domains = ["other.test", "allowed.test", "127.0.0.1"]
      """;

  @RegisterExtension
  static final OriginServer origin = OriginServer.http();

  /**
   * One daemon per test (an instance field), so each test starts from {@link #ALLOWS_OTHER}. Every host here resolves
   * to 127.0.0.1, which the local-address check refuses unless an IP rule opens it.
   */
  @RegisterExtension
  final Daemon egressd = Daemon.withConfig(ALLOWS_OTHER).withArgs("--allow", "cli.test");

  private Path configFile() {
    return egressd.configDirectory().resolve("egressd.toml");
  }

  private int status(String host) throws IOException {
    try (RawClient client = RawClient.connect(egressd.port())) {
      return client.send(get(origin.authority(host), "/reload")).readResponse().status();
    }
  }

  /** Polls until {@code host} gets {@code expected}; false if it never does within 10 s. */
  private boolean becomes(String host, int expected) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (System.nanoTime() < deadline) {
      if (status(host) == expected) {
        return true;
      }
      TimeUnit.MILLISECONDS.sleep(100);
    }
    return false;
  }

  private void signalHangUp() throws Exception {
    Process kill = new ProcessBuilder("kill", "-HUP", Long.toString(egressd.process().pid())).start();
    assertThat(kill.waitFor()).isZero();
  }

  @Test
  void rewrittenFileAppliesToTheNextRequest() throws Exception {
    assertThat(status("allowed.test")).isEqualTo(403);

    Files.writeString(configFile(), ALLOWS_ALLOWED);

    assertThat(becomes("allowed.test", 200)).as("allowed after the rewrite").isTrue();
    egressd.awaitStderr("reload (file changed)", "policy from");
    egressd.awaitStderr("decision=allow", "host=allowed.test");
  }

  @Test
  void brokenFileIsRejectedAndTheRunningPolicyStaysUntilItIsFixed() throws Exception {
    Files.writeString(configFile(), ALLOWS_ALLOWED);
    assertThat(becomes("allowed.test", 200)).isTrue();

    Files.writeString(configFile(), "[network]\nallowed_domains = [\"allowed.test\", \"127.0.0.1\"\n");
    egressd.awaitStderr("rejected; the running policy stays");
    egressd.awaitStderr("egressd.toml:3");

    assertThat(status("allowed.test")).as("the last good policy still decides").isEqualTo(200);
    assertThat(status("denied-by-default.test")).isEqualTo(403);

    Files.writeString(configFile(), ALLOWS_OTHER);
    assertThat(becomes("allowed.test", 403)).as("the fixed file applies").isTrue();
  }

  @Test
  void sighupReloadsTheFileAsItIsNow() throws Exception {
    Files.writeString(configFile(), ALLOWS_ALLOWED);

    signalHangUp();

    // Three allowed_domains plus --allow cli.test (the start had three rules in all): SIGHUP read the edit.
    egressd.awaitStderr("reload (SIGHUP): policy from", ": 4 rules, mode full, enabled true");
    assertThat(status("allowed.test")).isEqualTo(200);
  }

  @Test
  void openTunnelKeepsRunningWhileNewTunnelsFollowTheNewPolicy() throws Exception {
    try (RawClient tunnel = RawClient.connect(egressd.port())) {
      assertThat(tunnel.send(connect(origin.authority("other.test"))).readConnectResponse().status())
          .isEqualTo(200);
      assertThat(tunnel.send(get(origin.authority("other.test"), "/before")).readResponse().status())
          .isEqualTo(200);

      Files.writeString(configFile(), "[network]\nallowed_domains = [\"allowed.test\", \"127.0.0.1\"]\n");
      assertThat(becomes("other.test", 403)).as("other.test refused after the reload").isTrue();

      assertThat(tunnel.send(get(origin.authority("other.test"), "/after")).readResponse().status())
          .as("the tunnel opened before the reload still relays").isEqualTo(200);
    }
    try (RawClient fresh = RawClient.connect(egressd.port())) {
      assertThat(fresh.send(connect(origin.authority("other.test"))).readConnectResponse().status())
          .isEqualTo(403);
    }
  }

  @Test
  void changedListenAddressIsReportedAndTheRunningListenerStays() throws Exception {
    Files.writeString(configFile(), ALLOWS_ALLOWED + "enable_socks5_udp = false\n");

    egressd.awaitStderr("listeners changed; restart egressd to apply");
    assertThat(becomes("allowed.test", 200)).as("the policy part still applies").isTrue();
  }

  @Test
  void commandLineAllowSurvivesAReload() throws Exception {
    assertThat(status("cli.test")).isEqualTo(200);

    Files.writeString(configFile(), ALLOWS_ALLOWED);
    assertThat(becomes("allowed.test", 200)).isTrue();

    assertThat(status("cli.test")).as("--allow cli.test is applied again").isEqualTo(200);
  }
}
