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
import java.util.List;
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
  /** Loopback destinations refused, and a name only the parent can resolve allowed. */
  private static final String STRICT = POLICY.replace("allow_local_binding = true", "allow_local_binding = false")
      .replace("\"cli.test\"]", "\"cli.test\", \"" + SquidParent.PARENT_ONLY + "\"]");
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
    start(authenticated, false, config, environment, args);
  }

  private void start(boolean authenticated, boolean tls, String config, Map<String, String> environment,
      String... args) throws Exception {
    squid = SquidParent.start(authenticated, tls);
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
  void plainHttpToManyHostsKeepsOneParentConnectionAndTheAuditNamesEachRoute(@TempDir Path dir) throws Exception {
    Path audit = dir.resolve("audit.jsonl");
    start(false, POLICY, Map.of("HTTP_PROXY", "%s", "NO_PROXY", "cli.test"), "--audit-file", audit.toString());
    // One curl, one client connection: three destinations, two through the parent, one direct (NO_PROXY).
    ProcessResult curl = Curl.run("-x", egressd.url(), "-w", "%{http_code} %{num_connects}\n",
        "-o", "/dev/null", origin.url("allowed.test", "/one"), "-o", "/dev/null", origin.url("other.test", "/two"),
        "-o", "/dev/null", origin.url("allowed.test", "/three"));
    assertThat(curl.stdout().lines()).as("%s", curl).containsExactly("200 1", "200 0", "200 0");
    assertThat(squid.awaitAccess("/three")).as(squid.accessLog()).isTrue();
    assertThat(squid.clientPorts("/one")).hasSize(1);
    assertThat(squid.clientPorts("/two")).as("the same parent connection carried both hosts: %s", squid.accessLog())
        .isEqualTo(squid.clientPorts("/one")).isEqualTo(squid.clientPorts("/three"));

    assertThat(Curl.fetch("-x", egressd.url(), origin.url("cli.test", "/direct")).reply().status()).isEqualTo(200);
    assertThat(Curl.fetch("-x", egressd.url(), origin.url("denied.test", "/")).reply().status()).isEqualTo(403);
    assertThat(egressd.awaitStderr("decision=allow", "host=other.test", "route=upstream_proxy")).isNotNull();
    assertThat(egressd.awaitStderr("decision=deny", "host=denied.test")).doesNotContain("route=");
    egressd.stop();
    List<String> lines = Files.readAllLines(audit);
    assertThat(lines).filteredOn(l -> l.contains("\"server.address\":\"allowed.test\"")).hasSize(2)
        .allMatch(l -> l.contains("\"network.route\":\"upstream_proxy\""));
    assertThat(lines).filteredOn(l -> l.contains("\"server.address\":\"cli.test\"")).singleElement()
        .asString().contains("\"network.route\":\"direct\"");
    assertThat(lines).filteredOn(l -> l.contains("\"server.address\":\"denied.test\"")).singleElement()
        .asString().doesNotContain("network.route");
  }

  @Test
  void anHttpsParentIsVerifiedAgainstTheCaBundleAndCarriesEveryKindOfTraffic() throws Exception {
    start(false, true, withParent("upstream_proxy_ca_bundle = '" + TestCertificates.get().caPem() + "'\n"),
        Map.of());
    assertThat(squid.url()).startsWith("https://");
    assertThat(egressd.awaitStdout("egressd: upstream: https, CONNECT and SOCKS5 via " + squid.url())).isNotNull();
    Curl.Result plain = Curl.fetch("-x", egressd.url(), origin.url("allowed.test", "/over-tls-parent"));
    assertThat(plain.reply().status()).as("%s", plain).isEqualTo(200);
    assertThat(plain.reply().text()).isEqualTo("origin saw GET /over-tls-parent body=0\n");
    Curl.Result tunnel = Curl.fetch("-x", egressd.url(), "--cacert", TestCertificates.get().caPem().toString(),
        tlsOrigin.url("allowed.test", "/tls-in-tls"));
    assertThat(tunnel.reply().status()).as("%s", tunnel).isEqualTo(200);
    Curl.Result socks = Curl.fetch("--socks5-hostname", "127.0.0.1:" + egressd.socksPort(),
        origin.url("cli.test", "/socks-over-tls-parent"));
    assertThat(socks.reply().status()).as("%s", socks).isEqualTo(200);
    assertThat(squid.awaitAccess("GET http://allowed.test:" + origin.port() + "/over-tls-parent")).isTrue();
    assertThat(squid.awaitAccess("CONNECT allowed.test:" + tlsOrigin.port())).isTrue();
    assertThat(squid.awaitAccess("CONNECT cli.test:" + origin.port())).as(squid.accessLog()).isTrue();
  }

  @Test
  void anHttpsParentWhoseCertificateIsNotTrustedIsRefusedNeverTrustedAnyway() throws Exception {
    start(false, true, withParent(""), Map.of());
    HttpReply tunnel = connect("allowed.test");
    assertThat(tunnel.status()).as("%s", tunnel).isEqualTo(502);
    assertThat(tunnel.header("x-proxy-error")).isEqualTo("upstream-proxy-unreachable");
    assertThat(tunnel.text()).contains("TLS to the parent failed");
    Curl.Result plain = Curl.fetch("-x", egressd.url(), origin.url("allowed.test", "/"));
    assertThat(plain.reply().status()).isEqualTo(502);
    assertThat(plain.reply().header("x-proxy-error")).isEqualTo("upstream-proxy-unreachable");
    assertThat(plain.reply().text()).contains("TLS to the parent failed");
    assertThat(origin.requestCount()).isZero();
    assertThat(squid.accessLog()).doesNotContain("allowed.test");
  }

  @Test
  void aCaBundleThatCannotBeReadStopsTheStart(@TempDir Path dir) throws Exception {
    Path config = Files.writeString(dir.resolve("config.toml"), POLICY
        + "upstream_proxy = \"https://127.0.0.1:1\"\nupstream_proxy_ca_bundle = \"missing.pem\"\n");
    ProcessResult refused = Egressd.cli(Map.of(), "run", "--config", config.toString(), "--listen", "127.0.0.1:0",
        "--socks-listen", "127.0.0.1:0");
    assertThat(refused.exitCode()).as("%s", refused).isEqualTo(2);
    assertThat(refused.stderr()).contains("upstream_proxy_ca_bundle").contains("missing.pem");
  }

  @Test
  void namesAreResolvedAndCheckedByEgressdBeforeTheParentSeesThem() throws Exception {
    // allowed.test resolves to loopback: without allow_local_binding egressd refuses it, and Squid never hears of it.
    start(false, STRICT + "upstream_proxy = \"%s\"\n", Map.of());
    Curl.Result local = Curl.fetch("-x", egressd.url(), origin.url("allowed.test", "/"));
    assertThat(local.reply().status()).isEqualTo(403);
    assertThat(local.reply().text()).contains("not_allowed_local");
    Curl.Result unknown = Curl.fetch("-x", egressd.url(), origin.url(SquidParent.PARENT_ONLY, "/"));
    assertThat(unknown.reply().status()).as("%s", unknown).isEqualTo(502);
    assertThat(unknown.reply().header("x-proxy-error")).isEqualTo("dns-failure");
    assertThat(squid.accessLog()).doesNotContain("allowed.test").doesNotContain(SquidParent.PARENT_ONLY);
  }

  @Test
  void upstreamResolutionParentLeavesNamesToTheParentWithAWarning() throws Exception {
    start(false, STRICT + "upstream_proxy = \"%s\"\nupstream_resolution = \"parent\"\n", Map.of());
    assertThat(egressd.awaitStderr("upstream_resolution = \"parent\": names going through the parent proxy are not"
        + " resolved by egressd")).isNotNull();
    assertThat(egressd.awaitStdout("names resolved by the parent, unchecked")).isNotNull();
    // The consequence, as docs/security.md says: the parent resolved this name to loopback, and egressd could not see.
    Curl.Result named = Curl.fetch("-x", egressd.url(), origin.url(SquidParent.PARENT_ONLY, "/parent-resolved"));
    assertThat(named.reply().status()).as("%s", named).isEqualTo(200);
    assertThat(squid.awaitAccess("GET http://" + SquidParent.PARENT_ONLY)).isTrue();
    Curl.Result tunnel = Curl.fetch("-p", "-x", egressd.url(), origin.url(SquidParent.PARENT_ONLY, "/tunnel"));
    assertThat(tunnel.reply().status()).as("%s", tunnel).isEqualTo(200);
    // Policy still decides first: a destination no rule allows never reaches the parent.
    Curl.Result literal = Curl.fetch("-x", egressd.url(), "http://127.0.0.1:" + origin.port() + "/");
    assertThat(literal.reply().status()).isEqualTo(403);
    assertThat(literal.reply().text()).contains("not_allowed");
    assertThat(squid.accessLog()).doesNotContain("127.0.0.1:" + origin.port());
    assertThat(origin.requests()).extracting(RecordedRequest::target).containsExactly("/parent-resolved", "/tunnel");
  }

  @Test
  void aReloadAppliesANewParentAndRejectsABadOne() throws Exception {
    start(false, withParent(""), Map.of());
    Path config = egressd.configDirectory().resolve("egressd.toml");
    assertThat(Curl.fetch("-x", egressd.url(), origin.url("allowed.test", "/first")).reply().status()).isEqualTo(200);
    assertThat(squid.awaitAccess("/first")).isTrue();

    Files.writeString(config, POLICY + "upstream_proxy = \"socks5://127.0.0.1:1080\"\n");
    hangUp();
    assertThat(egressd.awaitStderr("rejected; the running policy stays")).isNotNull();
    assertThat(egressd.awaitStderr("network.upstream_proxy: non-http proxy protocol")).isNotNull();
    assertThat(Curl.fetch("-x", egressd.url(), origin.url("allowed.test", "/second")).reply().status())
        .isEqualTo(200);
    assertThat(squid.awaitAccess("/second")).as("the running parent stays").isTrue();

    Files.writeString(config, POLICY);
    hangUp();
    assertThat(egressd.awaitStderr("reload (SIGHUP): policy from")).isNotNull();
    assertThat(Curl.fetch("-x", egressd.url(), origin.url("allowed.test", "/third")).reply().status())
        .isEqualTo(200);
    assertThat(origin.requests()).extracting(RecordedRequest::target).containsExactly("/first", "/second", "/third");
    // Squid adds Via to what it forwards: the first two came through it, the third did not.
    assertThat(origin.requests()).extracting(r -> r.header("via") != null).containsExactly(true, true, false);
    assertThat(squid.accessLog()).as("direct after the reload").doesNotContain("/third");
  }

  private void hangUp() throws Exception {
    Process kill = new ProcessBuilder("kill", "-HUP", Long.toString(egressd.process().pid())).start();
    assertThat(kill.waitFor()).isZero();
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
