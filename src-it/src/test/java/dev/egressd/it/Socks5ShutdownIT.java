package dev.egressd.it;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.egressd.it.Socks5Client.Status;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * SIGTERM and the SOCKS5 listener: it stops accepting, SOCKS5 connections with nothing in flight are closed at once
 * (as idle HTTP keep-alive connections are), and an open tunnel may finish within the grace period. Each test has
 * its own daemon.
 */
@Timeout(value = 60, unit = SECONDS)
class Socks5ShutdownIT {
  private static final String CONFIG = """
      [network]
      allowed_domains = ["allowed.test", "127.0.0.1"]
      """;
  /** Well under the default 5 s grace: nothing had to be waited for. */
  private static final long PROMPT_MILLIS = 2_500;

  @RegisterExtension
  static final OriginServer origin = OriginServer.http();

  @RegisterExtension
  final Daemon egressd = Daemon.withConfig(CONFIG);

  @Test
  void sigtermClosesTheSocksListener() throws Exception {
    int socksPort = egressd.socksPort();

    egressd.stop();

    assertThat(egressd.exitCode()).as("exit status after SIGTERM").isIn(0, 143);
    assertThatThrownBy(() -> {
      try (Socket socket = new Socket()) {
        socket.connect(new InetSocketAddress("127.0.0.1", socksPort), 2_000);
      }
    }).isInstanceOf(ConnectException.class);
  }

  @Test
  void connectionThatHasNotGreetedYetDoesNotHoldUpShutdown() throws Exception {
    try (Socks5Client client = Socks5Client.connect(egressd.socksPort())) {
      assertThat(client.closedByPeer(300)).as("connected and idle").isFalse();

      long millis = terminateAndTimeExit();

      assertThat(millis).as("a SOCKS5 connection before its greeting has nothing in flight; exit took %d ms",
          millis).isLessThan(PROMPT_MILLIS);
      assertThat(client.closedByPeer(1_000)).isTrue();
    }
  }

  @Test
  void connectionAwaitingItsCommandDoesNotHoldUpShutdown() throws Exception {
    try (Socks5Client client = Socks5Client.connect(egressd.socksPort())) {
      assertThat(client.greet(Socks5Client.NO_AUTHENTICATION)).isEqualTo(Socks5Client.NO_AUTHENTICATION);

      long millis = terminateAndTimeExit();

      assertThat(millis).as("a SOCKS5 connection awaiting its command has nothing in flight; exit took %d ms",
          millis).isLessThan(PROMPT_MILLIS);
      assertThat(client.closedByPeer(1_000)).isTrue();
    }
  }

  @Test
  void tunnelOpenAtSigtermMayFinishItsResponse() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    byte[] head = TestData.randomBytes(8 * 1024);
    byte[] tail = TestData.randomBytes(32 * 1024);
    origin.respond("/slow", new OriginResponse.Gated(head, release, tail));
    try (Socks5Client client = Socks5Client.connect(egressd.socksPort())) {
      assertThat(client.connectTo(Socks5Address.domain("allowed.test", origin.port())).status())
          .isEqualTo(Status.SUCCEEDED);
      client.send(("GET /slow HTTP/1.1\r\nHost: " + origin.authority("allowed.test") + "\r\n\r\n")
          .getBytes(StandardCharsets.ISO_8859_1));
      InputStream in = client.input();
      String responseHead = readHead(in);
      assertThat(responseHead).startsWith("HTTP/1.1 200");
      assertThat(in.readNBytes(head.length)).isEqualTo(head);

      egressd.terminate();
      TimeUnit.MILLISECONDS.sleep(500);
      release.countDown();

      assertThat(in.readNBytes(tail.length)).as("the rest of the body after SIGTERM").isEqualTo(tail);
    } finally {
      release.countDown();
    }
    assertThat(egressd.awaitExit(Duration.ofSeconds(15))).isIn(0, 143);
  }

  private long terminateAndTimeExit() throws InterruptedException {
    long start = System.nanoTime();
    egressd.terminate();
    Integer exit = egressd.awaitExit(Duration.ofSeconds(15));
    assertThat(exit).isIn(0, 143);
    return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
  }

  private static String readHead(InputStream in) throws IOException {
    StringBuilder head = new StringBuilder();
    while (!head.toString().endsWith("\r\n\r\n")) {
      int b = in.read();
      if (b < 0) {
        throw new IOException("closed inside the response head: " + head);
      }
      head.append((char) b);
    }
    return head.toString();
  }
}
