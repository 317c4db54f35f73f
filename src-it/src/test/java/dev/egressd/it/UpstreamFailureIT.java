package dev.egressd.it;

import static dev.egressd.it.TestData.connect;
import static dev.egressd.it.TestData.get;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Allowed requests whose upstream cannot be reached: a 502 naming the cause, never a stack trace. */
@Timeout(value = 60, unit = SECONDS)
class UpstreamFailureIT {
  private static final String CONFIG = """
      [network]
      allowed_domains = ["allowed.test", "nowhere.test", "127.0.0.1"]
      """;

  @RegisterExtension
  static final OriginServer origin = OriginServer.http();

  @RegisterExtension
  static final Daemon egressd = Daemon.withConfig(CONFIG);

  /** Ways an allowed destination can be unreachable. */
  enum Unreachable {
    /** allowed.test resolves to 127.0.0.1, but nothing listens on the port. */
    CONNECTION_REFUSED("allowed.test", 502, "upstream-connect-refused"),
    /** nowhere.test is allowed but absent from the hosts file. */
    NAME_DOES_NOT_RESOLVE("nowhere.test", 502, "dns-failure");

    final String host;
    final int status;
    final String proxyError;

    Unreachable(String host, int status, String proxyError) {
      this.host = host;
      this.status = status;
      this.proxyError = proxyError;
    }
  }

  @ParameterizedTest
  @EnumSource(Unreachable.class)
  void plainRequestGetsA502NamingTheCause(Unreachable trouble) throws Exception {
    String authority = trouble.host + ":" + TestData.closedPort();
    try (RawClient client = RawClient.connect(egressd.port())) {
      HttpReply reply = client.send(get(authority, "/")).readResponse();

      assertThat(reply.status()).as("%s", reply).isEqualTo(trouble.status);
      assertThat(reply.header("x-proxy-error")).isEqualTo(trouble.proxyError);
      assertThat(reply.header("Content-Type")).startsWith("text/plain");
      assertNoStackTrace(reply);
    }
  }

  @ParameterizedTest
  @EnumSource(Unreachable.class)
  void connectGetsA502NamingTheCause(Unreachable trouble) throws Exception {
    String authority = trouble.host + ":" + TestData.closedPort();
    try (RawClient client = RawClient.connect(egressd.port())) {
      HttpReply reply = client.send(connect(authority)).readConnectResponse();

      assertThat(reply.status()).as("%s", reply).isEqualTo(trouble.status);
      assertThat(reply.header("x-proxy-error")).isEqualTo(trouble.proxyError);
      assertNoStackTrace(reply);
    }
  }

  @Test
  void curlReportsTheRefusedTunnel() throws IOException {
    ProcessResult curl = Curl.run("-v", "-x", egressd.url(), "https://allowed.test:" + TestData.closedPort() + "/");

    assertThat(curl.exitCode()).as("%s", curl).isEqualTo(56);
    assertThat(curl.stderr()).contains("< HTTP/1.1 502")
        .containsIgnoringCase("< x-proxy-error: upstream-connect-refused");
  }

  @Test
  void originClosingWithoutAnAnswerGetsA502() throws Exception {
    origin.respond("/hang-up", new OriginResponse.Disconnect());
    try (RawClient client = RawClient.connect(egressd.port())) {
      HttpReply reply = client.send(get(origin.authority("allowed.test"), "/hang-up")).readResponse();

      assertThat(reply.status()).as("%s", reply).isEqualTo(502);
      assertThat(reply.header("x-proxy-error")).isNotBlank();
      assertNoStackTrace(reply);
    }
    assertThat(origin.requestCount()).isEqualTo(1);
  }

  @Test
  void proxyKeepsServingAfterUpstreamFailures() throws Exception {
    try (RawClient client = RawClient.connect(egressd.port())) {
      client.send(get("allowed.test:" + TestData.closedPort(), "/")).readResponse();
    }
    try (RawClient client = RawClient.connect(egressd.port())) {
      HttpReply reply = client.send(get(origin.authority("allowed.test"), "/after")).readResponse();

      assertThat(reply.status()).isEqualTo(200);
    }
  }

  private static void assertNoStackTrace(HttpReply reply) {
    assertThat(reply.text()).isNotBlank().doesNotContain("Exception").doesNotContain("\tat ");
  }
}
