package dev.egressd.it;

import static dev.egressd.it.TestData.get;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Malformed or unsupported input on raw sockets: a 4xx/5xx, no upstream contact, and the daemon keeps serving. */
@Timeout(value = 60, unit = SECONDS)
class BadRequestIT {
  private static final String CONFIG = """
      [network]
      allowed_domains = ["allowed.test", "127.0.0.1"]
      denied_domains = ["denied.test"]
      """;

  @RegisterExtension
  static final OriginServer origin = OriginServer.http();

  @RegisterExtension
  static final Daemon egressd = Daemon.withConfig(CONFIG);

  /** Requests the proxy must refuse before any policy decision or dial. {@code %1$d} is the origin port. */
  enum Malformed {
    ORIGIN_FORM_TARGET("GET /path HTTP/1.1\r\nHost: allowed.test:%1$d\r\n\r\n", 400, null),
    HOST_HEADER_NAMES_ANOTHER_HOST(
        "GET http://allowed.test:%1$d/ HTTP/1.1\r\nHost: denied.test:%1$d\r\n\r\n", 400, "host-mismatch"),
    HOST_HEADER_NAMES_ANOTHER_PORT(
        "GET http://allowed.test:%1$d/ HTTP/1.1\r\nHost: allowed.test:1\r\n\r\n", 400, "host-mismatch"),
    TWO_HOST_HEADERS(
        "GET http://allowed.test:%1$d/ HTTP/1.1\r\nHost: allowed.test:%1$d\r\nHost: denied.test\r\n\r\n", 400, null),
    CONNECT_WITHOUT_PORT("CONNECT allowed.test HTTP/1.1\r\nHost: allowed.test\r\n\r\n", 400, null),
    CONNECT_PORT_ZERO("CONNECT allowed.test:0 HTTP/1.1\r\nHost: allowed.test:0\r\n\r\n", 400, null),
    CONNECT_PORT_ABOVE_65535("CONNECT allowed.test:65536 HTTP/1.1\r\nHost: allowed.test:65536\r\n\r\n", 400, null),
    CONNECT_BRACKETED_NAME("CONNECT [allowed.test]:%1$d HTTP/1.1\r\nHost: [allowed.test]:%1$d\r\n\r\n", 400, null),
    CONNECT_WITH_SCHEME("CONNECT http://allowed.test:%1$d HTTP/1.1\r\nHost: allowed.test:%1$d\r\n\r\n", 400, null),
    CONNECT_WITH_PATH("CONNECT allowed.test:%1$d/path HTTP/1.1\r\nHost: allowed.test:%1$d\r\n\r\n", 400, null),
    INVALID_HOST_CHARACTERS(
        "GET http://allowed!.test:%1$d/ HTTP/1.1\r\nHost: allowed!.test:%1$d\r\n\r\n", 400, "invalid-host"),
    EMPTY_HOST_LABEL("GET http://allowed..test:%1$d/ HTTP/1.1\r\nHost: allowed..test:%1$d\r\n\r\n", 400,
        "invalid-host"),
    PERCENT_ENCODED_HOST(
        "GET http://allowed%%2etest:%1$d/ HTTP/1.1\r\nHost: allowed%%2etest:%1$d\r\n\r\n", 400, "invalid-host"),
    CONFLICTING_CONTENT_LENGTHS("POST http://allowed.test:%1$d/ HTTP/1.1\r\nHost: allowed.test:%1$d\r\n"
        + "Content-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400, null),
    ABSOLUTE_URI_PORT_ZERO("GET http://allowed.test:0/ HTTP/1.1\r\nHost: allowed.test:0\r\n\r\n", 400, null),
    ABSOLUTE_URI_PORT_ABOVE_65535(
        "GET http://allowed.test:65536/ HTTP/1.1\r\nHost: allowed.test:65536\r\n\r\n", 400, null),
    CONTENT_LENGTH_WITH_CHUNKED("POST http://allowed.test:%1$d/ HTTP/1.1\r\nHost: allowed.test:%1$d\r\n"
        + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 400, null),
    UNIX_SOCKET_HEADER("GET http://allowed.test:%1$d/ HTTP/1.1\r\nHost: allowed.test:%1$d\r\n"
        + "x-unix-socket: /var/run/docker.sock\r\n\r\n", 501, null),
    OVERSIZED_HEADER("GET http://allowed.test:%1$d/ HTTP/1.1\r\nHost: allowed.test:%1$d\r\n"
        + "X-Big: " + "a".repeat(40_000) + "\r\n\r\n", 431, null),
    OVERSIZED_REQUEST_LINE("GET http://allowed.test:%1$d/" + "a".repeat(20_000) + " HTTP/1.1\r\n"
        + "Host: allowed.test:%1$d\r\n\r\n", 414, null);

    final String template;
    final int status;
    final String proxyError;

    Malformed(String template, int status, String proxyError) {
      this.template = template;
      this.status = status;
      this.proxyError = proxyError;
    }
  }

