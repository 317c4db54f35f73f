package dev.egressd.it;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.InetSocketAddress;
import java.net.Proxy;
import java.net.Socket;
import java.net.SocketException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * SOCKS5 CONNECT with real clients (curl {@code --socks5-hostname} and {@code --socks5}, Java's
 * {@code Proxy.Type.SOCKS}): allowed destinations are relayed end to end, refused ones never reach the origin.
 */
@Timeout(value = 90, unit = SECONDS)
class Socks5TcpIT {
  private static final String CONFIG = """
      [network]
      mode = "full"
      # denied.test is in both lists: deny wins. private.test is allowed by name, but its address 127.0.0.2 is not.
      # Loopback is granted explicitly, only 127.0.0.1.
      allowed_domains = ["allowed.test", "denied.test", "private.test", "mixed.test", "127.0.0.1"]
      denied_domains = ["denied.test"]
      """;
  private static final String SOCKS5H_HINT = "use socks5h so the proxy sees the host name";
  private static final Pattern BYTES_DOWN = Pattern.compile("bytes_down=(\\d+)");
  /** CURLE_PROXY: curl's exit status when the SOCKS5 proxy refuses the request. */
  private static final int CURL_PROXY_ERROR = 97;

  @RegisterExtension
  static final OriginServer origin = OriginServer.http().withPrivateDecoy();

  @RegisterExtension
  static final OriginServer https = OriginServer.https();

  @RegisterExtension
  static final Daemon egressd = Daemon.withConfig(CONFIG);

  @TempDir
  Path temp;

  private static String socks() throws InterruptedException {
    return "127.0.0.1:" + egressd.socksPort();
  }

  private static Proxy javaProxy() throws InterruptedException {
    return new Proxy(Proxy.Type.SOCKS, egressd.socksAddress());
  }

  // ---- curl --socks5-hostname: the proxy resolves the name ----

  @Test
  void curlSocks5hReachesAnAllowedHostByName() throws Exception {
    Curl.Result curl = Curl.fetch("--socks5-hostname", socks(), origin.url("allowed.test", "/hello?x=1"));

    assertThat(curl.exitCode()).as("%s", curl).isZero();
    assertThat(curl.reply().status()).isEqualTo(200);
    assertThat(curl.reply().text()).isEqualTo("origin saw GET /hello?x=1 body=0\n");
    RecordedRequest seen = origin.onlyRequest();
    assertThat(seen.target()).isEqualTo("/hello?x=1");
    assertThat(seen.localAddress()).isEqualTo("127.0.0.1");
    egressd.awaitStderr("decision=allow", "protocol=socks5_tcp", "host=allowed.test", "port=" + origin.port());
  }

  @Test
  void curlSocks5hToADeniedHostFailsAndTheOriginIsNeverContacted() throws Exception {
    Curl.Result curl = Curl.fetch("--socks5-hostname", socks(), origin.url("denied.test", "/secret-path"));

    assertThat(curl.exitCode()).as("CURLE_PROXY\n%s", curl).isEqualTo(CURL_PROXY_ERROR);
    assertThat(curl.stderr()).as("curl names the SOCKS5 reply code").contains("SOCKS5", "(2)");
    assertThat(origin.connectionCount()).isZero();
    String audit = egressd.awaitStderr("decision=deny", "reason=denied", "protocol=socks5_tcp", "host=denied.test",
        "port=" + origin.port());
    assertThat(audit).doesNotContain("secret-path");
  }

  @Test
  void curlSocks5hToAHostOutsideTheAllowlistFails() throws Exception {
    Curl.Result curl = Curl.fetch("--socks5-hostname", socks(), origin.url("other.test", "/"));

    assertThat(curl.exitCode()).as("%s", curl).isEqualTo(CURL_PROXY_ERROR);
    assertThat(origin.connectionCount()).isZero();
    egressd.awaitStderr("decision=deny", "reason=not_allowed", "protocol=socks5_tcp", "host=other.test");
  }

