package dev.egressd.it;

import static dev.egressd.it.TestData.connect;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import javax.net.ssl.SSLException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * How an intercepted tunnel starts, as real clients start it: a ClientHello split into many small reads, a
 * ClientHello sent right behind the CONNECT before the {@code 200}, an SNI in other letter case, and clients that
 * never finish the handshake (bounded by the handshake deadline, about 10 s).
 */
@Timeout(value = 90, unit = SECONDS)
class MitmClientHelloIT {
  private static final String CONFIG = """
      [network]
      mode = "limited"
      mitm = true
      allowed_domains = ["allowed.test", "127.0.0.1"]
      mitm_upstream_ca_bundle = '%s'
      """.formatted(TestCertificates.get().caPem());
  /** The handshake deadline is about 10 s; allow for a slow machine. */
  private static final int DEADLINE_MILLIS = 20_000;

  @RegisterExtension
  static final OriginServer origin = OriginServer.https();

  @RegisterExtension
  static final Daemon egressd = Daemon.withConfig(CONFIG);

  private static String get(String path) {
    return "GET " + path + " HTTP/1.1\r\nHost: " + origin.authority("allowed.test") + "\r\n\r\n";
  }

  @Test
  void clientHelloArrivingOneByteAtATimeIsIntercepted() throws Exception {
    ShapedSocket socket = ShapedSocket.connect(egressd.port());
    try (RawClient client = RawClient.over(socket)) {
      HttpReply established = client.send(connect(origin.authority("allowed.test"))).readConnectResponse();
      assertThat(established.status()).as("%s", established).isEqualTo(200);
      socket.dribbleNext(64, Duration.ofMillis(5));

      client.startTls(TrustFiles.trusting(egressd.mitmCaCertificate()), "allowed.test", origin.port());
      HttpReply reply = client.send(get("/dribbled")).readResponse();

      assertThat(socket.dribbleLeft()).as("the TLS layer wrote through the shaped socket").isZero();
      assertThat(reply.text()).isEqualTo("origin saw GET /dribbled body=0\n");
    }
  }

  @Test
  void clientHelloSentBeforeThe200IsIntercepted() throws Exception {
    ShapedSocket socket = ShapedSocket.connect(egressd.port());
    try (RawClient client = RawClient.over(socket)) {
      socket.skipConnectResponse();
      client.send(connect(origin.authority("allowed.test")));

      // The ClientHello leaves at once; the TLS layer reads only after the 200 head has been consumed.
      client.startTls(TrustFiles.trusting(egressd.mitmCaCertificate()), "allowed.test", origin.port());
      HttpReply reply = client.send(get("/pipelined")).readResponse();

      assertThat(socket.skippedStatusLine()).startsWith("HTTP/1.1 200");
      assertThat(reply.text()).isEqualTo("origin saw GET /pipelined body=0\n");
    }
  }

  @Test
  void sniInOtherLetterCaseIsTheSameHost() throws Exception {
    try (RawClient client = RawClient.connect(egressd.port())) {
      HttpReply established = client.send(connect(origin.authority("allowed.test"))).readConnectResponse();
      assertThat(established.status()).as("%s", established).isEqualTo(200);

      client.startTlsWithServerName(TrustFiles.trusting(egressd.mitmCaCertificate()), "ALLOWED.Test");
      X509Certificate leaf = (X509Certificate) client.tlsSession().getPeerCertificates()[0];
      HttpReply reply = client.send(get("/case")).readResponse();

      assertThat(leaf.getSubjectAlternativeNames()).containsExactly(List.of(2, "allowed.test"));
      assertThat(reply.status()).as("%s", reply).isEqualTo(200);
    }
  }

