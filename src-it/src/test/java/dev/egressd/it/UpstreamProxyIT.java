package dev.egressd.it;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import dev.egressd.it.Socks5Client.Reply;
import dev.egressd.it.Socks5Client.Status;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * egressd behind a real parent proxy: egressd -> Squid -> origin, all on loopback. Plain HTTP goes to Squid in
 * absolute form, CONNECT and SOCKS5 CONNECT through a CONNECT; the policy decides first, so a refused host never
 * reaches Squid; Squid's own refusals, its authentication, a parent that is down, {@code NO_PROXY}, UDP and a parent
 * that is egressd itself.
 */
@Timeout(value = 180, unit = SECONDS)
class UpstreamProxyIT {
  private static final String POLICY = """
      [network]
      allowed_domains = ["allowed.test", "other.test", "mixed.test", "cli.test"]
      denied_domains = ["denied.test"]
      allow_local_binding = true
      """;
  private static final int TWENTY_MIB = 20 * 1024 * 1024;

  @RegisterExtension
  static final OriginServer origin = OriginServer.http();

  @RegisterExtension
  static final OriginServer tlsOrigin = OriginServer.https();

  private SquidParent squid;
  private Daemon egressd;

  @BeforeEach
  void resetOrigin() {
    origin.reset();
    tlsOrigin.reset();
  }

  @AfterEach
  void stop() throws Exception {
    if (egressd != null) {
      egressd.stop();
    }
    if (squid != null) {
      squid.close();
    }
  }

  /** Squid, then egressd with {@code config} ({@code %s} is Squid's URL) and these variables in its environment. */
  private void start(boolean authenticated, String config, Map<String, String> environment, String... args)
      throws Exception {
    squid = SquidParent.start(authenticated);
    Daemon daemon = Daemon.withConfig(config.formatted(squid.url())).withArgs(args);
    for (Map.Entry<String, String> variable : environment.entrySet()) {
      daemon = daemon.withEnvironment(variable.getKey(), variable.getValue().formatted(squid.url()));
    }
    egressd = daemon;
    egressd.start();
  }

  /** A CONNECT through egressd, as a raw client sees the answer. */
  private HttpReply connect(String host) throws Exception {
    try (RawClient client = RawClient.connect(egressd.port())) {
      return client.send(TestData.connect(origin.authority(host))).readConnectResponse();
    }
  }

  private static String withParent(String extra) {
    return POLICY + "upstream_proxy = \"%s\"\n" + extra;
  }

  @Test
  void plainHttpGoesToTheParentInAbsoluteFormWith20MiBBodiesBothWays(@TempDir Path dir) throws Exception {
    start(false, withParent(""), Map.of());
    assertThat(egressd.awaitStdout("egressd: upstream: https, CONNECT and SOCKS5 via http://127.0.0.1:"
        + squid.port() + " (upstream_proxy); plain http via http://127.0.0.1:" + squid.port())).isNotNull();

    Curl.Result get = Curl.fetch("-x", egressd.url(), origin.url("allowed.test", "/via-parent?x=1"));
    assertThat(get.reply().status()).as("%s", get).isEqualTo(200);
    assertThat(get.reply().text()).isEqualTo("origin saw GET /via-parent?x=1 body=0\n");
    assertThat(squid.awaitAccess("GET http://allowed.test:" + origin.port() + "/via-parent")) // Squid logs no query
        .as("squid saw it in absolute form: %s", squid.accessLog()).isTrue();

    Path upload = Files.write(dir.resolve("upload"), new byte[TWENTY_MIB]);
    Curl.Result post = Curl.fetch("-x", egressd.url(), "--data-binary", "@" + upload,
        origin.url("allowed.test", "/upload"));
    assertThat(post.reply().text()).as("%s", post).isEqualTo("origin saw POST /upload body=" + TWENTY_MIB + "\n");

    origin.respond("/large", new OriginResponse.Streamed(TWENTY_MIB));
    Curl.Result large = Curl.fetch("-x", egressd.url(), origin.url("allowed.test", "/large"));
    assertThat(large.exitCode()).as("%s", large).isZero();
    assertThat(large.reply().body()).hasSize(TWENTY_MIB);
    assertThat(egressd.awaitStderr("decision=allow", "host=allowed.test")).isNotNull();
  }

  @Test
  void connectAndSocksGoThroughACONNECTToTheParentNamingTheHost() throws Exception {
    start(false, withParent(""), Map.of());
    Curl.Result tunnel = Curl.fetch("-p", "-x", egressd.url(), origin.url("other.test", "/tunnelled"));
    assertThat(tunnel.reply().status()).as("%s", tunnel).isEqualTo(200);
    assertThat(squid.awaitAccess("CONNECT other.test:" + origin.port())).as(squid.accessLog()).isTrue();

    Curl.Result socks = Curl.fetch("--socks5-hostname", "127.0.0.1:" + egressd.socksPort(),
        origin.url("cli.test", "/socks"));
    assertThat(socks.reply().status()).as("%s", socks).isEqualTo(200);
    assertThat(squid.awaitAccess("CONNECT cli.test:" + origin.port())).as(squid.accessLog()).isTrue();
  }