  @ParameterizedTest
  @EnumSource(Malformed.class)
  void malformedRequestIsRefusedWithoutContactingTheOrigin(Malformed request) throws Exception {
    try (RawClient client = RawClient.connect(egressd.port())) {
      HttpReply reply = client.send(String.format(request.template, origin.port())).readResponse();

      assertThat(reply.status()).as("%s", reply).isEqualTo(request.status);
      if (request.proxyError != null) {
        assertThat(reply.header("x-proxy-error")).isEqualTo(request.proxyError);
      }
      assertThat(reply.text()).doesNotContain("Exception");
    }
    assertThat(origin.connectionCount()).isZero();
    assertDaemonStillServes();
  }

  /**
   * Request targets where a careless parser sees allowed.test but the real host is denied.test (or the target is
   * not a valid URI at all). Both names resolve to the origin, so a forward of either would be counted.
   */
  @ParameterizedTest
  @ValueSource(strings = {
      "GET http://allowed.test:%1$d@denied.test:%1$d/ HTTP/1.1\r\nHost: denied.test:%1$d\r\n\r\n",
      "GET http://allowed.test:%1$d@denied.test:%1$d/ HTTP/1.1\r\nHost: allowed.test:%1$d\r\n\r\n",
      "GET http://denied.test:%1$d\\@allowed.test:%1$d/ HTTP/1.1\r\nHost: allowed.test:%1$d\r\n\r\n",
      "GET http://denied.test:%1$d#@allowed.test:%1$d/ HTTP/1.1\r\nHost: allowed.test:%1$d\r\n\r\n",
      "GET http://denied.test:%1$d?@allowed.test:%1$d/ HTTP/1.1\r\nHost: allowed.test:%1$d\r\n\r\n",
      "CONNECT allowed.test:%1$d@denied.test:%1$d HTTP/1.1\r\nHost: allowed.test:%1$d\r\n\r\n",
  })
  void targetHidingAnotherHostIsNeverForwarded(String template) throws Exception {
    try (RawClient client = RawClient.connect(egressd.port())) {
      HttpReply reply = client.send(String.format(template, origin.port())).readResponse();

      assertThat(reply.status()).as("%s", reply).isIn(400, 403);
    }
    assertThat(origin.connectionCount()).isZero();
    assertDaemonStillServes();
  }

  @Test
  void requestAfterAFewHundredBadOnesIsStillServed() throws Exception {
    for (int i = 0; i < 200; i++) {
      try (RawClient client = RawClient.connect(egressd.port())) {
        client.send("GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n").readResponse();
      }
    }
    assertDaemonStillServes();
    assertThat(egressd.process().isAlive()).isTrue();
  }

  private static void assertDaemonStillServes() throws IOException {
    try (RawClient client = RawClient.connect(egressd.port())) {
      HttpReply reply = client.send(get(origin.authority("allowed.test"), "/still-ok")).readResponse();
      assertThat(reply.status()).as("%s", reply).isEqualTo(200);
    }
  }
}
