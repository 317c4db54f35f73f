package dev.egressd.it;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 8: egressd as the only way out of an agent's network, on real interfaces in three network namespaces that
 * this test creates (and deletes) itself:
 *
 * <pre>
 *  agent                      egressd                                   origin
 *  10.200.1.2 ---- veth ----  10.200.1.1 | 10.200.2.1  ---- veth ----  10.200.2.2, 10.200.2.3
 *  default via 10.200.1.1     net.ipv4.ip_forward = 0                   default via 10.200.2.1
 *                             egressd: HTTP 10.200.1.1:3128,            python3 http.server :8080
 *                                      SOCKS5 10.200.1.1:1080
 * </pre>
 *
 * The agent's only route leads into the egressd namespace, which does not forward packets, so the agent reaches the
 * origin through egressd or not at all. The policy allows exactly 10.200.2.2; 10.200.2.3 is the same origin server
 * under an address no rule names. The veths are created inside the namespaces and all addresses exist only there:
 * the host's own interfaces and routes are never touched.
 *
 * <p>Needs root (for {@code ip netns}); {@code EGRESSD_IT_SKIP_NETNS=1} skips the class instead of failing it.
 */
@Timeout(value = 120, unit = SECONDS)
class NamespaceTopologyIT {
  private static final String PROXY_ADDRESS = "10.200.1.1";
  private static final String AGENT_ADDRESS = "10.200.1.2";
  private static final String ORIGIN_GATEWAY = "10.200.2.1";
  private static final String ALLOWED_ORIGIN = "10.200.2.2";
  private static final String UNLISTED_ORIGIN = "10.200.2.3";
  private static final int HTTP_PORT = 3128;
  private static final int SOCKS_PORT = 1080;
  private static final int ORIGIN_PORT = 8080;
  private static final String CONFIG = """
      [network]
      allowed_domains = ["10.200.2.2"]
      dangerously_allow_non_loopback_proxy = true
      """;
  private static final Duration STARTUP = Duration.ofSeconds(60);
  private static final Duration CLIENT = Duration.ofSeconds(30);
  private static final int ISOLATED_EXIT = 42;