  @Test
  void tlsThroughATunnelAndAnInterceptedTunnelInLimitedModeBothGoThroughTheParent() throws Exception {
    start(false, withParent(""), Map.of());
    Curl.Result tls = Curl.fetch("-x", egressd.url(), "--cacert", TestCertificates.get().caPem().toString(),
        tlsOrigin.url("allowed.test", "/over-tls"));
    assertThat(tls.reply().status()).as("%s", tls).isEqualTo(200);
    assertThat(squid.awaitAccess("CONNECT allowed.test:" + tlsOrigin.port())).isTrue();
    egressd.stop();
    squid.close();

    start(false, withParent("""
        mode = "limited"
        mitm = true
        mitm_upstream_ca_bundle = '%s'
        """.formatted(TestCertificates.get().caPem()).replace("%", "%%")), Map.of());
    String ca = egressd.mitmCaCertificate().toString();
    Curl.Result inside = Curl.fetch("-x", egressd.url(), "--cacert", ca, tlsOrigin.url("allowed.test", "/inside"));
    assertThat(inside.reply().status()).as("%s", inside).isEqualTo(200);
    assertThat(inside.reply().text()).isEqualTo("origin saw GET /inside body=0\n");
    assertThat(squid.awaitAccess("CONNECT allowed.test:" + tlsOrigin.port())).as(squid.accessLog()).isTrue();
    Curl.Result post = Curl.fetch("-x", egressd.url(), "--cacert", ca, "-d", "x=1",
        tlsOrigin.url("allowed.test", "/post"));
    assertThat(post.reply().status()).isEqualTo(403);
    assertThat(tlsOrigin.requests()).extracting(RecordedRequest::target).containsExactly("/over-tls", "/inside");
  }

  @Test
  void aRefusedHostNeverReachesTheParentAndTheParentsOwnRefusalIsNamed() throws Exception {
    start(false, withParent(""), Map.of());
    Curl.Result denied = Curl.fetch("-x", egressd.url(), origin.url("denied.test", "/"));
    assertThat(denied.reply().status()).isEqualTo(403);
    Curl.Result missed = Curl.fetch("-p", "-x", egressd.url(), origin.url("nothere.test", "/"));
    assertThat(missed.exitCode()).isNotZero();

    HttpReply refused = connect("mixed.test");
    assertThat(refused.status()).as("%s", refused).isEqualTo(502);
    assertThat(refused.header("x-proxy-error")).isEqualTo("upstream-proxy-refused");
    assertThat(refused.text()).contains("answered 403").contains("CONNECT mixed.test:" + origin.port());
    assertThat(squid.awaitAccess("mixed.test")).isTrue();
    assertThat(squid.accessLog()).doesNotContain("denied.test").doesNotContain("nothere.test");
    assertThat(origin.requestCount()).isZero();
  }

  @Test
  void aParentThatWantsCredentialsGetsThemFromTheEnvironmentVariableNamed() throws Exception {
    String auth = "upstream_proxy_username = \"" + SquidParent.USER + "\"\n"
        + "upstream_proxy_password_env = \"PARENT_PASSWORD\"\n";
    start(true, withParent(auth), Map.of("PARENT_PASSWORD", SquidParent.PASSWORD));
    assertThat(Curl.fetch("-p", "-x", egressd.url(), origin.url("allowed.test", "/authed")).reply().status())
        .isEqualTo(200);
    Curl.Result plain = Curl.fetch("-x", egressd.url(), origin.url("allowed.test", "/authed-plain"));
    assertThat(plain.reply().status()).as("%s", plain).isEqualTo(200);
    assertThat(squid.awaitAccess(SquidParent.USER)).as(squid.accessLog()).isTrue();
    assertThat(egressd.stderrOfThisTest()).noneMatch(line -> line.contains(SquidParent.PASSWORD));
  }

  @Test
  void aWrongPasswordOrNoneIsAuthRequired() throws Exception {
    String auth = "upstream_proxy_username = \"" + SquidParent.USER + "\"\n"
        + "upstream_proxy_password_env = \"PARENT_PASSWORD\"\n";
    start(true, withParent(auth), Map.of("PARENT_PASSWORD", "wrong"));
    HttpReply tunnel = connect("allowed.test");
    assertThat(tunnel.status()).as("%s", tunnel).isEqualTo(502);
    assertThat(tunnel.header("x-proxy-error")).isEqualTo("upstream-proxy-auth-required");
    assertThat(tunnel.text()).contains("answered 407").doesNotContain("wrong");
    try (Socks5Client socks = Socks5Client.connect(egressd.socksPort())) {
      Reply reply = socks.connectTo(Socks5Address.domain("allowed.test", origin.port()));
      assertThat(reply.status()).isEqualTo(Status.CONNECTION_REFUSED);
    }
    // Plain HTTP: the parent's own 407 is the answer; the client's Proxy-Authorization never reaches it.
    Curl.Result plain = Curl.fetch("-x", egressd.url(), "--proxy-user", "client:leaked",
        origin.url("allowed.test", "/"));
    assertThat(plain.reply().status()).isEqualTo(407);
    assertThat(origin.requestCount()).isZero();
  }

