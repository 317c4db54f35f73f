package dev.egressd.it;

import static dev.egressd.it.TestData.get;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * SIGTERM: stop accepting, let exchanges in flight finish, close idle connections, exit. Each test has its own
 * daemon (the extension is registered on an instance field).
 */
@Timeout(value = 60, unit = SECONDS)
class ShutdownIT {
  private static final String CONFIG = """
      [network]
      allowed_domains = ["allowed.test", "127.0.0.1"]
      """;

  @RegisterExtension
  static final OriginServer origin = OriginServer.http();

  @RegisterExtension
  final Daemon egressd = Daemon.withConfig(CONFIG);

  @Test
  void sigtermStopsTheDaemonAndClosesTheListener() throws Exception {
    int port = egressd.port();
    egressd.awaitStdout("export HTTP_PROXY=http://127.0.0.1:" + port);

    egressd.stop();

    assertThat(egressd.exitCode()).as("exit status after SIGTERM").isIn(0, 143);
    assertThatThrownBy(() -> {
      try (Socket socket = new Socket()) {
        socket.connect(new InetSocketAddress("127.0.0.1", port), 2_000);
      }
    }).isInstanceOf(ConnectException.class);
  }

  @Test
  void everyAuditLineIsWrittenBeforeTheDaemonExits() throws Exception {
    // Audit lines are flushed per batch, not per line (StderrAppender), and logback is stopped last: the final batch
    // and the "stopping" line must reach stderr.
    int requests = 300;
    try (RawClient client = RawClient.connect(egressd.port())) {
      for (int i = 0; i < requests; i++) {
        client.send(get(origin.authority("allowed.test"), "/audited-" + i));
        assertThat(client.readResponse().status()).isEqualTo(200);
      }
    }

    egressd.stop();

    List<String> lines = egressd.stderr().lines().toList();
    assertThat(lines).filteredOn(line -> line.contains("decision=allow") && line.contains("protocol=http ")
        && line.contains("host=allowed.test")).hasSize(requests)
        .allMatch(line -> line.matches("\\d{4}-\\d\\d-\\d\\dT\\S+ INFO  audit - decision=allow .*"));
    assertThat(lines).last().asString().contains("stopping: no new connections");
  }

  @Test
  void responseInFlightAtSigtermIsCompleted() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    byte[] head = TestData.randomBytes(8 * 1024);
    byte[] tail = TestData.randomBytes(32 * 1024);
    origin.respond("/slow", new OriginResponse.Gated(head, release, tail));
    try (RawClient client = RawClient.connect(egressd.port())) {
      client.send(get(origin.authority("allowed.test"), "/slow"));
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
  void idleKeptAliveConnectionDoesNotHoldUpShutdown() throws Exception {
    try (RawClient client = RawClient.connect(egressd.port())) {
      assertThat(client.send(get(origin.authority("allowed.test"), "/once")).readResponse().status()).isEqualTo(200);
      long start = System.nanoTime();

      egressd.terminate();
      Integer exit = egressd.awaitExit(Duration.ofSeconds(15));

      long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
      assertThat(exit).isIn(0, 143);
      assertThat(millis).as("an idle keep-alive connection has no exchange to finish; exit took %d ms", millis)
          .isLessThan(2_500);
      assertThat(client.closedByPeer(1_000)).isTrue();
    }
  }
}
