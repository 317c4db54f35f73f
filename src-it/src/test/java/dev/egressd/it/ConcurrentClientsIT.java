package dev.egressd.it;

import static dev.egressd.it.TestData.get;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Many clients at once, each mixing allowed and refused requests on its own kept-alive connection. */
@Timeout(value = 90, unit = SECONDS)
class ConcurrentClientsIT {
  private static final String CONFIG = """
      [network]
      allowed_domains = ["allowed.test", "127.0.0.1"]
      denied_domains = ["denied.test"]
      """;
  private static final int CLIENTS = 24;
  private static final int ROUNDS = 20;

  @RegisterExtension
  static final OriginServer origin = OriginServer.http().withPrivateDecoy();

  @RegisterExtension
  static final Daemon egressd = Daemon.withConfig(CONFIG);

  @Test
  void everyRequestOfEveryClientGetsItsOwnDecision() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(CLIENTS);
    try {
      List<Future<Integer>> clients = new ArrayList<>();
      for (int c = 0; c < CLIENTS; c++) {
        int id = c;
        clients.add(pool.submit((Callable<Integer>) () -> runClient(id)));
      }
      int allowed = 0;
      for (Future<Integer> client : clients) {
        allowed += client.get(60, SECONDS);
      }

      assertThat(origin.requestCount()).isEqualTo(allowed);
      assertThat(origin.requests()).allSatisfy(r -> assertThat(r.target()).startsWith("/ok/"));
    } finally {
      pool.shutdownNow();
    }
  }

  private static int runClient(int id) throws Exception {
    int allowed = 0;
    try (RawClient client = RawClient.connect(egressd.port())) {
      for (int round = 0; round < ROUNDS; round++) {
        String path = "/" + id + "/" + round;
        switch ((id + round) % 3) {
          case 0 -> {
            HttpReply reply = client.send(get(origin.authority("allowed.test"), "/ok" + path)).readResponse();
            assertThat(reply.text()).isEqualTo("origin saw GET /ok" + path + " body=0\n");
            allowed++;
          }
          case 1 -> {
            HttpReply reply = client.send(get(origin.authority("denied.test"), "/no" + path)).readResponse();
            assertThat(reply.status()).isEqualTo(403);
            assertThat(reply.json()).containsEntry("reason", "denied");
          }
          default -> {
            HttpReply reply = client.send(get(origin.authority("private.test"), "/no" + path)).readResponse();
            assertThat(reply.status()).isEqualTo(403);
            assertThat(reply.json()).containsEntry("reason", "not_allowed");
          }
        }
      }
    }
    return allowed;
  }
}
