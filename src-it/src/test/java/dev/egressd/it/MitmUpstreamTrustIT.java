package dev.egressd.it;

import static dev.egressd.it.TestData.connect;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The upstream half of an intercepted tunnel: egressd verifies the origin's certificate chain and name against the
 * JDK roots plus {@code mitm_upstream_ca_bundle}, never trusting all. A failed verification is a 502
 * {@code upstream-tls-failure} with a text reason, and the origin sees a TLS handshake attempt but no request.
 */
@Timeout(value = 60, unit = SECONDS)
class MitmUpstreamTrustIT {
  private static final String LIMITED_MITM = """
      [network]
      mode = "limited"
      mitm = true
      allowed_domains = ["allowed.test", "127.0.0.1"]
      """;

  /** Signed by the test CA for allowed.test and 127.0.0.1. */
  @RegisterExtension
  static final OriginServer trusted = OriginServer.https();

  /** Signed for allowed.test and 127.0.0.1 by a CA that is in no bundle. */
  @RegisterExtension
  static final OriginServer untrusted = OriginServer.https(TestCertificates.untrusted());

  /** Signed by the test CA, but for wrong-name.test only. */
  @RegisterExtension
  static final OriginServer wrongName = OriginServer.https(TestCertificates.wrongName());

  /** Signed by the test CA for the right names, but expired. */
  @RegisterExtension
  static final OriginServer expired = OriginServer.https(TestCertificates.expired());

  /** Speaks plain HTTP where egressd expects TLS. */
  @RegisterExtension
  static final OriginServer plain = OriginServer.http();

  @RegisterExtension
  static final Daemon egressd = Daemon.withConfig(LIMITED_MITM
      + "mitm_upstream_ca_bundle = '" + TestCertificates.get().caPem() + "'\n");

  /** The same daemon without the extra bundle: only the JDK's roots. */
  @RegisterExtension
  static final Daemon withoutBundle = Daemon.withConfig(LIMITED_MITM);

  /**
   * The bundle given relative to the config file's directory: both are temporary directories side by side, and the
   * daemon's working directory is elsewhere, so only resolution against the config file finds it.
   */
  @RegisterExtension
  static final Daemon relativeBundle = Daemon.withConfig(LIMITED_MITM + "mitm_upstream_ca_bundle = '../"
      + TestCertificates.get().caPem().getParent().getFileName() + "/ca.pem'\n");

  private static Curl.Result fetchThrough(Daemon daemon, OriginServer origin, String host) throws Exception {
    return Curl.fetch("-x", daemon.url(), "--cacert", daemon.mitmCaCertificate().toString(),
        origin.url(host, "/upstream"));
  }

  private static void assertUpstreamTlsFailure(Curl.Result curl) {
    assertThat(curl.exitCode()).as("%s", curl).isZero();
    assertThat(curl.reply().status()).as("%s", curl).isEqualTo(502);
    assertThat(curl.reply().header("x-proxy-error")).isEqualTo("upstream-tls-failure");
    assertThat(curl.reply().header("Content-Type")).startsWith("text/plain");
    assertThat(curl.reply().text()).contains("upstream TLS verification failed:");
  }

  @Test
  void originSignedByTheConfiguredBundleIsReached() throws Exception {
    Curl.Result curl = fetchThrough(egressd, trusted, "allowed.test");

    assertThat(curl.exitCode()).as("%s", curl).isZero();
    assertThat(curl.reply().status()).isEqualTo(200);
    assertThat(curl.reply().text()).isEqualTo("origin saw GET /upstream body=0\n");
  }

  @Test
  void upstreamHandshakeSendsTheTunnelHostAsSni() throws Exception {
    Curl.Result byName = fetchThrough(egressd, trusted, "allowed.test");
    Curl.Result byAddress = fetchThrough(egressd, trusted, "127.0.0.1");

    assertThat(byName.reply().status()).as("%s", byName).isEqualTo(200);
    assertThat(byAddress.reply().status()).as("%s", byAddress).isEqualTo(200);
    assertThat(trusted.serverNames()).as("SNI for a name; none for an IP literal (RFC 6066)")
        .containsExactly("allowed.test", "");
  }

  @Test
  void originSignedByAnUntrustedCaGets502AndSeesNoRequest() throws Exception {
    Curl.Result curl = fetchThrough(egressd, untrusted, "allowed.test");

    assertUpstreamTlsFailure(curl);
    assertThat(curl.reply().text()).containsIgnoringCase("certification path");
    assertThat(untrusted.connectionCount()).as("a TLS handshake was attempted").isEqualTo(1);
    assertThat(untrusted.requestCount()).isZero();
    egressd.awaitStderr("upstream_failure", "cause=upstream_tls", "protocol=https ", "host=allowed.test",
        "port=" + untrusted.port());
  }

