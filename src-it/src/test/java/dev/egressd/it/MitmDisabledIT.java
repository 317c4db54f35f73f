package dev.egressd.it;

import static dev.egressd.it.TestData.connect;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Regression: without {@code mitm = true}, limited mode still refuses CONNECT with {@code blocked-by-mitm-required},
 * announces no interception, and never creates a CA.
 */
@Timeout(value = 60, unit = SECONDS)
class MitmDisabledIT {
  private static final String CONFIG = """
      [network]
      mode = "limited"
      allowed_domains = ["allowed.test", "127.0.0.1"]
      mitm_upstream_ca_bundle = '%s'
      """.formatted(TestCertificates.get().caPem());

  @RegisterExtension
  static final OriginServer origin = OriginServer.https();

  @RegisterExtension
  static final Daemon egressd = Daemon.withConfig(CONFIG);

  @Test
  void connectStillGets403MitmRequiredAndTheOriginSeesNothing() throws Exception {
    try (RawClient client = RawClient.connect(egressd.port())) {
      HttpReply reply = client.send(connect(origin.authority("allowed.test"))).readConnectResponse();

      assertThat(reply.status()).as("%s", reply).isEqualTo(403);
      assertThat(reply.header("x-proxy-error")).isEqualTo("blocked-by-mitm-required");
    }
    assertThat(origin.connectionCount()).isZero();
    egressd.awaitStderr("decision=deny", "reason=mitm_required", "protocol=https_connect", "host=allowed.test");
    assertThat(egressd.stdout()).doesNotContain("TLS interception", "SSL_CERT_FILE");
    assertThat(egressd.egressdHome().resolve("proxy")).doesNotExist();
  }
}
