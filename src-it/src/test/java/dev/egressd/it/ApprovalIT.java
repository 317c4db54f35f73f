package dev.egressd.it;

import static dev.egressd.it.TestData.connect;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@code ask}: the example decider answers ask for {@code other.test}, the request waits (curl's connection open),
 * and {@code egressd pending}, {@code approve} and {@code deny}, run as separate processes, answer it through the
 * admin listener with the token the daemon wrote. Also: the timeout, standing answers, the API refusing callers
 * without the token or through the proxy, and 200 requests waiting at once.
 */
@Timeout(value = 180, unit = SECONDS)
class ApprovalIT {
  private static final String RULES = """
      {"allow": ["allowed.test", "127.0.0.1"], "ask": ["other.test", "cli.test"], "default": "deny"}
      """;
  private static final String POLICY = """
      [network]
      allowed_domains = ["allowed.test"]
      allow_local_binding = true
      """;

  @RegisterExtension
  static final OriginServer origin = OriginServer.http();

  private DeciderProcess decider;
  private Daemon egressd;

  @BeforeEach
  void resetOrigin() {
    origin.reset();
  }

  @AfterEach
  void stop() throws Exception {
    if (egressd != null) {
      egressd.stop();
    }
    if (decider != null) {
      decider.close();
    }
  }

  private void start(String... deciderLines) throws Exception {
    startWith(POLICY, deciderLines);
  }

  private void startWith(String policy, String... deciderLines) throws Exception {
    decider = DeciderProcess.start(RULES);
    egressd = Daemon.withConfig(policy + decider.configTable(deciderLines)).withArgs("--admin-listen", "127.0.0.1:0");
    egressd.start();
  }

  private ProcessResult cli(String... args) {
    return new Approver(egressd).cli(args);
  }

  private CompletableFuture<Curl.Result> getInBackground(String host, String path) {
    return CompletableFuture.supplyAsync(() -> Curl.fetch("-x", egressd.url(), origin.url(host, path)));
  }

  private List<Map<String, Object>> pending() {
    return new Approver(egressd).pending();
  }

  private List<Map<String, Object>> awaitPending(Predicate<List<Map<String, Object>>> until) throws Exception {
    return new Approver(egressd).awaitPending(until);
  }

  private static long id(Map<String, Object> entry) {
    return Approver.id(entry);
  }

  @Test
  void anAskedRequestWaitsUntilApproveFromAnotherProcessLetsItThrough() throws Exception {
    start();
    CompletableFuture<Curl.Result> waiting = getInBackground("other.test", "/first");

    Map<String, Object> entry = awaitPending(p -> p.size() == 1).get(0);
    assertThat(entry).containsEntry("protocol", "http").containsEntry("host", "other.test")
        .containsEntry("method", "GET").containsEntry("reason", "rule other.test (ask)");
    assertThat(entry.get("client").toString()).startsWith("127.0.0.1:");
    assertThat(waiting).as("still waiting for a person").isNotDone();
    assertThat(egressd.awaitStderr("decision=ask", "source=decider", "host=other.test")).isNotNull();

    ProcessResult approved = cli("approve", String.valueOf(id(entry)));
    assertThat(approved.exitCode()).as("%s", approved).isZero();
    assertThat(approved.stdout()).isEqualTo("approved " + id(entry) + " (scope once)\n");
    Curl.Result result = waiting.get(30, SECONDS);
    assertThat(result.reply().status()).as("%s", result).isEqualTo(200);
    assertThat(egressd.awaitStderr("decision=allow", "reason=not_allowed", "source=approval", "host=other.test",
        "decider_reason=\"approved by cli\"")).isNotNull();
    assertThat(pending()).isEmpty();

    // Scope once: the next request is asked again.
    CompletableFuture<Curl.Result> again = getInBackground("other.test", "/second");
    Map<String, Object> second = awaitPending(p -> p.size() == 1).get(0);
    assertThat(id(second)).isNotEqualTo(id(entry));
    assertThat(cli("deny", String.valueOf(id(second))).exitCode()).isZero();
    Curl.Result denied = again.get(30, SECONDS);
    assertThat(denied.reply().status()).isEqualTo(403);
    assertThat(denied.reply().header("x-proxy-error")).isEqualTo("blocked-by-policy");
    assertThat(denied.reply().json()).containsEntry("reason", "denied by cli").containsEntry("source", "approval");
    assertThat(origin.requestCount()).isEqualTo(1);
    PrometheusText metrics = new AdminClient(egressd.adminPort()).metrics();
    assertThat(metrics.sum("egressd_approvals_answered_total", "outcome", "approved", "by", "cli")).isEqualTo(1.0);
    assertThat(metrics.sum("egressd_approvals_answered_total", "outcome", "denied", "by", "cli")).isEqualTo(1.0);
    assertThat(metrics.sum("egressd_approvals_pending")).isZero();
  }

  @Test
  void scopeHostAnswersTheRequestsToComeWithoutAsking() throws Exception {
    start();
    CompletableFuture<Curl.Result> waiting = getInBackground("other.test", "/");
    long id = id(awaitPending(p -> p.size() == 1).get(0));

    assertThat(cli("approve", String.valueOf(id), "--scope", "host", "--for", "10m").stdout())
        .isEqualTo("approved " + id + " (scope host, for 600 s)\n");
    assertThat(waiting.get(30, SECONDS).reply().status()).isEqualTo(200);
    Curl.Result next = Curl.fetch("-x", egressd.url(), origin.url("other.test", "/next"));
    assertThat(next.reply().status()).as("%s", next).isEqualTo(200);
    assertThat(decider.decisions()).as("the standing answer needs no decider call").hasSize(1);

    CompletableFuture<Curl.Result> cli = getInBackground("cli.test", "/");
    long deny = id(awaitPending(p -> p.size() == 1).get(0));
    assertThat(cli("deny", String.valueOf(deny), "--scope", "host:port").exitCode()).isZero();
    assertThat(cli.get(30, SECONDS).reply().status()).isEqualTo(403);
    Curl.Result refusedAtOnce = Curl.fetch("-x", egressd.url(), origin.url("cli.test", "/again"));
    assertThat(refusedAtOnce.reply().json()).containsEntry("reason", "denied by cli");
    assertThat(pending()).isEmpty();
  }

  @Test
  void standingAnswersSurviveARestartWithTheApprovalsFile(@org.junit.jupiter.api.io.TempDir Path dir)
      throws Exception {
    Path kept = dir.resolve("approvals");
    decider = DeciderProcess.start(RULES);
    Daemon daemon = Daemon.withConfig(POLICY + decider.configTable())
        .withArgs("--admin-listen", "127.0.0.1:0", "--approvals", kept.toString());
    egressd = daemon;
    egressd.start();
    CompletableFuture<Curl.Result> waiting = getInBackground("other.test", "/");
    long id = id(awaitPending(p -> p.size() == 1).get(0));
    assertThat(cli("approve", String.valueOf(id), "--scope", "host").exitCode()).isZero();
    assertThat(waiting.get(30, SECONDS).reply().status()).isEqualTo(200);
    assertThat(Files.readAllLines(kept)).contains("allow other.test * - cli");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(kept))).isEqualTo("rw-------");
    egressd.stop();

    egressd = daemon;
    egressd.start();
    Curl.Result after = Curl.fetch("-x", egressd.url(), origin.url("other.test", "/after-restart"));
    assertThat(after.reply().status()).as("%s", after).isEqualTo(200);
    assertThat(decider.decisions()).as("the kept answer needs no decider call").hasSize(1);
  }

  @Test
  void aBadApprovalsFileOrOneNobodyCanAnswerStopsTheStart(@org.junit.jupiter.api.io.TempDir Path dir)
      throws Exception {
    decider = DeciderProcess.start(RULES);
    Path config = Files.writeString(dir.resolve("egressd.toml"), POLICY + decider.configTable());
    Path bad = Files.writeString(dir.resolve("approvals"), "# kept\nallow other.test * - cli\nmaybe x.test 1 - cli\n");
    Map<String, String> env = Map.of("EGRESSD_HOME", dir.resolve("home").toString());

    ProcessResult refused = Egressd.cli(env, "run", "--config", config.toString(), "--listen", "127.0.0.1:0",
        "--socks-listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--approvals", bad.toString());
    assertThat(refused.exitCode()).as("%s", refused).isEqualTo(2);
    assertThat(refused.stderr()).contains("egressd: --approvals: " + bad + ":3: expected \"allow|deny HOST PORT|*"
        + " UNTIL|- WHO\", found \"maybe x.test 1 - cli\"");
    ProcessResult noAdmin = Egressd.cli(env, "run", "--config", config.toString(), "--listen", "127.0.0.1:0",
        "--socks-listen", "127.0.0.1:0", "--approvals", dir.resolve("new").toString());
    assertThat(noAdmin.exitCode()).isEqualTo(2);
    assertThat(noAdmin.stderr()).contains("--approvals needs the admin listener");
  }

  @Test
  void watchAsksAtATerminalAndItsAnswersDecide(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
    start();
    // script(1) gives watch a pseudo-terminal, as a person in another pane has; the test types into it.
    String watch = Egressd.command(List.of("watch", "--interval", "100")).stream()
        .map(arg -> "'" + arg.replace("'", "'\\''") + "'").collect(java.util.stream.Collectors.joining(" "));
    ProcessBuilder builder = new ProcessBuilder("script", "-qfec", watch, "/dev/null");
    Processes.clean(builder.environment());
    builder.environment().put("EGRESSD_HOME", egressd.egressdHome().toString());
    Path output = dir.resolve("watch.out");
    Process terminal = builder.redirectErrorStream(true).redirectOutput(output.toFile()).start();
    OutputCollector screen = OutputCollector.tail(output, terminal, "watch");
    try (java.io.Writer keys = new java.io.OutputStreamWriter(terminal.getOutputStream(),
        java.nio.charset.StandardCharsets.UTF_8)) {
      assertThat(screen.await(0, l -> l.contains("waiting for requests to approve"), Duration.ofSeconds(30)))
          .as("%s", screen.text()).isPresent();
      CompletableFuture<Curl.Result> first = getInBackground("other.test", "/typed");
      assertThat(screen.await(0, l -> l.contains("#1 http other.test:" + origin.port() + " GET from 127.0.0.1:")
          && l.contains("(rule other.test (ask))"), Duration.ofSeconds(30))).as("%s", screen.text()).isPresent();
      keys.write("y\n");
      keys.flush();
      assertThat(first.get(30, SECONDS).reply().status()).isEqualTo(200);
      assertThat(screen.await(0, l -> l.contains("approved 1 (scope once)"), Duration.ofSeconds(10))).isPresent();
      assertThat(egressd.awaitStderr("decision=allow", "source=approval", "decider_reason=\"approved by watch\""))
          .isNotNull();

      CompletableFuture<Curl.Result> second = getInBackground("cli.test", "/");
      assertThat(screen.await(0, l -> l.contains("#2 http cli.test:"), Duration.ofSeconds(30))).isPresent();
      keys.write("what\nv\n"); // an unknown key asks again
      keys.flush();
      assertThat(second.get(30, SECONDS).reply().status()).isEqualTo(403);
      Curl.Result never = Curl.fetch("-x", egressd.url(), origin.url("cli.test", "/again"));
      assertThat(never.reply().json()).containsEntry("reason", "denied by watch").containsEntry("source", "approval");
    }
    if (!terminal.waitFor(10, SECONDS)) {
      terminal.destroyForcibly();
    }
  }

  @Test
  void nobodyAnsweringIsA403ThatSaysHowToApprove() throws Exception {
    startWith(POLICY + "ask_timeout = 1\n");
    Curl.Result result = Curl.fetch("-x", egressd.url(), origin.url("other.test", "/"));

    assertThat(result.reply().status()).as("%s", result).isEqualTo(403);
    assertThat(result.reply().header("x-proxy-error")).isEqualTo("blocked-by-policy");
    assertThat(result.reply().json()).containsEntry("reason", "approval_timeout");
    assertThat((String) result.reply().json().get("message")).startsWith("Nobody approved the request in time.")
        .contains("within 1 s").contains("egressd approve").contains("egressd pending");
    assertThat(pending()).isEmpty();
    assertThat(egressd.awaitStderr("decision=deny", "reason=approval_timeout", "source=approval")).isNotNull();
    assertThat(new AdminClient(egressd.adminPort()).metrics()
        .sum("egressd_approvals_answered_total", "outcome", "timeout", "by", "none")).isEqualTo(1.0);
  }

  @Test
  void theApiNeedsTheTokenWrittenOnlyForTheDaemonsUserAndIsNotReachableThroughTheProxy() throws Exception {
    start();
    Path admin = egressd.egressdHome().resolve("admin");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(admin))).isEqualTo("rwx------");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(admin.resolve("token"))))
        .isEqualTo("rw-------");
    int adminPort = egressd.adminPort();

    AdminClient client = new AdminClient(adminPort);
    HttpReply anonymous = client.get("/approvals");
    assertThat(anonymous.status()).isEqualTo(401);
    assertThat(anonymous.header("www-authenticate")).isEqualTo("Bearer");
    try (RawClient raw = RawClient.connect(adminPort)) {
      HttpReply forged = raw.send("POST /approvals/1/approve HTTP/1.1\r\nHost: localhost\r\n"
          + "Authorization: Bearer not-the-token\r\nContent-Length: 0\r\n\r\n").readResponse();
      assertThat(forged.status()).isEqualTo(401);
    }
    // Even a decider that opens 127.0.0.1 does not open the admin listener: it is egressd's own.
    try (RawClient viaProxy = RawClient.connect(egressd.port())) {
      HttpReply reply = viaProxy.send(TestData.get("127.0.0.1:" + adminPort, "/approvals")).readResponse();
      assertThat(reply.status()).isEqualTo(403);
      assertThat(reply.json()).containsEntry("reason", "proxy_loop");
    }
    Path wrong = Files.writeString(Files.createTempFile("egressd-it", ".token"), "x".repeat(43));
    ProcessResult refused = cli("pending", "--token-file", wrong.toString());
    assertThat(refused.exitCode()).isEqualTo(2);
    assertThat(refused.stderr()).contains("the approval API needs the admin token");
    assertThat(cli("approve", "999").stderr()).contains("no request 999 is waiting");
    assertThat(cli("approve", "1", "--scope", "everything").stderr()).contains("scope must be once, host or"
        + " host:port");

    egressd.stop();
    assertThat(admin.resolve("token")).as("the token is void once the daemon stops").doesNotExist();
    egressd = null;
  }

  @Test
  void twoHundredRequestsWaitingAtOnceAreHeldAndReleasedTogether() throws Exception {
    start();
    List<RawClient> clients = new ArrayList<>();
    try {
      for (int i = 0; i < 200; i++) {
        RawClient client = RawClient.connect(egressd.port());
        client.send(connect(origin.authority("other.test")));
        clients.add(client);
      }
      List<Map<String, Object>> waiting = awaitPending(p -> p.size() == 200);
      assertThat(new AdminClient(egressd.adminPort()).metrics().sum("egressd_approvals_pending")).isEqualTo(200.0);
      assertThat(decider.decisions()).as("one decider call for the same destination").hasSize(1);
      // The daemon still serves others while 200 wait.
      assertThat(Curl.fetch("-x", egressd.url(), origin.url("allowed.test", "/")).reply().status()).isEqualTo(200);

      ProcessResult approved = cli("approve", String.valueOf(id(waiting.get(0))), "--scope", "host:port");
      assertThat(approved.exitCode()).as("%s", approved).isZero();
      for (RawClient client : clients) {
        assertThat(client.readConnectResponse().status()).isEqualTo(200);
      }
      assertThat(pending()).isEmpty();
    } finally {
      for (RawClient client : clients) {
        client.close();
      }
    }
  }
}
