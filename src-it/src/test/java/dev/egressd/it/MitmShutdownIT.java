package dev.egressd.it;

import static dev.egressd.it.TestData.connect;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * SIGTERM with intercepted tunnels open: a response in flight inside one is completed, while an idle kept-alive
 * intercepted tunnel, or one still waiting for its ClientHello, does not hold up the exit. Each test has its own
 * daemon.
 */
@Timeout(value = 60, unit = SECONDS)
class MitmShutdownIT {
  private static final String CONFIG = """
      [network]
      mode = "limited"
      mitm = true
      allowed_domains = ["allowed.test", "127.0.0.1"]
      mitm_upstream_ca_bundle = '%s'
      """.formatted(TestCertificates.get().caPem());
  private static final long PROMPT_EXIT_MILLIS = 2_500;

  @RegisterExtension
  static final OriginServer origin = OriginServer.https();

  @RegisterExtension
  final Daemon egressd = Daemon.withConfig(CONFIG);

  private RawClient interceptedTunnel() throws Exception {
    RawClient client = RawClient.connect(egressd.port());
    HttpReply established = client.send(connect(origin.authority("allowed.test"))).readConnectResponse();
    assertThat(established.status()).as("%s", established).isEqualTo(200);
    return client.startTls(TrustFiles.trusting(egressd.mitmCaCertificate()), "allowed.test", origin.port());
  }

  private static String get(String path) {
    return "GET " + path + " HTTP/1.1\r\nHost: " + origin.authority("allowed.test") + "\r\n\r\n";
  }

  @Test
  void responseInFlightInsideAnInterceptedTunnelIsCompleted() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    byte[] head = TestData.randomBytes(8 * 1024);
    byte[] tail = TestData.randomBytes(32 * 1024);
    origin.respond("/slow", new OriginResponse.Gated(head, release, tail));
    try (RawClient client = interceptedTunnel()) {
      client.send(get("/slow"));
      assertThat(client.readHead().status()).isEqualTo(200);
      assertThat(client.readBody(head.length)).isEqualTo(head);

      egressd.terminate();
      TimeUnit.MILLISECONDS.sleep(500);
      release.countDown();

      assertThat(client.readBody(tail.length)).as("the rest of the body after SIGTERM").isEqualTo(tail);
    } finally {
      release.countDown();
    }
    assertThat(egressd.awaitExit(Duration.ofSeconds(15))).isIn(0, 143);
  }

  @Test
  void idleKeptAliveInterceptedTunnelDoesNotHoldUpShutdown() throws Exception {
    try (RawClient client = interceptedTunnel()) {
      assertThat(client.send(get("/once")).readResponse().status()).isEqualTo(200);
      long start = System.nanoTime();

      egressd.terminate();
      Integer exit = egressd.awaitExit(Duration.ofSeconds(15));

      long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
      assertThat(exit).isIn(0, 143);
      assertThat(millis).as("an idle intercepted tunnel has no exchange to finish; exit took %d ms", millis)
          .isLessThan(PROMPT_EXIT_MILLIS);
      assertThat(client.closedByPeer(1_000)).isTrue();
    }
  }

  @Test
  void tunnelStillWaitingForItsClientHelloDoesNotHoldUpShutdown() throws Exception {
    try (RawClient client = RawClient.connect(egressd.port())) {
      HttpReply established = client.send(connect(origin.authority("allowed.test"))).readConnectResponse();
      assertThat(established.status()).as("%s", established).isEqualTo(200);
      long start = System.nanoTime();

      egressd.terminate();
      Integer exit = egressd.awaitExit(Duration.ofSeconds(15));

      long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
      assertThat(exit).isIn(0, 143);
      assertThat(millis).as("no exchange has started; exit took %d ms", millis).isLessThan(PROMPT_EXIT_MILLIS);
      assertThat(client.closedByPeer(1_000)).isTrue();
    }
    assertThat(origin.connectionCount()).isZero();
  }
}
