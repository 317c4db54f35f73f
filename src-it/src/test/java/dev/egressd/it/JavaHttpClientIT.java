package dev.egressd.it;

import static dev.egressd.it.TestData.randomBytes;
import static dev.egressd.it.TestData.sha256;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.ProxySelector;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * java.net.http.HttpClient configured with {@code ProxySelector.of(egressd)}. The client never resolves the
 * target itself when proxied; the test JVM still reads the test hosts file (failsafe argLine), so no real DNS.
 */
@Timeout(value = 60, unit = SECONDS)
class JavaHttpClientIT {
  private static final String CONFIG = """
      [network]
      allowed_domains = ["allowed.test", "127.0.0.1"]
      denied_domains = ["denied.test"]
      """;

  @RegisterExtension
  static final OriginServer http = OriginServer.http();

  @RegisterExtension
  static final OriginServer https = OriginServer.https();

  @RegisterExtension
  static final Daemon egressd = Daemon.withConfig(CONFIG);

  private static HttpClient client(HttpClient.Version version) {
    return HttpClient.newBuilder()
        .proxy(ProxySelector.of(egressd.address()))
        .sslContext(TestCertificates.get().client())
        .connectTimeout(Duration.ofSeconds(10))
        .version(version)
        .build();
  }

  private static HttpResponse<String> send(HttpClient client, HttpRequest request) throws Exception {
    return client.send(request, HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void plainGetReachesTheOrigin() throws Exception {
    HttpResponse<String> response = send(client(HttpClient.Version.HTTP_1_1),
        HttpRequest.newBuilder(URI.create(http.url("allowed.test", "/java"))).timeout(Duration.ofSeconds(20)).build());

    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.body()).isEqualTo("origin saw GET /java body=0\n");
    assertThat(http.onlyRequest().target()).isEqualTo("/java");
  }

  @Test
  void defaultClientsHttp2UpgradeHeadersAreNotForwarded() throws Exception {
    // The default version is HTTP/2; on http:// the client may offer an h2c upgrade, which is hop-by-hop.
    HttpResponse<String> response = send(client(HttpClient.Version.HTTP_2),
        HttpRequest.newBuilder(URI.create(http.url("allowed.test", "/h2c"))).timeout(Duration.ofSeconds(20)).build());

    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.version()).isEqualTo(HttpClient.Version.HTTP_1_1);
    assertThat(http.onlyRequest().headers().names()).doesNotContain("upgrade", "http2-settings");
  }

  @Test
  void deniedPlainGetReturnsTheProxys403() throws Exception {
    HttpResponse<String> response = send(client(HttpClient.Version.HTTP_1_1),
        HttpRequest.newBuilder(URI.create(http.url("denied.test", "/"))).timeout(Duration.ofSeconds(20)).build());

    assertThat(response.statusCode()).isEqualTo(403);
    assertThat(response.headers().firstValue("x-proxy-error")).hasValue("blocked-by-denylist");
    assertThat(Json.object(response.body())).containsEntry("reason", "denied").containsEntry("host", "denied.test");
    assertThat(http.connectionCount()).isZero();
  }

  @Test
  void postBodyIsForwarded() throws Exception {
    byte[] body = randomBytes(1024 * 1024 + 1);
    HttpResponse<String> response = send(client(HttpClient.Version.HTTP_1_1),
        HttpRequest.newBuilder(URI.create(http.url("allowed.test", "/post")))
            .POST(HttpRequest.BodyPublishers.ofByteArray(body)).timeout(Duration.ofSeconds(20)).build());

    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(http.onlyRequest().bodySha256()).isEqualTo(sha256(body));
  }

  @Test
  void httpsGetGoesThroughATunnelToTheTlsOrigin() throws Exception {
    HttpResponse<String> response = send(client(HttpClient.Version.HTTP_1_1),
        HttpRequest.newBuilder(URI.create(https.url("allowed.test", "/tls"))).timeout(Duration.ofSeconds(20)).build());

    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.body()).isEqualTo("origin saw GET /tls body=0\n");
    assertThat(https.connectionCount()).isEqualTo(1);
  }

  @Test
  void deniedHttpsGetFailsTheTunnelAndTheOriginIsNotContacted() {
    HttpClient client = client(HttpClient.Version.HTTP_1_1);
    HttpRequest request = HttpRequest.newBuilder(URI.create(https.url("denied.test", "/")))
        .timeout(Duration.ofSeconds(20)).build();

    assertThatThrownBy(() -> send(client, request)).isInstanceOf(IOException.class).hasMessageContaining("403");
    assertThat(https.connectionCount()).isZero();
  }
}