  @Test
  void aParentThatIsDownIsUnreachableAndTheOriginIsNotDialledAroundIt() throws Exception {
    int down;
    try (ServerSocket free = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      down = free.getLocalPort();
    }
    egressd = Daemon.withConfig(POLICY + "upstream_proxy = \"http://127.0.0.1:" + down + "\"\n");
    egressd.start();
    HttpReply tunnel = connect("allowed.test");
    assertThat(tunnel.status()).isEqualTo(502);
    assertThat(tunnel.header("x-proxy-error")).isEqualTo("upstream-proxy-unreachable");
    Curl.Result plain = Curl.fetch("-x", egressd.url(), origin.url("allowed.test", "/"));
    assertThat(plain.reply().header("x-proxy-error")).isEqualTo("upstream-proxy-unreachable");
    assertThat(origin.requestCount()).isZero();
  }

  @Test
  void theEnvironmentChoosesTheParentAndNoProxyGoesDirect() throws Exception {
    Map<String, String> environment = new LinkedHashMap<>();
    environment.put("HTTPS_PROXY", "%s");
    environment.put("http_proxy", "%s");
    environment.put("ALL_PROXY", "socks5://127.0.0.1:1");
    environment.put("NO_PROXY", "cli.test,10.0.0.0/8");
    start(false, POLICY, environment);
    assertThat(egressd.awaitStdout("egressd: upstream: https, CONNECT and SOCKS5 via http://127.0.0.1:"
        + squid.port() + " (HTTPS_PROXY); plain http via http://127.0.0.1:" + squid.port() + " (http_proxy); direct"
        + " for NO_PROXY cli.test,10.0.0.0/8")).isNotNull();
    assertThat(Curl.fetch("-x", egressd.url(), origin.url("allowed.test", "/env")).reply().status()).isEqualTo(200);
    assertThat(squid.awaitAccess("allowed.test")).isTrue();
    assertThat(Curl.fetch("-x", egressd.url(), origin.url("cli.test", "/direct")).reply().status()).isEqualTo(200);
    assertThat(Curl.fetch("-p", "-x", egressd.url(), origin.url("cli.test", "/direct-tunnel")).reply().status())
        .isEqualTo(200);
    assertThat(origin.requestCount()).isEqualTo(3);
    assertThat(squid.accessLog()).doesNotContain("cli.test");
  }

  @Test
  void aSocksValueIsIgnoredWithAWarningNamingTheVariable() throws Exception {
    egressd = Daemon.withConfig(POLICY).withEnvironment("ALL_PROXY", "socks5h://127.0.0.1:1080");
    egressd.start();
    assertThat(egressd.awaitStderr("ignoring ALL_PROXY: non-http proxy protocol")).isNotNull();
    assertThat(Curl.fetch("-x", egressd.url(), origin.url("allowed.test", "/")).reply().status()).isEqualTo(200);
  }

  @Test
  void udpAssociateIsRefusedRatherThanSentAroundTheParent() throws Exception {
    start(false, withParent(""), Map.of());
    try (Socks5Client control = Socks5Client.connect(egressd.socksPort())) {
      control.greet(Socks5Client.NO_AUTHENTICATION);
      Reply reply = control.request(Socks5Client.UDP_ASSOCIATE, Socks5Address.unspecified());
      assertThat(reply.status()).isEqualTo(Status.COMMAND_NOT_SUPPORTED);
    }
    assertThat(egressd.awaitStderr("UDP ASSOCIATE", "which cannot carry UDP")).isNotNull();
  }

  @Test
  void aParentThatIsEgressdItselfStopsTheStart() throws Exception {
    int port;
    try (ServerSocket free = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = free.getLocalPort();
    }
    Path config = Files.createTempFile("egressd-loop", ".toml");
    Files.writeString(config, POLICY);
    ProcessResult refused = Egressd.cli(Map.of("HTTPS_PROXY", "http://127.0.0.1:" + port), "run", "--config",
        config.toString(), "--listen", "127.0.0.1:" + port, "--socks-listen", "127.0.0.1:0");
    assertThat(refused.exitCode()).as("%s", refused).isEqualTo(2);
    assertThat(refused.stderr()).contains("upstream proxy http://127.0.0.1:" + port + " (HTTPS_PROXY) is egressd's"
        + " own http listener");
  }
}
