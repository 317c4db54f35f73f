package dev.egressd.it;

import static dev.egressd.it.TestData.connect;
import static dev.egressd.it.TestData.get;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** mode = "limited": only GET, HEAD and OPTIONS on plain HTTP; CONNECT needs MITM, which does not exist yet. */
@Timeout(value = 60, unit = SECONDS)
class LimitedModeIT {
  private static final String CONFIG = """
      [network]
      mode = "limited"
      allowed_domains = ["allowed.test", "127.0.0.1"]
      denied_domains = ["denied.test"]
      """;

  @RegisterExtension
  static final OriginServer http = OriginServer.http();

  @RegisterExtension
  static final OriginServer https = OriginServer.https();

  @RegisterExtension
  static final Daemon egressd = Daemon.withConfig(CONFIG);

  @ParameterizedTest
  @ValueSource(strings = {"GET", "HEAD", "OPTIONS"})
  void readOnlyMethodIsForwarded(String method) throws Exception {
    try (RawClient client = RawClient.connect(egressd.port())) {
      client.send(TestData.request(method, http.authority("allowed.test"), "/read"));
      HttpReply reply = method.equals("HEAD") ? client.readHeadResponse() : client.readResponse();

      assertThat(reply.status()).as("%s", reply).isEqualTo(200);
    }
    assertThat(http.onlyRequest().method()).isEqualTo(method);
  }

  @ParameterizedTest
  @ValueSource(strings = {"POST", "PUT", "PATCH", "DELETE"})
  void writeMethodGets403MethodPolicy(String method) throws Exception {
    String authority = http.authority("allowed.test");
    try (RawClient client = RawClient.connect(egressd.port())) {
      HttpReply reply = client.send(method + " http://" + authority + "/write HTTP/1.1\r\nHost: " + authority
          + "\r\nContent-Length: 5\r\n\r\nhello").readResponse();

      assertThat(reply.status()).as("%s", reply).isEqualTo(403);
      assertThat(reply.header("x-proxy-error")).isEqualTo("blocked-by-method-policy");
      assertThat(reply.json()).containsEntry("reason", "method_not_allowed").containsEntry("host", "allowed.test");
    }
    assertThat(http.connectionCount()).isZero();
    egressd.awaitStderr("decision=deny", "reason=method_not_allowed", "method=" + method);
  }

  @Test
  void curlPostGets403MethodPolicy() {
    Curl.Result curl = Curl.fetch("-x", egressd.url(), "-d", "x=1", http.url("allowed.test", "/form"));

    assertThat(curl.reply().status()).as("%s", curl).isEqualTo(403);
    assertThat(curl.reply().header("x-proxy-error")).isEqualTo("blocked-by-method-policy");
    assertThat(http.connectionCount()).isZero();
  }

  @Test
  void upgradeRequestIsRefused() throws Exception {
    String authority = http.authority("allowed.test");
    try (RawClient client = RawClient.connect(egressd.port())) {
      HttpReply reply = client.send("GET http://" + authority + "/ws HTTP/1.1\r\nHost: " + authority
          + "\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
          + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n").readResponse();

      assertThat(reply.status()).as("%s", reply).isEqualTo(403);
      assertThat(reply.header("x-proxy-error")).isEqualTo("blocked-by-method-policy");
    }
    assertThat(http.connectionCount()).isZero();
  }

  @Test
  void connectGets403MitmRequired() throws Exception {
    try (RawClient client = RawClient.connect(egressd.port())) {
      HttpReply reply = client.send(connect(https.authority("allowed.test"))).readConnectResponse();

      assertThat(reply.status()).as("%s", reply).isEqualTo(403);
      assertThat(reply.header("x-proxy-error")).isEqualTo("blocked-by-mitm-required");
      assertThat(reply.header("Content-Type")).startsWith("text/plain");
    }
    assertThat(https.connectionCount()).isZero();
  }

  @Test
  void curlHttpsFailsWithTheMitmRequired403() {
    ProcessResult curl = Curl.run("-v", "-x", egressd.url(), "--cacert", TestCertificates.get().caPem().toString(),
        https.url("allowed.test", "/"));

    assertThat(curl.exitCode()).as("%s", curl).isEqualTo(56);
    assertThat(curl.stderr()).contains("< HTTP/1.1 403")
        .containsIgnoringCase("< x-proxy-error: blocked-by-mitm-required");
    assertThat(https.connectionCount()).isZero();
  }

  @Test
  void deniedHostIsDeniedBeforeTheMethodIsConsidered() throws Exception {
    try (RawClient client = RawClient.connect(egressd.port())) {
      HttpReply reply = client.send(get(http.authority("denied.test"), "/")).readResponse();

      assertThat(reply.status()).isEqualTo(403);
      assertThat(reply.header("x-proxy-error")).isEqualTo("blocked-by-denylist");
      assertThat(reply.json()).containsEntry("reason", "denied");
    }
    assertThat(http.connectionCount()).isZero();
  }
}