  @Test
  void clientWithoutSniGetsTheLeafForTheConnectHost() throws Exception {
    try (RawClient client = RawClient.connect(egressd.port())) {
      HttpReply established = client.send(connect(origin.authority("allowed.test"))).readConnectResponse();
      assertThat(established.status()).as("%s", established).isEqualTo(200);

      client.startTlsWithServerName(TrustFiles.trusting(egressd.mitmCaCertificate()), null);
      X509Certificate leaf = (X509Certificate) client.tlsSession().getPeerCertificates()[0];
      HttpReply reply = client.send(get("/no-sni")).readResponse();

      assertThat(leaf.getSubjectAlternativeNames()).containsExactly(List.of(2, "allowed.test"));
      assertThat(reply.text()).isEqualTo("origin saw GET /no-sni body=0\n");
    }
  }

  @Test
  void sniNamingAHostInATunnelToAnIpLiteralIsRefused() throws Exception {
    try (RawClient client = RawClient.connect(egressd.port())) {
      HttpReply established = client.send(connect(origin.authority("127.0.0.1"))).readConnectResponse();
      assertThat(established.status()).as("%s", established).isEqualTo(200);

      assertThatThrownBy(() -> client.startTlsWithServerName(TrustFiles.trusting(egressd.mitmCaCertificate()),
          "allowed.test")).isInstanceOf(SSLException.class);
    }
    assertThat(origin.connectionCount()).isZero();
    egressd.awaitStderr("decision=deny", "reason=host_mismatch", "protocol=https ", "host=127.0.0.1");
  }

  @Test
  void connectHostInOtherLetterCaseGetsALeafForTheCanonicalName() throws Exception {
    try (RawClient client = RawClient.connect(egressd.port())) {
      HttpReply established = client.send(connect(origin.authority("Allowed.TEST"))).readConnectResponse();
      assertThat(established.status()).as("%s", established).isEqualTo(200);

      client.startTls(TrustFiles.trusting(egressd.mitmCaCertificate()), "allowed.test", origin.port());
      HttpReply reply = client.send(get("/connect-case")).readResponse();

      assertThat(reply.status()).as("%s", reply).isEqualTo(200);
    }
  }

  @Test
  void hostHeaderInOtherLetterCaseIsTheSameHost() throws Exception {
    try (RawClient client = RawClient.connect(egressd.port())) {
      HttpReply established = client.send(connect(origin.authority("allowed.test"))).readConnectResponse();
      assertThat(established.status()).as("%s", established).isEqualTo(200);
      client.startTls(TrustFiles.trusting(egressd.mitmCaCertificate()), "allowed.test", origin.port());

      HttpReply reply = client.send("GET /host-case HTTP/1.1\r\nHost: ALLOWED.test:" + origin.port() + "\r\n\r\n")
          .readResponse();

      assertThat(reply.status()).as("%s", reply).isEqualTo(200);
    }
  }

  @Test
  void silentClientIsClosedAtTheHandshakeDeadline() throws Exception {
    try (RawClient client = RawClient.connect(egressd.port())) {
      HttpReply established = client.send(connect(origin.authority("allowed.test"))).readConnectResponse();
      assertThat(established.status()).as("%s", established).isEqualTo(200);

      assertThat(client.closedByPeer(DEADLINE_MILLIS)).as("closed within %d ms", DEADLINE_MILLIS).isTrue();
    }
    assertThat(origin.connectionCount()).isZero();
  }

  @Test
  void clientThatStallsInsideItsClientHelloIsClosedAtTheHandshakeDeadline() throws Exception {
    try (RawClient client = RawClient.connect(egressd.port())) {
      HttpReply established = client.send(connect(origin.authority("allowed.test"))).readConnectResponse();
      assertThat(established.status()).as("%s", established).isEqualTo(200);

      // A TLS handshake record header announcing 512 bytes, and the first 4 of them.
      client.send(new byte[] {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, (byte) 0xfc});

      assertThat(client.closedByPeer(DEADLINE_MILLIS)).as("closed within %d ms", DEADLINE_MILLIS).isTrue();
    }
    assertThat(origin.connectionCount()).isZero();
  }
}
