package dev.egressd.it;

import static dev.egressd.it.TestData.connect;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Many clients open intercepted tunnels to a host at the same moment, on a fresh daemon whose leaf cache is empty:
 * every one gets a leaf the egressd CA signed and its own response.
 */
@Timeout(value = 90, unit = SECONDS)
class MitmConcurrencyIT {
  private static final int CLIENTS = 24;
  private static final String CONFIG = """
      [network]
      mode = "limited"
      mitm = true
      allowed_domains = ["allowed.test", "127.0.0.1"]
      mitm_upstream_ca_bundle = '%s'
      """.formatted(TestCertificates.get().caPem());

  @RegisterExtension
  static final OriginServer origin = OriginServer.https();

  @RegisterExtension
  static final Daemon egressd = Daemon.withConfig(CONFIG);

  private record Outcome(X509Certificate leaf, HttpReply reply) {}

  @Test
  void simultaneousFirstTunnelsToOneHostAllSucceed() throws Exception {
    SSLContext trust = TrustFiles.trusting(egressd.mitmCaCertificate());
    X509Certificate ca = TrustFiles.certificate(egressd.mitmCaCertificate());
    String authority = origin.authority("allowed.test");
    CountDownLatch start = new CountDownLatch(1);
    ExecutorService pool = Executors.newFixedThreadPool(CLIENTS);
    try {
      List<Future<Outcome>> futures = new ArrayList<>();
      for (int i = 0; i < CLIENTS; i++) {
        String path = "/client-" + i;
        Callable<Outcome> client = () -> {
          try (RawClient raw = RawClient.connect(egressd.port())) {
            HttpReply established = raw.send(connect(authority)).readConnectResponse();
            assertThat(established.status()).as("%s", established).isEqualTo(200);
            start.await();
            raw.startTls(trust, "allowed.test", origin.port());
            X509Certificate leaf = (X509Certificate) raw.tlsSession().getPeerCertificates()[0];
            return new Outcome(leaf, raw.send("GET " + path + " HTTP/1.1\r\nHost: " + authority + "\r\n\r\n")
                .readResponse());
          }
        };
        futures.add(pool.submit(client));
      }
      start.countDown();

      for (int i = 0; i < CLIENTS; i++) {
        Outcome outcome = futures.get(i).get(60, SECONDS);
        outcome.leaf().verify(ca.getPublicKey());
        assertThat(outcome.reply().text()).isEqualTo("origin saw GET /client-" + i + " body=0\n");
      }
    } finally {
      pool.shutdownNow();
    }
    assertThat(origin.requestCount()).isEqualTo(CLIENTS);
  }
}