  private static final String ID = HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt()).substring(2);
  private static final String AGENT = "egdit-" + ID + "-agent";
  private static final String EGRESSD = "egdit-" + ID + "-egressd";
  private static final String ORIGIN = "egdit-" + ID + "-origin";
  private static final String BODY = "hello from the origin namespace " + ID;
  /** How curl -i output ends for the known file (the collector turns CRLF into LF and ends the last line). */
  private static final String BODY_AFTER_HEAD = "\n\n" + BODY + "\n";
  private static final String IP = Processes.executable("ip");
  private static final List<String> created = new ArrayList<>();
  private static final Thread cleanupOnExit = new Thread(NamespaceTopologyIT::deleteNamespaces, "netns-cleanup");

  @TempDir
  static Path dir;

  private static Path config;
  private static Process egressd;
  private static OutputCollector egressdOut;
  private static OutputCollector egressdErr;
  private static Process origin;
  private static OutputCollector originOut;
  private static OutputCollector originErr;
  private static int auditMark;

  @BeforeAll
  static void createTopology() throws IOException, InterruptedException {
    assumeFalse("1".equals(System.getenv("EGRESSD_IT_SKIP_NETNS")), "EGRESSD_IT_SKIP_NETNS=1");
    assertThat(isRoot()).as("NamespaceTopologyIT needs root for ip netns (set EGRESSD_IT_SKIP_NETNS=1 to skip it)")
        .isTrue();
    Runtime.getRuntime().addShutdownHook(cleanupOnExit);
    createNamespaces();
    config = Files.writeString(dir.resolve("egressd.toml"), CONFIG);
    startOrigin();
    startEgressd();
  }

  @AfterAll
  static void deleteTopology() throws InterruptedException {
    try {
      stop(egressd);
      stop(origin);
    } finally {
      deleteNamespaces();
      removeCleanupHook();
    }
    if (egressdErr != null) {
      assertThat(egressdErr.lines()).as("Netty leak reports from egressd\n%s", egressdErr.text())
          .noneMatch(line -> line.contains("LEAK:"));
    }
  }

  @BeforeEach
  void markAudit() {
    auditMark = egressdErr.size();
  }

  @Test
  void agentCannotReachTheOriginDirectlyButTheEgressdNamespaceCan() throws InterruptedException {
    ProcessResult routes = Processes.run(List.of(IP, "-n", AGENT, "-4", "route", "show"), Map.of(), null, CLIENT);
    ProcessResult direct = curl(AGENT, "--noproxy", "*", "-m", "5", originUrl(ALLOWED_ORIGIN, "agent-direct"));

    assertThat(routes.stdout().lines().map(String::strip)).as("%s", routes).containsExactlyInAnyOrder(
        "default via " + PROXY_ADDRESS + " dev ea" + ID,
        "10.200.1.0/24 dev ea" + ID + " proto kernel scope link src " + AGENT_ADDRESS);
    // The egressd namespace neither forwards the SYN nor, not being a router, answers it with an ICMP error: curl
    // times out (28) rather than failing to connect (7).
    assertThat(direct.exitCode()).as("%s", direct).isEqualTo(28);
    assertThat(direct.stdout()).isEmpty();
    // Control: the origin is up and answers on both addresses; only the topology keeps the agent out.
    ProcessResult allowed = curl(EGRESSD, "--noproxy", "*", originUrl(ALLOWED_ORIGIN, "control"));
    assertThat(allowed.exitCode()).as("%s", allowed).isZero();
    assertThat(allowed.stdout()).startsWith("HTTP/1.0 200 OK\n").endsWith(BODY_AFTER_HEAD);
    ProcessResult unlisted = curl(EGRESSD, "--noproxy", "*", originUrl(UNLISTED_ORIGIN, "control-unlisted"));
    assertThat(unlisted.exitCode()).as("%s", unlisted).isZero();
    assertThat(unlisted.stdout()).endsWith(BODY_AFTER_HEAD);
    assertThat(originRequests("agent-direct")).isEmpty();
    assertThat(servedRequests("control")).singleElement().asString().startsWith(ORIGIN_GATEWAY + " ");
  }

  @Test
  void agentReachesTheAllowedOriginThroughTheHttpProxy() throws InterruptedException {
    ProcessResult result = curl(AGENT, "-x", httpProxy(), originUrl(ALLOWED_ORIGIN, "http-allowed"));

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(result.stdout()).startsWith("HTTP/1.1 200 OK\n").endsWith(BODY_AFTER_HEAD);
    assertThat(awaitAudit("decision=allow", "protocol=http ", "host=" + ALLOWED_ORIGIN + " ", "port=8080 "))
        .contains("method=GET", "client=" + AGENT_ADDRESS);
    // The origin sees egressd's address on its side, never the agent's.
    assertThat(servedRequests("http-allowed")).singleElement().asString().startsWith(ORIGIN_GATEWAY + " ");
  }

  @Test
  void httpProxyRefusesAnOriginNoRuleNames() throws InterruptedException {
    ProcessResult result = curl(AGENT, "-x", httpProxy(), originUrl(UNLISTED_ORIGIN, "http-unlisted"));

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(result.stdout()).startsWith("HTTP/1.1 403 Forbidden\n")
        .containsIgnoringCase("\nx-proxy-error: blocked-by-allowlist\n")
        .contains("\"reason\":\"not_allowed\"");
    assertThat(awaitAudit("decision=deny", "host=" + UNLISTED_ORIGIN + " "))
        .contains("reason=not_allowed ", "protocol=http ", "port=8080 ", "client=" + AGENT_ADDRESS);
    assertThat(originRequests("http-unlisted")).isEmpty();
  }

  @Test
  void agentTunnelsToTheAllowedOriginWithConnect() throws InterruptedException {
    ProcessResult result = curl(AGENT, "-p", "-x", httpProxy(), originUrl(ALLOWED_ORIGIN, "connect-allowed"));

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(result.stdout()).startsWith("HTTP/1.1 200 Connection Established\n\nHTTP/1.0 200 OK\n")
        .endsWith(BODY_AFTER_HEAD);
    assertThat(awaitAudit("decision=allow", "host=" + ALLOWED_ORIGIN + " ")).contains("method=CONNECT",
        "client=" + AGENT_ADDRESS);
    assertThat(servedRequests("connect-allowed")).singleElement().asString().startsWith(ORIGIN_GATEWAY + " ");
  }

  @Test
  void agentReachesTheAllowedOriginThroughSocks5AndIsRefusedTheOther() throws InterruptedException {
    String socks = PROXY_ADDRESS + ":" + SOCKS_PORT;
    ProcessResult allowed = curl(AGENT, "--socks5-hostname", socks, originUrl(ALLOWED_ORIGIN, "socks-allowed"));
    ProcessResult refused = curl(AGENT, "--socks5-hostname", socks, originUrl(UNLISTED_ORIGIN, "socks-unlisted"));

    assertThat(allowed.exitCode()).as("%s", allowed).isZero();
    assertThat(allowed.stdout()).startsWith("HTTP/1.0 200 OK\n").endsWith(BODY_AFTER_HEAD);
    assertThat(refused.exitCode()).as("curl: proxy handshake error (97)\n%s", refused).isEqualTo(97);
    assertThat(refused.stdout()).isEmpty();
    assertThat(awaitAudit("decision=deny", "host=" + UNLISTED_ORIGIN + " "))
        .contains("reason=not_allowed ", "protocol=socks5_tcp ", "client=" + AGENT_ADDRESS);
    assertThat(servedRequests("socks-allowed")).singleElement().asString().startsWith(ORIGIN_GATEWAY + " ");
    assertThat(originRequests("socks-unlisted")).isEmpty();
  }

  /**
   * {@code run --isolate} inside the egressd namespace. Without {@code --isolate} the same direct request succeeds
   * from this namespace (the control in {@link #agentCannotReachTheOriginDirectlyButTheEgressdNamespaceCan}): only
   * the isolation stops it.
   */
  @Test
  void isolatedChildIgnoringProxyVariablesGetsNoNetworkButProxiedRequestsFollowPolicy()
      throws IOException, InterruptedException {
    Path tmp = Files.createDirectory(dir.resolve("isolate-tmp"));
    String script = """
        probe() {
          name=$1; shift
          out=$(curl -q -sS -m 10 -w ' status=%%{http_code}' "$@" 2>/dev/null)
          code=$?
          echo "$name: exit=$code $(printf %%s "$out" | tr '\\n' ' ')"
        }
        ls -d %1$s/egressd-isolate-* | sed 's/^/socket-dir: /'
        probe direct --noproxy '*' %2$s
        probe proxied --noproxy '' %3$s
        probe unlisted --noproxy '' %4$s
        probe socks --noproxy '' -x "$ALL_PROXY" %5$s
        exit %6$d
        """.formatted(tmp, originUrl(ALLOWED_ORIGIN, "isolated-direct"), originUrl(ALLOWED_ORIGIN, "isolated-http"),
        originUrl(UNLISTED_ORIGIN, "isolated-unlisted"), originUrl(ALLOWED_ORIGIN, "isolated-socks"), ISOLATED_EXIT);
    List<String> command = new ArrayList<>(Egressd.command(List.of("run", "--isolate", "--config", config.toString(),
        "--listen", "127.0.0.1:0", "--socks-listen", "127.0.0.1:0", "--", "sh", "-c", script)));
    command.add(1, "-Djava.io.tmpdir=" + tmp);

    ProcessResult result = Processes.run(inNamespace(EGRESSD, command), egressdEnvironment("isolated"), null,
        Duration.ofSeconds(90));

    assertThat(result.exitCode()).as("the child's exit status\n%s", result).isEqualTo(ISOLATED_EXIT);
    // 7: the namespace has loopback only, so there is no route to the origin at all.
    assertThat(probe(result, "direct")).as("a client ignoring the proxy variables\n%s", result)
        .isEqualTo("direct: exit=7  status=000");
    assertThat(probe(result, "proxied")).isEqualTo("proxied: exit=0 " + BODY + " status=200");
    assertThat(probe(result, "unlisted"))
        .startsWith("unlisted: exit=0 {\"status\":\"blocked\",\"host\":\"10.200.2.3\",\"reason\":\"not_allowed\"")
        .endsWith(" status=403");
    assertThat(probe(result, "socks")).isEqualTo("socks: exit=0 " + BODY + " status=200");
    assertThat(probe(result, "socket-dir")).matches("socket-dir: " + Pattern.quote(tmp + "/egressd-isolate-") + "\\d+");
    // Everything the child sent came over the bridge's Unix sockets; nothing else left its namespace.
    assertThat(result.stderr()).contains("running sh in a new network namespace")
        .containsPattern("decision=allow reason=allow .*protocol=http host=" + ALLOWED_ORIGIN
            + " port=8080 method=GET client=unix-socket")
        .containsPattern("decision=deny reason=not_allowed .*protocol=http host=" + UNLISTED_ORIGIN
            + " port=8080 method=GET client=unix-socket")
        .containsPattern("decision=allow reason=allow .*protocol=socks5_tcp host=" + ALLOWED_ORIGIN
            + " port=8080 method=none client=unix-socket");
    assertThat(originRequests("isolated-direct")).isEmpty();
    assertThat(originRequests("isolated-unlisted")).isEmpty();
    assertThat(servedRequests("isolated-http")).singleElement().asString().startsWith(ORIGIN_GATEWAY + " ");
    assertThat(servedRequests("isolated-socks")).singleElement().asString().startsWith(ORIGIN_GATEWAY + " ");
    assertNothingLeftIn(tmp);
  }

  /** The line the child script printed for one probe, {@code NAME: exit=CURL_EXIT BODY status=HTTP_STATUS}. */
  private static String probe(ProcessResult result, String name) {
    return result.stdout().lines().filter(line -> line.startsWith(name + ": ")).findFirst()
        .orElseGet(() -> fail("the child printed no \"%s:\" line\n%s", name, result));
  }

  private static void assertNothingLeftIn(Path tmp) throws IOException {
    try (Stream<Path> files = Files.walk(tmp)) {
      assertThat(files.map(Path::getFileName).map(Path::toString))
          .noneMatch(name -> name.startsWith("egressd-isolate-") || name.endsWith(".sock"));
    }
    ProcessResult processes = Processes.run(List.of("pgrep", "-a", "-f", tmp.toString()), Map.of(), null, CLIENT);
    assertThat(processes.exitCode()).as("processes still running with %s in their command line\n%s", tmp,
        processes).isEqualTo(1);
  }

  private static void createNamespaces() {
    for (String namespace : List.of(AGENT, EGRESSD, ORIGIN)) {
      ip("netns", "add", namespace);
      created.add(namespace);
      ip("-n", namespace, "link", "set", "lo", "up");
    }
    // Made inside the namespaces, so the host namespace never holds these interfaces, even briefly.
    ip("-n", AGENT, "link", "add", "ea" + ID, "type", "veth", "peer", "name", "ep" + ID, "netns", EGRESSD);
    ip("-n", EGRESSD, "link", "add", "eo" + ID, "type", "veth", "peer", "name", "oe" + ID, "netns", ORIGIN);
    address(AGENT, "ea" + ID, AGENT_ADDRESS);
    address(EGRESSD, "ep" + ID, PROXY_ADDRESS);
    address(EGRESSD, "eo" + ID, ORIGIN_GATEWAY);
    address(ORIGIN, "oe" + ID, ALLOWED_ORIGIN, UNLISTED_ORIGIN);
    ip("-n", AGENT, "route", "add", "default", "via", PROXY_ADDRESS);
    ip("-n", ORIGIN, "route", "add", "default", "via", ORIGIN_GATEWAY);
    // A new namespace may inherit forwarding from the host; the test depends on it being off, so it says so.
    ProcessResult forwarding = Processes.run(inNamespace(EGRESSD, List.of("sysctl", "-w", "net.ipv4.ip_forward=0")),
        Map.of(), null, CLIENT);
    assertThat(forwarding.stdout()).as("%s", forwarding).isEqualTo("net.ipv4.ip_forward = 0\n");
  }

  private static void address(String namespace, String device, String... addresses) {
    for (String address : addresses) {
      ip("-n", namespace, "address", "add", address + "/24", "dev", device);
    }
    ip("-n", namespace, "link", "set", device, "up");
  }

  private static void startOrigin() throws IOException, InterruptedException {
    Path www = Files.createDirectory(dir.resolve("www"));
    Files.writeString(www.resolve("hello.txt"), BODY);
    ProcessBuilder builder = new ProcessBuilder(inNamespace(ORIGIN, List.of(Processes.executable("python3"), "-u",
        "-m", "http.server", String.valueOf(ORIGIN_PORT), "--bind", "0.0.0.0", "--directory", www.toString())));
    Processes.clean(builder.environment());
    ChildProcess child = ChildProcess.start(builder, "origin");
    origin = child.process();
    originOut = child.stdout();
    originErr = child.stderr();
    awaitLine(originOut, "Serving HTTP on 0.0.0.0 port " + ORIGIN_PORT, "the origin", originErr);
  }

  private static void startEgressd() throws IOException, InterruptedException {
    ProcessBuilder builder = new ProcessBuilder(inNamespace(EGRESSD, Egressd.command(List.of("run", "--config",
        config.toString(), "--listen", PROXY_ADDRESS + ":" + HTTP_PORT, "--socks-listen",
        PROXY_ADDRESS + ":" + SOCKS_PORT))));
    Processes.clean(builder.environment());
    builder.environment().putAll(egressdEnvironment("daemon"));
    ChildProcess child = ChildProcess.start(builder, "egressd");
    egressd = child.process();
    egressdOut = child.stdout();
    egressdErr = child.stderr();
    awaitLine(egressdOut, "egressd: HTTP proxy listening on " + PROXY_ADDRESS + ":" + HTTP_PORT + " ", "egressd",
        egressdErr);
    awaitLine(egressdOut, "egressd: SOCKS5 proxy listening on " + PROXY_ADDRESS + ":" + SOCKS_PORT + " ", "egressd",
        egressdErr);
  }

  /** An empty CODEX_HOME and a private EGRESSD_HOME, so no user configuration or CA can leak in. */
  private static Map<String, String> egressdEnvironment(String name) {
    Path home = dir.resolve(name + "-home");
    return Map.of("CODEX_HOME", home.resolve("codex").toString(), "EGRESSD_HOME", home.resolve("egressd").toString());
  }

  private static void awaitLine(OutputCollector out, String fragment, String what, OutputCollector err)
      throws InterruptedException {
    if (out.await(0, line -> line.contains(fragment), STARTUP).isEmpty()) {
      fail("%s did not print \"%s\" within %s\n--- stdout ---\n%s--- stderr ---\n%s", what, fragment, STARTUP,
          out.text(), err.text());
    }
  }

  private static void stop(Process process) throws InterruptedException {
    if (process == null) {
      return;
    }
    process.destroy();
    if (!process.waitFor(20, TimeUnit.SECONDS)) {
      Processes.destroy(process);
    }
  }

  /** Deletes every namespace this run made, which also removes the veths in them; safe to call twice. */
  private static synchronized void deleteNamespaces() {
    for (String namespace : List.copyOf(created)) {
      ProcessResult result = Processes.run(List.of(IP, "netns", "delete", namespace), Map.of(), null, CLIENT);
      if (result.exitCode() == 0 || !namespaceExists(namespace)) {
        created.remove(namespace);
      }
    }
  }

  private static boolean namespaceExists(String namespace) {
    return Files.exists(Path.of("/run/netns", namespace));
  }

  private static void removeCleanupHook() {
    try {
      Runtime.getRuntime().removeShutdownHook(cleanupOnExit);
    } catch (IllegalStateException | IllegalArgumentException e) {
      // not registered (skipped run), or the JVM is already shutting down and runs it anyway
    }
  }

  /** Runs {@code ip ARGS} and fails the setup with its output unless it succeeds. */
  private static void ip(String... args) {
    List<String> command = new ArrayList<>(List.of(IP));
    command.addAll(Arrays.asList(args));
    ProcessResult result = Processes.run(command, Map.of(), null, CLIENT);
    assertThat(result.exitCode()).as("%s\n%s", String.join(" ", command), result).isZero();
  }

  private static List<String> inNamespace(String namespace, List<String> command) {
    List<String> line = new ArrayList<>(List.of(IP, "netns", "exec", namespace));
    line.addAll(command);
    return line;
  }

  /** curl in a namespace, printing every response head (a proxy's CONNECT reply first) and then the body. */
  private static ProcessResult curl(String namespace, String... args) {
    List<String> command = new ArrayList<>(List.of("curl", "-q", "-sS", "-i", "-m", "10"));
    command.addAll(Arrays.asList(args));
    return Processes.run(inNamespace(namespace, command), Map.of(), null, CLIENT);
  }

  private static String httpProxy() {
    return "http://" + PROXY_ADDRESS + ":" + HTTP_PORT;
  }

  /** The known file on the origin, with a query naming the request so the origin's log shows whether it came. */
  private static String originUrl(String address, String label) {
    return "http://" + address + ":" + ORIGIN_PORT + "/hello.txt?" + label;
  }

  /** The origin's log lines ({@code CLIENT - - [time] "GET /hello.txt?LABEL HTTP/1.1" 200 -}) for one request. */
  /**
   * The origin's log lines for {@code label} once at least one is there: the origin logs a request after answering
   * it, so the client can have the response before the line is written.
   */
  private static List<String> servedRequests(String label) throws InterruptedException {
    originErr.await(0, line -> line.contains(" /hello.txt?" + label + " "), Duration.ofSeconds(10));
    return originRequests(label);
  }

  private static List<String> originRequests(String label) {
    return originErr.lines().stream().filter(line -> line.contains(" /hello.txt?" + label + " ")).toList();
  }

  /** Waits for an audit line on egressd's stderr, printed during this test, containing every fragment. */
  private static String awaitAudit(String... fragments) throws InterruptedException {
    Optional<String> line = egressdErr.await(auditMark, l -> Arrays.stream(fragments).allMatch(l::contains),
        Duration.ofSeconds(10));
    if (line.isEmpty()) {
      return fail("no egressd audit line containing all of %s; this test's stderr:\n%s", Arrays.toString(fragments),
          String.join("\n", egressdErr.linesFrom(auditMark)));
    }
    return line.get();
  }

  private static boolean isRoot() {
    try {
      return Integer.valueOf(0).equals(Files.getAttribute(Path.of("/proc/self"), "unix:uid"));
    } catch (IOException | UnsupportedOperationException e) {
      return false;
    }
  }

  /** {@code name} on PATH, then in the sbin directories a non-root PATH often lacks. */
}
