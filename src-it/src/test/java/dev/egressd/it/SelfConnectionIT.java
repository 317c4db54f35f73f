package dev.egressd.it;

import static dev.egressd.it.TestData.connect;
import static dev.egressd.it.TestData.get;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * With loopback allowed, a request aimed at the proxy's own listener must be refused rather than tunnelled into
 * itself (each nested CONNECT would cost two more sockets).
 */
@Timeout(value = 60, unit = SECONDS)
class SelfConnectionIT {
  private static final String CONFIG = """
      [network]
      allowed_domains = ["allowed.test", "127.0.0.1"]
      """;

  @RegisterExtension
  static final OriginServer origin = OriginServer.http();

  @RegisterExtension
  static final Daemon egressd = Daemon.withConfig(CONFIG);

  @Test
  void connectToTheProxyItselfIsRefused() throws Exception {
    try (RawClient client = RawClient.connect(egressd.port())) {
      HttpReply reply = client.send(connect("127.0.0.1:" + egressd.port())).readConnectResponse();

      assertThat(reply.status()).as("%s", reply).isEqualTo(403);
      assertThat(reply.header("x-proxy-error")).isEqualTo("blocked-by-policy");
    }
  }

  @Test
  void connectToTheProxyByAnAllowedNameIsRefused() throws Exception {
    try (RawClient client = RawClient.connect(egressd.port())) {
      HttpReply reply = client.send(connect("allowed.test:" + egressd.port())).readConnectResponse();

      assertThat(reply.status()).as("%s", reply).isEqualTo(403);
      assertThat(reply.header("x-proxy-error")).isEqualTo("blocked-by-policy");
    }
  }

  @Test
  void plainRequestToTheProxyItselfIsRefused() throws Exception {
    try (RawClient client = RawClient.connect(egressd.port())) {
      HttpReply reply = client.send(get("127.0.0.1:" + egressd.port(), "/")).readResponse();

      assertThat(reply.status()).as("%s", reply).isEqualTo(403);
      assertThat(reply.json()).containsEntry("reason", "proxy_loop");
    }
    try (RawClient client = RawClient.connect(egressd.port())) {
      assertThat(client.send(get(origin.authority("allowed.test"), "/")).readResponse().status()).isEqualTo(200);
    }
  }
}