  @Test
  void curlSocks5hToANameResolvingToAnUnvettedLoopbackAddressFailsWithoutADial() throws Exception {
    // private.test -> 127.0.0.2, where the origin's decoy listens on the same port: a dial would be counted.
    Curl.Result curl = Curl.fetch("--socks5-hostname", socks(), origin.url("private.test", "/"));

    assertThat(curl.exitCode()).as("%s", curl).isEqualTo(CURL_PROXY_ERROR);
    assertThat(origin.connectionCount()).isZero();
    egressd.awaitStderr("decision=deny", "reason=not_allowed_local", "protocol=socks5_tcp", "host=private.test");
  }

  @Test
  void curlSocks5hToANameWithOneUnvettedAnswerAmongSeveralFails() throws Exception {
    Curl.Result curl = Curl.fetch("--socks5-hostname", socks(), origin.url("mixed.test", "/"));

    assertThat(curl.exitCode()).as("%s", curl).isEqualTo(CURL_PROXY_ERROR);
    assertThat(origin.connectionCount()).isZero();
    egressd.awaitStderr("decision=deny", "reason=not_allowed_local", "host=mixed.test");
  }

  @Test
  void curlSocks5hRelaysTlsEndToEnd() throws Exception {
    Curl.Result curl = Curl.fetch("--socks5-hostname", socks(), "--cacert", TestCertificates.get().caPem().toString(),
        https.url("allowed.test", "/secure"));

    assertThat(curl.exitCode()).as("%s", curl).isZero();
    assertThat(curl.reply().text()).isEqualTo("origin saw GET /secure body=0\n");
    assertThat(https.connectionCount()).isEqualTo(1);
    assertThat(https.onlyRequest().header("Host")).isEqualTo(https.authority("allowed.test"));
    egressd.awaitStderr("decision=allow", "protocol=socks5_tcp", "host=allowed.test", "port=" + https.port());
  }

  @Test
  void curlSocks5hDoesNotTrustTheOriginCertificateWithoutTheTestCa() throws Exception {
    // The proxy relays TLS, it does not terminate it: curl sees the origin's own certificate.
    Curl.Result curl = Curl.fetch("--socks5-hostname", socks(), https.url("allowed.test", "/"));

    assertThat(curl.exitCode()).as("curl: SSL certificate problem\n%s", curl).isEqualTo(60);
    assertThat(https.connectionCount()).isEqualTo(1);
  }

  @Test
  void largeDownloadStreamsThroughTheTunnelAndIsAudited() throws Exception {
    // egressd runs with -Xmx96m: a relay that buffered the body would fail.
    long length = 128L * 1024 * 1024;
    origin.respond("/big", new OriginResponse.Streamed(length));

    ProcessResult curl = Curl.run("--socks5-hostname", socks(), "-o", "/dev/null",
        "-w", "%{http_code} %{size_download}", origin.url("allowed.test", "/big"));

    assertThat(curl.exitCode()).as("%s", curl).isZero();
    assertThat(curl.stdout()).isEqualTo("200 " + length + "\n");
    assertThat(OriginServer.eventually(() -> egressd.stderrOfThisTest().stream()
        .anyMatch(line -> line.contains("tunnel_closed") && line.contains("protocol=socks5_tcp")
            && line.contains("host=allowed.test") && bytesDown(line) > length), Duration.ofSeconds(10)))
        .as("a tunnel_closed audit line counting the whole download; this test's stderr:%n%s",
            String.join("\n", egressd.stderrOfThisTest()))
        .isTrue();
  }


  @Test
  void uploadIsRelayedUnchanged() throws Exception {
    byte[] body = TestData.randomBytes(3 * 1024 * 1024 + 17);
    Path file = Files.write(temp.resolve("upload.bin"), body);

    Curl.Result curl = Curl.fetch("--socks5-hostname", socks(), "--data-binary", "@" + file,
        origin.url("allowed.test", "/upload"));

    assertThat(curl.exitCode()).as("%s", curl).isZero();
    assertThat(curl.reply().text()).isEqualTo("origin saw POST /upload body=" + body.length + "\n");
    assertThat(origin.onlyRequest().bodySha256()).isEqualTo(TestData.sha256(body));
  }

