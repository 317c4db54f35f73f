package dev.egressd.it;

import static dev.egressd.it.TestData.connect;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Hot reload with TLS interception running: interception itself needs a restart to change, but a file that turns it
 * off must not make the running daemon weaker than a restart with that file would. In limited mode that means
 * CONNECT is refused ({@code mitm_required}), never relayed as a tunnel nobody inspects.
 */
@Timeout(value = 60, unit = SECONDS)
class ReloadInterceptionIT {
  private static final String LIMITED_MITM = """
      [network]
      mode = "limited"
      mitm = true
      allowed_domains = ["allowed.test", "127.0.0.1"]
      mitm_upstream_ca_bundle = '%s'
      """.formatted(TestCertificates.get().caPem());

  @RegisterExtension
  static final OriginServer origin = OriginServer.https();

  @RegisterExtension
  final Daemon egressd = Daemon.withConfig(LIMITED_MITM);

  private HttpReply connectToAllowed() throws Exception {
    try (RawClient client = RawClient.connect(egressd.port())) {
      return client.send(connect(origin.authority("allowed.test"))).readConnectResponse();
    }
  }

  @Test
  void fileTurningMitmOffRefusesLimitedTunnelsInsteadOfRelayingThemUninspected() throws Exception {
    assertThat(connectToAllowed().status()).as("intercepted tunnel before the reload").isEqualTo(200);

    Files.writeString(egressd.configDirectory().resolve("egressd.toml"),
        LIMITED_MITM.replace("mitm = true", "mitm = false"));
    egressd.awaitStderr("TLS interception", "changed; restart egressd to apply");
    egressd.awaitStderr("reload (file changed): policy from");
    origin.reset();

    HttpReply reply = connectToAllowed();
    assertThat(reply.status()).as("%s", reply).isEqualTo(403);
    assertThat(reply.header("x-proxy-error")).isEqualTo("blocked-by-mitm-required");
    assertThat(origin.connectionCount()).as("nothing dialled for the refused tunnel").isZero();
  }
}
