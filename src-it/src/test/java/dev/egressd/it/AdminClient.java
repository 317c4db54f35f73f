package dev.egressd.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;

/** GET requests to a daemon's admin listener, with a Host header the test chooses. */
final class AdminClient {
  private final int port;

  AdminClient(int port) {
    this.port = port;
  }

  /** {@code GET PATH} with {@code Host: 127.0.0.1:PORT}. */
  HttpReply get(String path) throws IOException {
    return get(path, "127.0.0.1:" + port);
  }

  /** {@code GET PATH} with the given Host header, on a new connection. */
  HttpReply get(String path, String host) throws IOException {
    try (RawClient client = RawClient.connect(port)) {
      return client.send("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n")
          .readResponse();
    }
  }

  /** Scrapes {@code /metrics}, checks the answer is 200 Prometheus text, and parses it strictly. */
  PrometheusText metrics() throws IOException {
    HttpReply reply = get("/metrics");
    assertThat(reply.status()).as("%s", reply).isEqualTo(200);
    assertThat(reply.header("Content-Type")).startsWith("text/plain").contains("version=0.0.4");
    return PrometheusText.parse(reply.text());
  }
}
