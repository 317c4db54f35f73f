package dev.egressd.it;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import dev.egressd.it.Socks5Client.Reply;
import dev.egressd.it.Socks5Client.Status;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * mode = "limited" on the SOCKS5 listener: a SOCKS5 tunnel cannot be checked for methods, so TCP is refused
 * ({@code method_not_allowed}, or {@code mitm_required} on port 443 while there is no TLS interception) and UDP
 * datagrams are dropped.
 */
@Timeout(value = 60, unit = SECONDS)
class Socks5LimitedModeIT {
  private static final String CONFIG = """
      [network]
      mode = "limited"
      allowed_domains = ["allowed.test", "127.0.0.1"]
      """;

  @RegisterExtension
  static final OriginServer origin = OriginServer.http();

  @RegisterExtension
  static final UdpEchoServer echo = new UdpEchoServer();

  @RegisterExtension
  static final Daemon egressd = Daemon.withConfig(CONFIG);

  @Test
  void curlSocks5hToAnAllowedHostIsRefusedMethodNotAllowed() throws Exception {
    Curl.Result curl = Curl.fetch("--socks5-hostname", "127.0.0.1:" + egressd.socksPort(),
        origin.url("allowed.test", "/"));

    assertThat(curl.exitCode()).as("CURLE_PROXY\n%s", curl).isEqualTo(97);
    assertThat(origin.connectionCount()).isZero();
    egressd.awaitStderr("decision=deny", "reason=method_not_allowed", "protocol=socks5_tcp", "host=allowed.test",
        "port=" + origin.port());
  }

  @Test
  void connectToAnAllowedIpIsRefusedMethodNotAllowed() throws Exception {
    try (Socks5Client client = Socks5Client.connect(egressd.socksPort())) {
      Reply reply = client.connectTo(Socks5Address.ipv4("127.0.0.1", origin.port()));

      assertThat(reply.status()).as("%s", reply).isEqualTo(Status.NOT_ALLOWED_BY_RULESET);
    }
    assertThat(origin.connectionCount()).isZero();
    egressd.awaitStderr("decision=deny", "reason=method_not_allowed", "protocol=socks5_tcp", "host=127.0.0.1");
  }

  @Test
  void connectToPort443IsRefusedMitmRequired() throws Exception {
    try (Socks5Client client = Socks5Client.connect(egressd.socksPort())) {
      Reply reply = client.connectTo(Socks5Address.domain("allowed.test", 443));

      assertThat(reply.status()).as("%s", reply).isEqualTo(Status.NOT_ALLOWED_BY_RULESET);
    }
    egressd.awaitStderr("decision=deny", "reason=mitm_required", "protocol=socks5_tcp", "host=allowed.test",
        "port=443");
  }

  @Test
  void udpDatagramsToAnAllowedHostAreDropped() throws Exception {
    try (Socks5Client control = Socks5Client.connect(egressd.socksPort());
        Socks5UdpSocket udp = Socks5UdpSocket.open()) {
      assertThat(control.greet(Socks5Client.NO_AUTHENTICATION)).isEqualTo(Socks5Client.NO_AUTHENTICATION);
      Reply association = control.request(Socks5Client.UDP_ASSOCIATE, Socks5Address.unspecified());
      assertThat(association.status()).as("%s", association).isEqualTo(Status.SUCCEEDED);

      udp.send(Socks5Datagram.of(Socks5Address.domain("allowed.test", echo.port()), "limited-by-name"),
          association.boundSocket());
      udp.send(Socks5Datagram.of(Socks5Address.ipv4("127.0.0.1", echo.port()), "limited-by-ip"),
          association.boundSocket());

      egressd.awaitStderr("decision=deny", "reason=method_not_allowed", "protocol=socks5_udp", "host=allowed.test");
      egressd.awaitStderr("decision=deny", "reason=method_not_allowed", "protocol=socks5_udp", "host=127.0.0.1");
      assertThat(udp.receive(Duration.ofSeconds(1))).as("no echo").isEmpty();
    }
    assertThat(echo.received()).as("the echo server received nothing").isEmpty();
  }
}
