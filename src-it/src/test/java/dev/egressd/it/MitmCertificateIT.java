package dev.egressd.it;

import static dev.egressd.it.TestData.connect;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The certificates egressd presents inside intercepted tunnels, as a raw TLS client receives them: a short-lived
 * leaf for exactly the CONNECT host (DNS or IP subjectAltName), signed by the egressd CA, for server authentication
 * only, offering HTTP/1.1 only over ALPN.
 */
@Timeout(value = 60, unit = SECONDS)
class MitmCertificateIT {
  private static final String CONFIG = """
      [network]
      mode = "limited"
      mitm = true
      allowed_domains = ["allowed.test", "127.0.0.1"]
      mitm_upstream_ca_bundle = '%s'
      """.formatted(TestCertificates.get().caPem());
  private static final int SAN_DNS = 2;
  private static final int SAN_IP = 7;
  private static final String SERVER_AUTH = "1.3.6.1.5.5.7.3.1";

  @RegisterExtension
  static final OriginServer origin = OriginServer.https();

  @RegisterExtension
  static final Daemon egressd = Daemon.withConfig(CONFIG);

  /** CONNECT {@code host}:origin port, TLS with the egressd CA trusted and names checked; the served chain. */
  private static Certificate[] servedChain(String host) throws Exception {
    try (RawClient client = RawClient.connect(egressd.port())) {
      HttpReply established = client.send(connect(origin.authority(host))).readConnectResponse();
      assertThat(established.status()).as("%s", established).isEqualTo(200);
      client.startTls(TrustFiles.trusting(egressd.mitmCaCertificate()), host, origin.port());
      return client.tlsSession().getPeerCertificates();
    }
  }

  private static List<List<?>> subjectAltNames(X509Certificate certificate) throws Exception {
    Collection<List<?>> names = certificate.getSubjectAlternativeNames();
    return names == null ? List.of() : List.copyOf(names);
  }

  @Test
  void leafForAHostNameHasExactlyItsDnsNameAndIsSignedByTheEgressdCa() throws Exception {
    X509Certificate ca = TrustFiles.certificate(egressd.mitmCaCertificate());

    X509Certificate leaf = (X509Certificate) servedChain("allowed.test")[0];

    assertThat(subjectAltNames(leaf)).containsExactly(List.of(SAN_DNS, "allowed.test"));
    assertThat(leaf.getIssuerX500Principal()).isEqualTo(ca.getSubjectX500Principal());
    leaf.verify(ca.getPublicKey()); // throws unless the egressd CA signed it
    assertThat(leaf.getPublicKey()).isNotEqualTo(ca.getPublicKey());
  }

  @Test
  void leafForAnIpLiteralHasAnIpSubjectAltName() throws Exception {
    X509Certificate ca = TrustFiles.certificate(egressd.mitmCaCertificate());

    X509Certificate leaf = (X509Certificate) servedChain("127.0.0.1")[0];

    assertThat(subjectAltNames(leaf)).containsExactly(List.of(SAN_IP, "127.0.0.1"));
    leaf.verify(ca.getPublicKey());
  }

  @Test
  void leafIsShortLivedAndForServerAuthenticationOnly() throws Exception {
    Instant now = Instant.now();

    X509Certificate leaf = (X509Certificate) servedChain("allowed.test")[0];

    assertThat(leaf.getNotBefore().toInstant()).isBeforeOrEqualTo(now);
    assertThat(leaf.getNotAfter().toInstant()).isAfter(now)
        .as("valid for less than 8 days").isBefore(now.plus(Duration.ofDays(8)));
    assertThat(leaf.getExtendedKeyUsage()).containsExactly(SERVER_AUTH);
    assertThat(leaf.getBasicConstraints()).as("not a CA").isEqualTo(-1);
  }

  @Test
  void chainEndsWithTheEgressdCaNotTheOriginsCa() throws Exception {
    X509Certificate ca = TrustFiles.certificate(egressd.mitmCaCertificate());
    X509Certificate originCa = TrustFiles.certificate(TestCertificates.get().caPem());

    Certificate[] chain = servedChain("allowed.test");

    assertThat(chain).hasSizeBetween(1, 2);
    assertThat(chain[chain.length - 1]).isIn(chain[0], ca);
    assertThat(chain).doesNotContain(originCa);
    assertThat(origin.connectionCount()).as("the handshake alone does not dial the origin").isZero();
  }

  @Test
  void leafIsCachedPerHostAndEveryHostSharesOneLeafKey() throws Exception {
    X509Certificate first = (X509Certificate) servedChain("allowed.test")[0];
    X509Certificate again = (X509Certificate) servedChain("allowed.test")[0];
    X509Certificate other = (X509Certificate) servedChain("127.0.0.1")[0];

    assertThat(again).as("the cached leaf").isEqualTo(first);
    assertThat(other.getSerialNumber()).isNotEqualTo(first.getSerialNumber());
    assertThat(other.getPublicKey()).as("one shared leaf key pair").isEqualTo(first.getPublicKey());
  }

  @Test
  void alpnNegotiatesHttp11EvenWhenTheClientOffersH2() throws Exception {
    try (RawClient client = RawClient.connect(egressd.port())) {
      HttpReply established = client.send(connect(origin.authority("allowed.test"))).readConnectResponse();
      assertThat(established.status()).as("%s", established).isEqualTo(200);

      client.startTlsWithServerName(TrustFiles.trusting(egressd.mitmCaCertificate()), "allowed.test",
          "h2", "http/1.1");

      assertThat(client.applicationProtocol()).isEqualTo("http/1.1");
    }
  }

  @Test
  void curlHttp2OverTheInterceptionFallsBackToHttp11() throws Exception {
    ProcessResult curl = Curl.run("-x", egressd.url(), "--cacert", egressd.mitmCaCertificate().toString(),
        "--http2", "-o", "/dev/null", "-w", "%{http_code} %{http_version}", origin.url("allowed.test", "/h2"));

    assertThat(curl.exitCode()).as("%s", curl).isZero();
    assertThat(curl.stdout()).isEqualTo("200 1.1\n");
  }
}