  // ---- curl --socks5: the client resolves and sends an address ----

  @Test
  void curlSocks5WithAnIpLiteralAllowedByAnIpRuleReachesTheOrigin() throws Exception {
    Curl.Result curl = Curl.fetch("--socks5", socks(), origin.url("127.0.0.1", "/by-ip"));

    assertThat(curl.exitCode()).as("%s", curl).isZero();
    assertThat(curl.reply().text()).isEqualTo("origin saw GET /by-ip body=0\n");
    egressd.awaitStderr("decision=allow", "protocol=socks5_tcp", "host=127.0.0.1", "port=" + origin.port());
  }

  @Test
  void curlSocks5SendsTheAddressItResolvedAndTheIpRuleDecides() throws Exception {
    // --resolve stands in for curl's own lookup; what reaches the proxy is 127.0.0.1, never the name.
    Curl.Result curl = Curl.fetch("--socks5", socks(), "--resolve", origin.authority("allowed.test") + ":127.0.0.1",
        origin.url("allowed.test", "/resolved-by-curl"));

    assertThat(curl.exitCode()).as("%s", curl).isZero();
    assertThat(curl.reply().text()).isEqualTo("origin saw GET /resolved-by-curl body=0\n");
    egressd.awaitStderr("decision=allow", "protocol=socks5_tcp", "host=127.0.0.1");
    assertThat(egressd.stderrOfThisTest()).as("the proxy never saw the name")
        .noneMatch(line -> line.contains("decision=") && line.contains("host=allowed.test"));
  }

  @Test
  void curlSocks5WithAnAddressOnlyANameRuleCoversIsRefusedWithTheSocks5hHint() throws Exception {
    // private.test is allowed by name; curl resolves it itself and sends 127.0.0.2, which no IP rule allows.
    Curl.Result curl = Curl.fetch("--socks5", socks(), "--resolve", origin.authority("private.test") + ":127.0.0.2",
        origin.url("private.test", "/"));

    assertThat(curl.exitCode()).as("%s", curl).isEqualTo(CURL_PROXY_ERROR);
    assertThat(origin.connectionCount()).as("nothing dialled, not even the decoy on 127.0.0.2").isZero();
    egressd.awaitStderr("decision=deny", "reason=not_allowed", "protocol=socks5_tcp", "host=127.0.0.2");
    egressd.awaitStderr(SOCKS5H_HINT);
  }

  // ---- Java's SOCKS client ----

  @Test
  void javaSocketWithAnUnresolvedNameLetsTheProxyResolveIt() throws Exception {
    try (Socket socket = new Socket(javaProxy())) {
      socket.connect(InetSocketAddress.createUnresolved("allowed.test", origin.port()), 10_000);
      socket.setSoTimeout(20_000);

      assertThat(httpGet(socket, origin.authority("allowed.test"), "/java-unresolved"))
          .startsWith("HTTP/1.1 200").endsWith("origin saw GET /java-unresolved body=0\n");
    }
    egressd.awaitStderr("decision=allow", "protocol=socks5_tcp", "host=allowed.test", "port=" + origin.port());
  }

  @Test
  void javaSocketWithAnUnresolvedDeniedNameIsRefusedByRuleset() throws Exception {
    try (Socket socket = new Socket(javaProxy())) {
      assertThatThrownBy(() -> socket.connect(InetSocketAddress.createUnresolved("denied.test", origin.port()),
          10_000))
          .isInstanceOf(SocketException.class).hasMessageContaining("not allowed by ruleset");
    }
    assertThat(origin.connectionCount()).isZero();
    egressd.awaitStderr("decision=deny", "reason=denied", "protocol=socks5_tcp", "host=denied.test");
  }