  @Test
  void originWithACertificateForAnotherNameGets502AndSeesNoRequest() throws Exception {
    Curl.Result curl = fetchThrough(egressd, wrongName, "allowed.test");

    assertUpstreamTlsFailure(curl);
    assertThat(curl.reply().text()).containsIgnoringCase("allowed.test");
    assertThat(wrongName.connectionCount()).as("a TLS handshake was attempted").isEqualTo(1);
    assertThat(wrongName.requestCount()).isZero();
    egressd.awaitStderr("upstream_failure", "cause=upstream_tls", "host=allowed.test", "port=" + wrongName.port());
  }

  @Test
  void originReachedByIpLiteralWithoutAnIpSubjectAltNameGets502() throws Exception {
    Curl.Result curl = fetchThrough(egressd, wrongName, "127.0.0.1");

    assertUpstreamTlsFailure(curl);
    assertThat(wrongName.requestCount()).isZero();
  }

  @Test
  void originWithAnExpiredCertificateGets502AndSeesNoRequest() throws Exception {
    Curl.Result curl = fetchThrough(egressd, expired, "allowed.test");

    assertUpstreamTlsFailure(curl);
    assertThat(expired.connectionCount()).as("a TLS handshake was attempted").isEqualTo(1);
    assertThat(expired.requestCount()).isZero();
  }

  @Test
  void originThatDoesNotSpeakTlsGets502AndSeesNoRequest() throws Exception {
    // The tunnel is intercepted (the client speaks TLS to egressd), but the origin answers TLS with plain HTTP.
    Curl.Result curl = Curl.fetch("-x", egressd.url(), "--cacert", egressd.mitmCaCertificate().toString(),
        "https://" + plain.authority("allowed.test") + "/plain");

    assertUpstreamTlsFailure(curl);
    assertThat(plain.connectionCount()).isEqualTo(1);
    assertThat(plain.requestCount()).as("a ClientHello is no HTTP request").isZero();
  }

  @Test
  void originThatAnswersWithNonTlsBytesGets502WithoutEchoingThem() throws Exception {
    // An SSH-style banner where a ServerHello belongs: Netty's exception would hex-dump it into the message.
    try (ServerSocket banner = new ServerSocket(0, 10, InetAddress.getLoopbackAddress())) {
      Thread server = new Thread(() -> {
        try (Socket socket = banner.accept()) {
          socket.getOutputStream().write("SSH-2.0-secret-banner-1234567890\r\n".getBytes(StandardCharsets.US_ASCII));
          socket.getInputStream().readAllBytes();
        } catch (IOException e) {
          // the proxy closed first
        }
      });
      server.start();
      Curl.Result curl = Curl.fetch("-x", egressd.url(), "--cacert", egressd.mitmCaCertificate().toString(),
          "https://allowed.test:" + banner.getLocalPort() + "/banner");

      assertUpstreamTlsFailure(curl);
      assertThat(curl.reply().text()).contains("the origin did not answer with TLS")
          .doesNotContain("secret-banner").doesNotContain("5353482d"); // "SSH-" in hex
      server.join(10_000);
    }
  }

  @Test
  void rawClientGets502WithTheReasonForAnUntrustedOrigin() throws Exception {
    String authority = untrusted.authority("allowed.test");
    try (RawClient client = RawClient.connect(egressd.port())) {
      HttpReply established = client.send(connect(authority)).readConnectResponse();
      assertThat(established.status()).as("%s", established).isEqualTo(200);
      client.startTls(TrustFiles.trusting(egressd.mitmCaCertificate()), "allowed.test", untrusted.port());

      HttpReply reply = client.send("GET /raw HTTP/1.1\r\nHost: " + authority + "\r\n\r\n").readResponse();

      assertThat(reply.status()).as("%s", reply).isEqualTo(502);
      assertThat(reply.header("x-proxy-error")).isEqualTo("upstream-tls-failure");
      assertThat(reply.text()).isNotBlank();
    }
    assertThat(untrusted.requestCount()).isZero();
  }

  @Test
  void relativeBundlePathIsResolvedAgainstTheConfigFile() throws Exception {
    Curl.Result curl = fetchThrough(relativeBundle, trusted, "allowed.test");

    assertThat(curl.exitCode()).as("%s", curl).isZero();
    assertThat(curl.reply().status()).as("%s", curl).isEqualTo(200);
  }

  @Test
  void testCaIsTrustedOnlyThroughTheBundleNotByTheJdkRoots() throws Exception {
    Curl.Result curl = fetchThrough(withoutBundle, trusted, "allowed.test");

    assertUpstreamTlsFailure(curl);
    assertThat(trusted.connectionCount()).isEqualTo(1);
    assertThat(trusted.requestCount()).isZero();
  }
}
