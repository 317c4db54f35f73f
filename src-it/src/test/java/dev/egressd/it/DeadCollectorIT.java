package dev.egressd.it;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * An OTLP collector that is down or never answers costs export retries on the audit thread, never proxy latency:
 * requests made while an export hangs (the exporter waits up to 10 s per attempt) are each answered in well under
 * that, none is lost, and the admin listener keeps answering.
 */
@Timeout(value = 60, unit = SECONDS)
class DeadCollectorIT {
  private static final int REQUESTS = 50;
  /** Far below the exporter's 10 s timeout, far above what one request through a loaded loopback proxy takes. */
  private static final Duration MAX_REQUEST = Duration.ofSeconds(3);
  private static final Duration MAX_ALL_REQUESTS = Duration.ofSeconds(8);

  @RegisterExtension
  static final OriginServer http = OriginServer.http();

  /** How the collector fails. */
  enum Fault {
    /** Accepts the connection, reads the export request, and never answers. */
    ACCEPTS_AND_NEVER_ANSWERS,
    /** Nothing listens: every connection attempt is refused at once (and retried by the exporter). */
    CLOSED_PORT,
    /** Connection attempts are never answered at all (see {@link UnansweredPort}). */
    SYN_UNANSWERED
  }

  @ParameterizedTest
  @EnumSource(Fault.class)
  void requestsAreAnsweredPromptlyWhileExportHangsOrFails(Fault fault) throws Exception {
    try (DeadCollector collector = DeadCollector.open(fault)) {
      Daemon egressd = Daemon.withConfig("""
          [network]
          allowed_domains = ["allowed.test", "127.0.0.1"]

          [otel]
          exporter = { otlp-http = { endpoint = "http://127.0.0.1:%d/v1/logs", protocol = "binary" } }

          [admin]
          listen = "127.0.0.1:0"
          """.formatted(collector.port()));
      egressd.start();
      try {
        AdminClient admin = new AdminClient(egressd.adminPort());
        assertThat(get(egressd, "/first").status()).isEqualTo(200);
        // The first batch is handed to the exporter about 1 s later; from then on the exporter is stuck or failing.
        assertThat(OriginServer.eventually(() -> exportStarted(admin, collector), Duration.ofSeconds(10)))
            .as("export of the first batch started").isTrue();

        List<Long> millis = new ArrayList<>();
        long start = System.nanoTime();
        for (int i = 0; i < REQUESTS; i++) {
          long t0 = System.nanoTime();
          HttpReply reply = get(egressd, "/r" + i);
          millis.add((System.nanoTime() - t0) / 1_000_000);
          assertThat(reply.status()).as("request %d: %s", i, reply).isEqualTo(200);
          // Spread the requests over more than one batch delay, so later batches are handed over meanwhile.
          Thread.sleep(25);
        }
        Duration all = Duration.ofNanos(System.nanoTime() - start);

        assertThat(millis).as("latency of each request, ms").allSatisfy(ms ->
            assertThat(ms).isLessThan(MAX_REQUEST.toMillis()));
        assertThat(all).isLessThan(MAX_ALL_REQUESTS);
        assertThat(http.requestCount()).isEqualTo(REQUESTS + 1);
        PrometheusText metrics = admin.metrics();
        assertThat(metrics.sum("egressd_decisions_total", "decision", "allow")).isEqualTo(REQUESTS + 1);
        assertThat(metrics.sum("egressd_audit_dropped_total")).isZero();
        assertThat(admin.get("/healthz").status()).isEqualTo(200);
        if (fault == Fault.ACCEPTS_AND_NEVER_ANSWERS) {
          assertThat(collector.bytesReceived()).as("bytes of export requests the collector read").isPositive();
          // Shutdown waits for the hanging export only for its bounded flush time (5 s), not the 10 s timeout.
          egressd.terminate();
          assertThat(egressd.awaitExit(Duration.ofSeconds(9))).as("exit after SIGTERM with an export hanging")
              .isNotNull();
        } else {
          // Shutdown with a dead collector is checked once above; here it would only cost the same 5 s again.
          Processes.destroy(egressd.process());
        }
      } finally {
        egressd.stop();
      }
    }
  }

  private static HttpReply get(Daemon egressd, String path) throws IOException {
    try (RawClient client = RawClient.connect(egressd.port())) {
      return client.send("GET " + http.url("allowed.test", path) + " HTTP/1.1\r\nHost: "
          + http.authority("allowed.test") + "\r\nConnection: close\r\n\r\n").readResponse();
    }
  }

  /**
   * Whether the exporter has been handed a batch: the silent collector saw request bytes, or (where nothing can be
   * seen from outside) the SDK's own exporter counter moved.
   */
  private static boolean exportStarted(AdminClient admin, DeadCollector collector) {
    if (collector.bytesReceived() > 0) {
      return true;
    }
    try {
      return admin.metrics().sum("otlp_exporter_seen_total") > 0;
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  /** A collector endpoint on 127.0.0.1 that fails in the way {@link Fault} says. */
  private static final class DeadCollector implements AutoCloseable {
    private final int port;
    private final AutoCloseable resource;
    private final AtomicInteger received;

    private DeadCollector(int port, AutoCloseable resource, AtomicInteger received) {
      this.port = port;
      this.resource = resource;
      this.received = received;
    }

    static DeadCollector open(Fault fault) throws IOException {
      return switch (fault) {
        case ACCEPTS_AND_NEVER_ANSWERS -> silent();
        case CLOSED_PORT -> new DeadCollector(TestData.closedPort(), () -> { }, new AtomicInteger());
        case SYN_UNANSWERED -> {
          UnansweredPort unanswered = UnansweredPort.open();
          yield new DeadCollector(unanswered.port(), unanswered, new AtomicInteger());
        }
      };
    }

    private static DeadCollector silent() throws IOException {
      ServerSocket listener = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"));
      AtomicInteger received = new AtomicInteger();
      Set<Socket> accepted = ConcurrentHashMap.newKeySet();
      Thread acceptor = new Thread(() -> {
        while (!listener.isClosed()) {
          try {
            Socket socket = listener.accept();
            accepted.add(socket);
            Thread reader = new Thread(() -> drain(socket, received), "silent-collector-read");
            reader.setDaemon(true);
            reader.start();
          } catch (IOException e) {
            return;
          }
        }
      }, "silent-collector-accept");
      acceptor.setDaemon(true);
      acceptor.start();
      return new DeadCollector(listener.getLocalPort(), () -> {
        listener.close();
        for (Socket socket : accepted) {
          socket.close();
        }
      }, received);
    }

    private static void drain(Socket socket, AtomicInteger received) {
      byte[] buffer = new byte[8192];
      try (InputStream in = socket.getInputStream()) {
        int n;
        while ((n = in.read(buffer)) >= 0) {
          received.addAndGet(n);
        }
      } catch (IOException e) {
        // closed by the test or by the exporter giving up
      }
    }

    int port() {
      return port;
    }

    int bytesReceived() {
      return received.get();
    }

    @Override
    public void close() throws Exception {
      resource.close();
    }
  }
}
