package dev.egressd.it;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import dev.egressd.it.RecipeClients.Reply;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The recipes in docs/clients.md, run for real: every client gets exactly the environment {@code egressd env}
 * printed, evaluated by {@code /bin/sh}, and nothing else that routes traffic. URLs name {@code allowed.test} and
 * {@code denied.test}, which only the daemons can resolve (test hosts file), so a client that bypassed the proxy
 * could not reach the origin; allowed requests are also checked in the proxy's audit lines. Loopback addresses
 * ({@code 127.0.0.2}, the origin's decoy, refused by the policy) show which clients send local targets through the
 * policy and which skip the proxy for them.
 *
 * <p>{@code egressd} runs without interception: HTTPS goes through a CONNECT tunnel to an origin whose test CA the
 * client is pointed at with its own variable. {@code intercepting} intercepts {@code allowed.test}; there the
 * printed trust variables alone must make each client trust the minted certificate.
 */
@Timeout(value = 180, unit = SECONDS)
class ClientRecipesIT {
  private static final String POLICY = """
      allowed_domains = ["allowed.test", "127.0.0.1"]
      denied_domains = ["denied.test"]
      """;
  private static final String PARENT_POM_PATH = "/repo/dev/egressd/it/recipe-parent/1.0/recipe-parent-1.0.pom";
  private static final Pattern EXPORT = Pattern.compile("(?m)^export ([A-Za-z_][A-Za-z0-9_]*)=");
  private static final Set<String> SHELL_OWN = Set.of("PWD", "OLDPWD", "SHLVL", "_");

  @RegisterExtension
  static final OriginServer http = OriginServer.http().withPrivateDecoy();

  @RegisterExtension
  static final OriginServer https = OriginServer.https();

  @RegisterExtension
  static final Daemon egressd = Daemon.withConfig("[network]\n" + POLICY);

  @RegisterExtension
  static final Daemon intercepting = Daemon.withConfig("[network]\n" + POLICY + """
      mitm = true
      mitm_domains = ["allowed.test"]
      mitm_upstream_ca_bundle = '%s'
      """.formatted(TestCertificates.get().caPem()));

  @TempDir
  static Path dir;

  static RecipeClients clients;
  static String plainEnv;
  static String interceptingEnv;
  static Path repository;
  static Path gitRepository;

  @BeforeAll
  static void prepare() throws Exception {
    clients = RecipeClients.prepare(Files.createDirectories(dir.resolve("clients")));
    plainEnv = printEnv(egressd);
    interceptingEnv = printEnv(intercepting);
    repository = mavenRepository(dir.resolve("maven-repo"));
    gitRepository = gitRepository(dir.resolve("git"));
  }

  @BeforeEach
  void serveRepositories() {
    http.respond("/repo", new OriginResponse.Files("/repo", repository));
    http.respond("/repo.git", new OriginResponse.Files("/repo.git", gitRepository));
    https.respond("/repo.git", new OriginResponse.Files("/repo.git", gitRepository));
  }

  /** {@code egressd env} for a running daemon: its config file, its ports, its EGRESSD_HOME. */
  private static String printEnv(Daemon daemon) throws InterruptedException {
    ProcessResult env = Egressd.cli(Map.of("EGRESSD_HOME", daemon.egressdHome().toString(), "CODEX_HOME",
        dir.resolve("no-codex").toString(), "HOME", dir.toString()), "env", "--config",
        daemon.configDirectory().resolve("egressd.toml").toString(), "--listen", "127.0.0.1:" + daemon.port(),
        "--socks-listen", "127.0.0.1:" + daemon.socksPort());
    assertThat(env.exitCode()).as("%s", env).isZero();
    return env.stdout();
  }

  private static Reply plain(List<String> command) {
    return plain(Map.of(), "", command);
  }

  private static Reply plain(Map<String, String> environment, String prelude, List<String> command) {
    return Reply.of(clients.run(plainEnv, environment, prelude, command));
  }

  private static Reply intercepted(List<String> command) {
    return Reply.of(clients.run(interceptingEnv, Map.of(), "", command));
  }

  /** The origin's answer to GET {@code path}, and the proxy's allow decision for it. */
  private static void assertReachedOrigin(Reply reply, String path) throws InterruptedException {
    assertThat(reply.status()).as("%s", reply).isEqualTo(200);
    assertThat(reply.body()).as("%s", reply).isEqualTo("origin saw GET " + path + " body=0");
    egressd.awaitStderr("decision=allow", "host=allowed.test", "port=" + http.port());
  }

  /** The proxy's JSON 403 for a request to {@code path} on denied.test, which no origin saw. */
  private static void assertProxyRefused(Reply reply, String error, String path) {
    assertThat(reply.status()).as("%s", reply).isEqualTo(403);
    assertThat(reply.proxyError()).as("%s", reply).isEqualTo(error);
    assertThat(reply.body()).as("%s", reply).contains("\"status\":\"blocked\"", "\"host\":\"denied.test\"");
    assertThat(http.requests()).extracting(RecordedRequest::target).doesNotContain(path);
    assertThat(https.requests()).extracting(RecordedRequest::target).doesNotContain(path);
  }

  /** An intercepted HTTPS GET: the origin's answer, decided inside the tunnel (protocol https). */
  private static void assertIntercepted(Reply reply, String path) throws InterruptedException {
    assertThat(reply.status()).as("%s", reply).isEqualTo(200);
    assertThat(reply.body()).as("%s", reply).isEqualTo("origin saw GET " + path + " body=0");
    intercepting.awaitStderr("decision=allow", "protocol=https ", "host=allowed.test", "method=GET");
  }

  // ---- the printed environment ----

  @Test
  void printedEnvironmentIsWhatRunGivesItsChild() throws Exception {
    Path config = intercepting.configDirectory().resolve("egressd.toml");
    Map<String, String> environment = Map.of("EGRESSD_HOME", intercepting.egressdHome().toString(), "CODEX_HOME",
        dir.resolve("no-codex").toString(), "HOME", dir.toString());
    Path childEnv = dir.resolve("child.env");
    ProcessResult run = Egressd.cli(environment, "run", "--config", config.toString(), "--listen", "127.0.0.1:0",
        "--socks-listen", "127.0.0.1:0", "--", "sh", "-c", "env -0 > \"$0\"", childEnv.toString());
    assertThat(run.exitCode()).as("%s", run).isZero();
    Map<String, String> child = parseEnv(Files.readAllBytes(childEnv));
    String socksPort = child.get("ALL_PROXY").replaceAll(".*:", "");
    String httpPort = child.get("HTTP_PROXY").replaceAll(".*:", "");

    ProcessResult printed = Egressd.cli(environment, "env", "--config", config.toString(), "--listen",
        "127.0.0.1:" + httpPort, "--socks-listen", "127.0.0.1:" + socksPort);
    ProcessResult evaluated = Processes.run(List.of("/bin/sh", "-c", "eval \"$1\" && exec env -0", "sh",
        printed.stdout()), environment, dir, Duration.ofSeconds(30));

    assertThat(printed.exitCode()).as("%s", printed).isZero();
    assertThat(evaluated.exitCode()).as("%s", evaluated).isZero();
    Set<String> names = new LinkedHashSet<>();
    Matcher export = EXPORT.matcher(printed.stdout());
    while (export.find()) {
      names.add(export.group(1));
    }
    assertThat(names).contains("HTTP_PROXY", "https_proxy", "ALL_PROXY", "NO_PROXY", "no_proxy",
        "NODE_USE_ENV_PROXY", "SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS", "JAVA_TOOL_OPTIONS", "WS_PROXY", "wss_proxy",
        "YARN_HTTP_PROXY", "YARN_HTTPS_PROXY", "npm_config_http_proxy", "npm_config_https_proxy", "npm_config_proxy",
        "NPM_CONFIG_HTTP_PROXY", "NPM_CONFIG_HTTPS_PROXY", "NPM_CONFIG_PROXY", "npm_config_noproxy",
        "NPM_CONFIG_NOPROXY", "PIP_PROXY", "DOCKER_HTTP_PROXY", "DOCKER_HTTPS_PROXY", "ELECTRON_GET_USE_PROXY",
        "EGRESSD_PROXY_ACTIVE", "CODEX_NETWORK_PROXY_ACTIVE", "CODEX_NETWORK_ALLOW_LOCAL_BINDING", "GIT_SSH_COMMAND")
        .contains("BUNDLE_SSL_CA_CERT").doesNotContain("BUNDLE_HTTP_PROXY", "BUNDLE_HTTPS_PROXY", "BUNDLE_NO_PROXY")
        .hasSize(45);
    assertThat(child).containsEntry("PIP_PROXY", child.get("HTTP_PROXY"))
        .containsEntry("npm_config_https_proxy", child.get("HTTP_PROXY")).containsEntry("npm_config_noproxy", "")
        .containsEntry("CODEX_NETWORK_PROXY_ACTIVE", "1").containsEntry("CODEX_NETWORK_ALLOW_LOCAL_BINDING", "0");
    // Both are sh started with the same environment; only the shells' own bookkeeping may differ.
    Map<String, String> shell = parseEnv(evaluated.stdout().getBytes(StandardCharsets.UTF_8));
    SHELL_OWN.forEach(name -> {
      shell.remove(name);
      child.remove(name);
    });
    assertThat(shell).containsExactlyInAnyOrderEntriesOf(child);
  }

  private static Map<String, String> parseEnv(byte[] nulSeparated) {
    Map<String, String> env = new HashMap<>();
    for (String entry : new String(nulSeparated, StandardCharsets.UTF_8).split("\0")) {
      int eq = entry.indexOf('=');
      if (eq > 0) {
        env.put(entry.substring(0, eq), entry.substring(eq + 1));
      }
    }
    return env;
  }

  // ---- curl ----

  @Test
  void curlReachesAnAllowedHostThroughTheProxy() throws InterruptedException {
    assertReachedOrigin(plain(RecipeClients.curl(http.url("allowed.test", "/curl"))), "/curl");
  }

  @Test
  void curlShowsTheProxysRefusal() {
    assertProxyRefused(plain(RecipeClients.curl(http.url("denied.test", "/curl-denied"))), "blocked-by-denylist",
        "/curl-denied");
    assertThat(http.connectionCount()).isZero();
  }

  @Test
  void curlTunnelsHttpsThroughConnect() throws InterruptedException {
    Reply reply = plain(Map.of("CURL_CA_BUNDLE", TestCertificates.get().caPem().toString()), "",
        RecipeClients.curl(https.url("allowed.test", "/curl-tls")));

    assertThat(reply.status()).as("%s", reply).isEqualTo(200);
    assertThat(reply.body()).isEqualTo("origin saw GET /curl-tls body=0");
    egressd.awaitStderr("decision=allow", "protocol=https_connect", "host=allowed.test");
  }

  @Test
  void curlSendsLoopbackAddressesThroughThePolicy() {
    // NO_PROXY is empty (allow_local_binding = false), so even 127.0.0.2 goes to the proxy, which refuses it.
    Reply reply = plain(RecipeClients.curl(http.url("127.0.0.2", "/local")));

    assertThat(reply.status()).as("%s", reply).isEqualTo(403);
    assertThat(reply.proxyError()).isEqualTo("blocked-by-allowlist");
    assertThat(http.connectionCount()).isZero();
  }

  @Test
  void curlTrustsTheInterceptionThroughThePrintedVariables() throws InterruptedException {
    assertIntercepted(intercepted(RecipeClients.curl(https.url("allowed.test", "/curl-mitm"))), "/curl-mitm");
  }

  // ---- wget ----

  @Test
  void wgetReachesAnAllowedHostAndReportsTheRefusal() throws InterruptedException {
    ProcessResult allowed = clients.run(plainEnv, Map.of(), "", List.of("wget", "-q", "-O", "-", "-T", "20",
        http.url("allowed.test", "/wget")));
    ProcessResult denied = clients.run(plainEnv, Map.of(), "", List.of("wget", "-S", "-O", "-", "-T", "20",
        "--tries", "1", http.url("denied.test", "/wget")));

    assertThat(allowed.exitCode()).as("%s", allowed).isZero();
    assertThat(allowed.stdout()).isEqualTo("origin saw GET /wget body=0\n");
    egressd.awaitStderr("decision=allow", "host=allowed.test", "port=" + http.port());
    assertThat(denied.exitCode()).as("wget exits 8 on an HTTP error\n%s", denied).isEqualTo(8);
    assertThat(denied.stderr()).contains("403 Forbidden", "x-proxy-error: blocked-by-denylist");
    assertThat(http.requests()).extracting(RecordedRequest::target).containsExactly("/wget");
  }

  @Test
  void wgetTunnelsHttpsThroughConnect() throws InterruptedException {
    ProcessResult result = clients.run(plainEnv, Map.of(), "", List.of("wget", "-q", "-O", "-", "-T", "20",
        "--ca-certificate=" + TestCertificates.get().caPem(), https.url("allowed.test", "/wget-tls")));

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(result.stdout()).isEqualTo("origin saw GET /wget-tls body=0\n");
    egressd.awaitStderr("decision=allow", "protocol=https_connect", "host=allowed.test");
  }

  @Test
  void wgetTrustsTheInterceptionOnlyWhenGivenTheBundle() throws InterruptedException {
    // Debian's wget (GnuTLS) reads no CA variable; the recipe passes the printed bundle explicitly.
    ProcessResult unaware = clients.run(interceptingEnv, Map.of(), "", List.of("wget", "-q", "-O", "-", "-T", "20",
        "--tries", "1", https.url("allowed.test", "/wget-untrusted")));
    ProcessResult result = clients.run(interceptingEnv, Map.of(), "", List.of("sh", "-c",
        "exec wget -q -O - -T 20 --ca-certificate=\"$SSL_CERT_FILE\" \"$0\"",
        https.url("allowed.test", "/wget-mitm")));

    assertThat(unaware.exitCode()).as("wget exits 5 when verification fails\n%s", unaware).isEqualTo(5);
    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(result.stdout()).isEqualTo("origin saw GET /wget-mitm body=0\n");
    intercepting.awaitStderr("decision=allow", "protocol=https ", "host=allowed.test", "method=GET");
  }

  // ---- git ----

  @Test
  void gitClonesFromAnAllowedHostAndFailsOnADeniedOne() throws IOException, InterruptedException {
    Path target = dir.resolve("clone-" + System.nanoTime());

    ProcessResult clone = git(plainEnv, Map.of(), "clone", http.url("allowed.test", "/repo.git"), target.toString());
    ProcessResult denied = git(plainEnv, Map.of(), "clone", http.url("denied.test", "/repo.git"),
        dir.resolve("denied-" + System.nanoTime()).toString());

    assertThat(clone.exitCode()).as("%s", clone).isZero();
    assertThat(Files.readString(target.resolve("README"))).isEqualTo("cloned through egressd\n");
    egressd.awaitStderr("decision=allow", "host=allowed.test", "port=" + http.port());
    assertThat(denied.exitCode()).as("%s", denied).isNotZero();
    assertThat(denied.stderr()).contains("403");
    assertThat(http.requests()).extracting(RecordedRequest::target)
        .contains("/repo.git/info/refs?service=git-upload-pack");
  }

  @Test
  void gitTrustsTheInterceptionThroughThePrintedVariables() throws IOException {
    Path target = dir.resolve("mitm-clone-" + System.nanoTime());

    ProcessResult clone = git(interceptingEnv, Map.of(), "clone", https.url("allowed.test", "/repo.git"),
        target.toString());

    assertThat(clone.exitCode()).as("%s", clone).isZero();
    assertThat(Files.readString(target.resolve("README"))).isEqualTo("cloned through egressd\n");
    assertThat(https.requests()).extracting(RecordedRequest::target)
        .contains("/repo.git/info/refs?service=git-upload-pack");
  }

  private static ProcessResult git(String printedEnv, Map<String, String> environment, String... args) {
    List<String> command = new ArrayList<>(List.of("git"));
    command.addAll(List.of(args));
    Map<String, String> env = new HashMap<>(Map.of("GIT_CONFIG_NOSYSTEM", "1", "GIT_TERMINAL_PROMPT", "0"));
    env.putAll(environment);
    return clients.run(printedEnv, env, "", command);
  }

  // ---- Python ----

  @Test
  void requestsReachesAnAllowedHostAndShowsTheRefusal() throws InterruptedException {
    assertReachedOrigin(plain(clients.python("requests", http.url("allowed.test", "/requests"))), "/requests");
    assertProxyRefused(plain(clients.python("requests", http.url("denied.test", "/requests-denied"))),
        "blocked-by-denylist", "/requests-denied");
  }

  @Test
  void requestsTunnelsHttpsThroughConnectAndReportsARefusedTunnel() throws InterruptedException {
    Map<String, String> trust = Map.of("REQUESTS_CA_BUNDLE", TestCertificates.get().caPem().toString());

    Reply allowed = plain(trust, "", clients.python("requests", https.url("allowed.test", "/requests-tls")));
    Reply denied = plain(trust, "", clients.python("requests", https.url("denied.test", "/requests-tls")));

    assertThat(allowed.status()).as("%s", allowed).isEqualTo(200);
    assertThat(allowed.body()).isEqualTo("origin saw GET /requests-tls body=0");
    egressd.awaitStderr("decision=allow", "protocol=https_connect", "host=allowed.test");
    assertThat(denied.status()).as("%s", denied).isEqualTo(-1);
    assertThat(denied.error()).contains("ProxyError", "403");
    assertThat(https.requests()).extracting(RecordedRequest::target).containsExactly("/requests-tls");
  }

  @Test
  void requestsTrustsTheInterceptionThroughThePrintedVariables() throws InterruptedException {
    assertIntercepted(intercepted(clients.python("requests", https.url("allowed.test", "/requests-mitm"))),
        "/requests-mitm");
  }

  @Test
  void httpxWithoutSocksSupportRejectsThePrintedAllProxy() {
    // httpx reads ALL_PROXY too and sets up its socks5h transport when the client is created: httpx 0.23 (Debian
    // 12) does not know the scheme, newer releases need the socksio package for it.
    Reply reply = plain(clients.python("httpx", http.url("allowed.test", "/httpx")));

    assertThat(reply.status()).as("%s", reply).isEqualTo(-1);
    assertThat(reply.error()).containsPattern("Unknown scheme for proxy URL URL\\('socks5h://|socksio");
    assertThat(http.connectionCount()).isZero();
  }

  @Test
  void httpxWithoutAllProxyReachesAnAllowedHostAndShowsTheRefusal() throws InterruptedException {
    String unset = "unset ALL_PROXY all_proxy";

    assertReachedOrigin(plain(Map.of(), unset, clients.python("httpx", http.url("allowed.test", "/httpx"))),
        "/httpx");
    assertProxyRefused(plain(Map.of(), unset, clients.python("httpx", http.url("denied.test", "/httpx-denied"))),
        "blocked-by-denylist", "/httpx-denied");
  }

  @Test
  void httpxTunnelsHttpsThroughConnect() throws InterruptedException {
    Reply reply = plain(Map.of("SSL_CERT_FILE", TestCertificates.get().caPem().toString()),
        "unset ALL_PROXY all_proxy", clients.python("httpx", https.url("allowed.test", "/httpx-tls")));

    assertThat(reply.status()).as("%s", reply).isEqualTo(200);
    assertThat(reply.body()).isEqualTo("origin saw GET /httpx-tls body=0");
    egressd.awaitStderr("decision=allow", "protocol=https_connect", "host=allowed.test");
  }

  @Test
  void httpxTrustsTheInterceptionThroughThePrintedVariables() throws InterruptedException {
    Reply reply = Reply.of(clients.run(interceptingEnv, Map.of(), "unset ALL_PROXY all_proxy",
        clients.python("httpx", https.url("allowed.test", "/httpx-mitm"))));

    assertIntercepted(reply, "/httpx-mitm");
  }

  // ---- Node.js ----

  @Test
  void nodeFetchWithAnUndiciProxyAgentReachesAnAllowedHost() throws InterruptedException {
    assertReachedOrigin(plain(clients.node("undici", http.url("allowed.test", "/node"))), "/node");
  }

  @Test
  void nodeFetchWithAnUndiciProxyAgentFailsOnARefusal() throws InterruptedException {
    // ProxyAgent tunnels plain HTTP too, so the refusal is a failed CONNECT: the client sees an error, no body.
    Reply reply = plain(clients.node("undici", http.url("denied.test", "/node")));

    assertThat(reply.status()).as("%s", reply).isEqualTo(-1);
    assertThat(reply.error()).contains("Proxy response", "200 when HTTP Tunneling");
    assertThat(http.connectionCount()).isZero();
    egressd.awaitStderr("decision=deny", "protocol=https_connect", "host=denied.test");
  }

  @Test
  void nodeFetchTunnelsHttpsThroughConnect() throws InterruptedException {
    Reply reply = plain(Map.of("NODE_EXTRA_CA_CERTS", TestCertificates.get().caPem().toString()), "",
        clients.node("undici", https.url("allowed.test", "/node-tls")));

    assertThat(reply.status()).as("%s", reply).isEqualTo(200);
    assertThat(reply.body()).isEqualTo("origin saw GET /node-tls body=0");
    egressd.awaitStderr("decision=allow", "protocol=https_connect", "host=allowed.test");
  }

  @Test
  void nodeTrustsTheInterceptionThroughThePrintedVariables() throws InterruptedException {
    assertIntercepted(intercepted(clients.node("undici", https.url("allowed.test", "/node-mitm"))), "/node-mitm");
  }

  @Test
  void nodeUsesThePrintedVariablesByItselfOnlyWhereNodeUseEnvProxyExists() {
    ProcessResult version = clients.run(plainEnv, Map.of(), "", List.of("node", "-p", "process.versions.node"));
    assertThat(version.exitCode()).as("%s", version).isZero();

    // A loopback address: a proxied request is refused (403), a direct one reaches the origin's decoy.
    Reply reply = plain(clients.node("plain", http.url("127.0.0.2", "/node-env")));

    if (supportsNodeUseEnvProxy(version.stdout().strip())) {
      assertThat(reply.status()).as("Node %s honours NODE_USE_ENV_PROXY\n%s", version.stdout(), reply)
          .isEqualTo(403);
      assertThat(http.connectionCount()).isZero();
    } else {
      assertThat(reply.status()).as("Node %s ignores the proxy variables\n%s", version.stdout(), reply)
          .isEqualTo(200);
      assertThat(http.onlyRequest().localAddress()).isEqualTo("127.0.0.2");
    }
  }

  /** NODE_USE_ENV_PROXY: Node.js 24 and later, and 22.21 and later in the 22 line. */
  private static boolean supportsNodeUseEnvProxy(String version) {
    String[] parts = version.split("\\.");
    int major = Integer.parseInt(parts[0]);
    int minor = Integer.parseInt(parts[1]);
    return major >= 24 || major == 22 && minor >= 21;
  }

  // ---- Go ----

  @Test
  void goReachesAnAllowedHostAndShowsTheRefusal() throws InterruptedException {
    assertReachedOrigin(plain(clients.go(http.url("allowed.test", "/go"))), "/go");
    assertProxyRefused(plain(clients.go(http.url("denied.test", "/go-denied"))), "blocked-by-denylist",
        "/go-denied");
  }

  @Test
  void goTunnelsHttpsThroughConnect() throws InterruptedException {
    Reply reply = plain(Map.of("SSL_CERT_FILE", TestCertificates.get().caPem().toString()), "",
        clients.go(https.url("allowed.test", "/go-tls")));

    assertThat(reply.status()).as("%s", reply).isEqualTo(200);
    assertThat(reply.body()).isEqualTo("origin saw GET /go-tls body=0");
    egressd.awaitStderr("decision=allow", "protocol=https_connect", "host=allowed.test");
  }

  @Test
  void goSkipsTheProxyForLoopbackAddresses() {
    // net/http never proxies loopback destinations, whatever NO_PROXY says: the policy does not see them.
    Reply reply = plain(clients.go(http.url("127.0.0.2", "/go-local")));

    assertThat(reply.status()).as("%s", reply).isEqualTo(200);
    assertThat(http.onlyRequest().localAddress()).isEqualTo("127.0.0.2");
  }

  @Test
  void goTrustsTheInterceptionThroughThePrintedVariables() throws InterruptedException {
    assertIntercepted(intercepted(clients.go(https.url("allowed.test", "/go-mitm"))), "/go-mitm");
  }

  // ---- Java ----

  @Test
  void javaHttpClientReachesAnAllowedHostThroughJavaToolOptions() throws InterruptedException {
    assertReachedOrigin(plain(clients.java(http.url("allowed.test", "/java"))), "/java");
    assertProxyRefused(plain(clients.java(http.url("denied.test", "/java-denied"))), "blocked-by-denylist",
        "/java-denied");
  }

  @Test
  void javaHttpClientSendsLoopbackAddressesThroughThePolicy() {
    // -Dhttp.nonProxyHosts= (empty) replaces the JVM's default localhost|127.*|[::1] exceptions.
    Reply reply = plain(clients.java(http.url("127.0.0.2", "/java-local")));

    assertThat(reply.status()).as("%s", reply).isEqualTo(403);
    assertThat(reply.proxyError()).isEqualTo("blocked-by-allowlist");
    assertThat(http.connectionCount()).isZero();
  }

  @Test
  void javaHttpClientTrustsTheInterceptionThroughThePrintedVariables() throws InterruptedException {
    assertIntercepted(intercepted(clients.java(https.url("allowed.test", "/java-mitm"))), "/java-mitm");
  }

  // ---- Maven ----

  @Test
  void mavenDownloadsThroughThePrintedJavaToolOptions() throws IOException, InterruptedException {
    ProcessResult result = maven(http.url("allowed.test", "/repo"));

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(http.requests()).extracting(RecordedRequest::target).contains(PARENT_POM_PATH);
    egressd.awaitStderr("decision=allow", "host=allowed.test", "port=" + http.port());
  }

  @Test
  void mavenReportsTheRefusal() throws IOException {
    ProcessResult result = maven(http.url("denied.test", "/repo"));

    assertThat(result.exitCode()).as("%s", result).isNotZero();
    assertThat(result.stdout()).contains("403");
    assertThat(http.connectionCount()).isZero();
  }

  /**
   * {@code mvn -B validate} on a project whose parent POM is only in the repository at {@code mirror} (a settings
   * file mirrors everything there), with a fresh local repository: validate needs no plugins, only the parent.
   */
  private static ProcessResult maven(String mirror) throws IOException {
    Path work = Files.createTempDirectory(dir, "maven");
    Path settings = Files.writeString(work.resolve("settings.xml"), """
        <settings>
          <mirrors>
            <mirror><id>recipe</id><mirrorOf>*</mirrorOf><url>%s</url></mirror>
          </mirrors>
        </settings>
        """.formatted(mirror));
    Path project = Files.createDirectories(work.resolve("project"));
    Files.writeString(project.resolve("pom.xml"), """
        <project xmlns="http://maven.apache.org/POM/4.0.0">
          <modelVersion>4.0.0</modelVersion>
          <parent>
            <groupId>dev.egressd.it</groupId>
            <artifactId>recipe-parent</artifactId>
            <version>1.0</version>
            <relativePath/>
          </parent>
          <artifactId>recipe</artifactId>
          <packaging>pom</packaging>
        </project>
        """);
    List<String> command = List.of("mvn", "-B", "-s", settings.toString(), "-Dmaven.repo.local="
        + work.resolve("local-repo"), "-f", project.resolve("pom.xml").toString(), "validate");
    return clients.run(plainEnv, Map.of("MAVEN_OPTS", "-Djdk.net.hosts.file=" + clients.noNames()), "", command);
  }

  private static Path mavenRepository(Path root) throws IOException {
    Path parent = Files.createDirectories(root.resolve(PARENT_POM_PATH.substring("/repo/".length())).getParent());
    Files.writeString(parent.resolve("recipe-parent-1.0.pom"), """
        <project xmlns="http://maven.apache.org/POM/4.0.0">
          <modelVersion>4.0.0</modelVersion>
          <groupId>dev.egressd.it</groupId>
          <artifactId>recipe-parent</artifactId>
          <version>1.0</version>
          <packaging>pom</packaging>
        </project>
        """);
    return root;
  }

  /** A bare repository with one commit, prepared for git's dumb HTTP protocol (static files). */
  private static Path gitRepository(Path root) throws IOException {
    Path work = Files.createDirectories(root.resolve("work"));
    Path bare = root.resolve("repo.git");
    Files.writeString(work.resolve("README"), "cloned through egressd\n");
    Map<String, String> identity = Map.of("HOME", clients.home().toString(), "GIT_CONFIG_NOSYSTEM", "1",
        "GIT_AUTHOR_NAME", "egressd-it", "GIT_AUTHOR_EMAIL", "it@allowed.test", "GIT_COMMITTER_NAME", "egressd-it",
        "GIT_COMMITTER_EMAIL", "it@allowed.test");
    String w = work.toString();
    for (List<String> step : List.of(List.of("init", "--bare", "--initial-branch=main", bare.toString()),
        List.of("-C", w, "init", "--initial-branch=main"), List.of("-C", w, "add", "README"),
        List.of("-C", w, "commit", "-m", "first"), List.of("-C", w, "push", bare.toString(), "main"),
        List.of("-C", bare.toString(), "update-server-info"))) {
      List<String> command = new ArrayList<>(List.of("git"));
      command.addAll(step);
      ProcessResult result = Processes.run(command, identity, root, Duration.ofSeconds(30));
      assertThat(result.exitCode()).as("git %s\n%s", step, result).isZero();
    }
    return bare;
  }
}
