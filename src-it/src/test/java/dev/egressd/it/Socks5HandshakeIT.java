package dev.egressd.it;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import dev.egressd.it.Socks5Client.Status;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * SOCKS5 method selection without configured credentials (RFC 1928 section 3), and what the listener does with
 * clients that do not speak SOCKS5 at all: close without a reply, log, and keep serving.
 */
@Timeout(value = 90, unit = SECONDS)
class Socks5HandshakeIT {
  private static final String CONFIG = """
      [network]
      allowed_domains = ["allowed.test", "127.0.0.1"]
      """;
  private static final Duration CLOSE = Duration.ofSeconds(10);

  @RegisterExtension
  static final OriginServer origin = OriginServer.http();

  @RegisterExtension
  static final Daemon egressd = Daemon.withConfig(CONFIG);

  @Test
  void noAuthenticationIsChosenWhenTheClientOffersIt() throws Exception {
    try (Socks5Client client = Socks5Client.connect(egressd.socksPort())) {
      int method = client.greet(Socks5Client.USERNAME_PASSWORD, Socks5Client.NO_AUTHENTICATION);

      assertThat(method).isEqualTo(Socks5Client.NO_AUTHENTICATION);
      assertTunnelWorks(client, "/no-auth");
    }
  }

  @Test
  void clientOfferingOnlyUsernamePasswordIsLetInWithAnyCredentials() throws Exception {
    try (Socks5Client client = Socks5Client.connect(egressd.socksPort())) {
      assertThat(client.greet(Socks5Client.USERNAME_PASSWORD)).isEqualTo(Socks5Client.USERNAME_PASSWORD);
      assertThat(client.authenticate("anyone", "anything")).as("RFC 1929 success").isZero();

      assertTunnelWorks(client, "/any-credentials");
    }
  }

  @Test
  void curlWithProxyCredentialsIsServedWhenNoneAreConfigured() throws Exception {
    Curl.Result curl = Curl.fetch("-x", "socks5h://someone:whatever@127.0.0.1:" + egressd.socksPort(),
        origin.url("allowed.test", "/curl-credentials"));

    assertThat(curl.exitCode()).as("%s", curl).isZero();
    assertThat(curl.reply().text()).isEqualTo("origin saw GET /curl-credentials body=0\n");
  }

  /** Method offers that include nothing the proxy accepts. */
  enum UnacceptableOffer {
    GSSAPI_ONLY(0x01),
    PRIVATE_METHOD_ONLY(0x80),
    SEVERAL_OTHER_METHODS(0x03, 0x7f, 0xfe);

    final int[] methods;

    UnacceptableOffer(int... methods) {
      this.methods = methods;
    }
  }

  @ParameterizedTest
  @EnumSource(UnacceptableOffer.class)
  void clientOfferingNoAcceptableMethodGetsFfAndIsClosed(UnacceptableOffer offer) throws Exception {
    try (Socks5Client client = Socks5Client.connect(egressd.socksPort())) {
      assertThat(client.greet(offer.methods)).isEqualTo(Socks5Client.NO_ACCEPTABLE_METHODS);
      assertThat(client.readUntilClosed(CLOSE)).isEmpty();
    }
    assertThat(origin.connectionCount()).isZero();
  }

  /** First bytes of clients that do not speak SOCKS5, or not well enough to get a method selection. */
  enum NotSocks5 {
    SOCKS4_CONNECT(new byte[] {0x04, 0x01, 0x00, 0x50, 127, 0, 0, 1, 'u', 's', 'e', 'r', 0}),
    SOCKS4A_CONNECT(new byte[] {0x04, 0x01, 0x00, 0x50, 0, 0, 0, 1, 'u', 0,
        'a', 'l', 'l', 'o', 'w', 'e', 'd', '.', 't', 'e', 's', 't', 0}),
    HTTP_REQUEST("GET http://allowed.test/ HTTP/1.1\r\nHost: allowed.test\r\n\r\n".getBytes(StandardCharsets.US_ASCII)),
    TLS_CLIENT_HELLO(new byte[] {0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00}),
    UNKNOWN_VERSION(new byte[] {0x06, 0x01, 0x00}),
    SOCKS5_GREETING_WITHOUT_METHODS(new byte[] {0x05, 0x00}),
    GARBAGE(garbage());

    final byte[] bytes;

    NotSocks5(byte[] bytes) {
      this.bytes = bytes;
    }

    /** Random bytes whose first byte, the version, is not 5. */
    private static byte[] garbage() {
      byte[] bytes = TestData.randomBytes(300);
      bytes[0] = (byte) 0xa7;
      return bytes;
    }
  }

  @ParameterizedTest
  @EnumSource(NotSocks5.class)
  void clientThatDoesNotSpeakSocks5IsClosedWithoutAReplyAndTheProxyKeepsServing(NotSocks5 notSocks5)
      throws Exception {
    try (Socks5Client client = Socks5Client.connect(egressd.socksPort())) {
      client.send(notSocks5.bytes);

      assertThat(client.readUntilClosed(CLOSE)).as("no reply bytes at all").isEmpty();
    }
    egressd.awaitStderr("not a SOCKS5 client");
    assertThat(origin.connectionCount()).isZero();
    try (Socks5Client client = Socks5Client.connect(egressd.socksPort())) {
      client.greet(Socks5Client.NO_AUTHENTICATION);
      assertTunnelWorks(client, "/still-serving");
    }
    assertThat(egressd.process().isAlive()).isTrue();
  }

  @Test
  void clientThatHangsUpInTheMiddleOfTheGreetingDoesNotDisturbOthers() throws Exception {
    try (Socks5Client client = Socks5Client.connect(egressd.socksPort())) {
      client.send(new byte[] {0x05, 0x03, 0x00});
    }
    Curl.Result curl = Curl.fetch("--socks5-hostname", "127.0.0.1:" + egressd.socksPort(),
        origin.url("allowed.test", "/after-hang-up"));

    assertThat(curl.exitCode()).as("%s", curl).isZero();
  }

  private static void assertTunnelWorks(Socks5Client client, String path) throws Exception {
    Socks5Client.Reply reply = client.request(Socks5Client.CONNECT,
        Socks5Address.domain("allowed.test", origin.port()));
    assertThat(reply.status()).as("%s", reply).isEqualTo(Status.SUCCEEDED);
    assertThat(client.httpGet(origin.authority("allowed.test"), path))
        .endsWith("origin saw GET " + path + " body=0\n");
  }
}