  @Test
  void javaSocketWithAResolvedAddressSendsTheIpWhichTheIpRuleAllows() throws Exception {
    InetSocketAddress resolved = new InetSocketAddress("allowed.test", origin.port());
    assertThat(resolved.isUnresolved()).as("the test JVM resolves through the test hosts file").isFalse();
    try (Socket socket = new Socket(javaProxy())) {
      socket.connect(resolved, 10_000);
      socket.setSoTimeout(20_000);

      assertThat(httpGet(socket, origin.authority("allowed.test"), "/java-resolved"))
          .endsWith("origin saw GET /java-resolved body=0\n");
    }
    egressd.awaitStderr("decision=allow", "protocol=socks5_tcp", "host=127.0.0.1", "port=" + origin.port());
    assertThat(egressd.stderrOfThisTest()).as("the proxy never saw the name")
        .noneMatch(line -> line.contains("decision=") && line.contains("host=allowed.test"));
  }

  @Test
  void javaSocketWithAResolvedUnvettedAddressIsRefusedWithTheSocks5hHint() throws Exception {
    InetSocketAddress resolved = new InetSocketAddress("private.test", origin.port());
    assertThat(resolved.getAddress().getHostAddress()).isEqualTo("127.0.0.2");
    try (Socket socket = new Socket(javaProxy())) {
      assertThatThrownBy(() -> socket.connect(resolved, 10_000))
          .isInstanceOf(SocketException.class).hasMessageContaining("not allowed by ruleset");
    }
    assertThat(origin.connectionCount()).isZero();
    egressd.awaitStderr(SOCKS5H_HINT);
  }

  @Test
  void javaHttpUrlConnectionResolvesTheNameItselfSoTheIpRuleDecides() throws Exception {
    // HttpURLConnection hands its SOCKS socket a resolved address: the proxy only ever sees 127.0.0.1.
    HttpURLConnection connection = (HttpURLConnection) URI.create(origin.url("allowed.test", "/url-connection"))
        .toURL().openConnection(javaProxy());
    connection.setConnectTimeout(10_000);
    connection.setReadTimeout(20_000);
    try {
      assertThat(connection.getResponseCode()).isEqualTo(200);
      try (InputStream body = connection.getInputStream()) {
        assertThat(new String(body.readAllBytes(), StandardCharsets.UTF_8))
            .isEqualTo("origin saw GET /url-connection body=0\n");
      }
    } finally {
      connection.disconnect();
    }
    assertThat(origin.onlyRequest().header("Host")).isEqualTo(origin.authority("allowed.test"));
    egressd.awaitStderr("decision=allow", "protocol=socks5_tcp", "host=127.0.0.1", "port=" + origin.port());
  }

  @Test
  void javaHttpUrlConnectionToANameResolvingToAnUnvettedAddressFailsWithoutADial() throws Exception {
    HttpURLConnection connection = (HttpURLConnection) URI.create(origin.url("private.test", "/url-connection"))
        .toURL().openConnection(javaProxy());
    connection.setConnectTimeout(10_000);
    connection.setReadTimeout(20_000);
    try {
      assertThatThrownBy(connection::getResponseCode).isInstanceOf(SocketException.class)
          .hasMessageContaining("not allowed by ruleset");
    } finally {
      connection.disconnect();
    }
    assertThat(origin.connectionCount()).isZero();
    egressd.awaitStderr("decision=deny", "protocol=socks5_tcp", "host=127.0.0.2", "port=" + origin.port());
  }

  /** Sends a GET with {@code Connection: close} over a connected socket and returns the whole response. */
  private static String httpGet(Socket socket, String authority, String path) throws IOException {
    OutputStream out = socket.getOutputStream();
    out.write(("GET " + path + " HTTP/1.1\r\nHost: " + authority + "\r\nConnection: close\r\n\r\n")
        .getBytes(StandardCharsets.ISO_8859_1));
    out.flush();
    return new String(socket.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
  }

  /** The {@code bytes_down} count of a {@code tunnel_closed} audit line, or -1. */
  private static long bytesDown(String auditLine) {
    Matcher matcher = BYTES_DOWN.matcher(auditLine);
    return matcher.find() ? Long.parseLong(matcher.group(1)) : -1;
  }
}
