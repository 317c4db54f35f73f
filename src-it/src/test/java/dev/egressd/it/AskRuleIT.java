package dev.egressd.it;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The policy's own ask, without any decider: {@code asked_domains}, {@code "pattern" = "ask"} and a profile's
 * {@code default = "ask"} hold real clients' requests (plain HTTP, CONNECT, SOCKS5, and requests inside an
 * intercepted tunnel) until {@code egressd approve} or {@code deny}, run as another process, answers them.
 */
@Timeout(value = 180, unit = SECONDS)
class AskRuleIT {
  private static final String POLICY = """
      [network]
      allowed_domains = ["allowed.test"]
      asked_domains = ["other.test"]
      domains = { "cli.test" = "ask" }
      allow_local_binding = true
      """;

  @RegisterExtension
  static final OriginServer origin = OriginServer.http();

  @RegisterExtension
  static final OriginServer tlsOrigin = OriginServer.https();

  private Daemon egressd;
  private Approver person;

  @BeforeEach
  void resetOrigins() {
    origin.reset();
    tlsOrigin.reset();
  }

  @AfterEach
  void stop() throws Exception {
    if (egressd != null) {
      egressd.stop();
    }
  }

  private void start(String config, String... args) throws Exception {
    egressd = Daemon.withConfig(config).withArgs(args);
    egressd.start();
    person = new Approver(egressd);
  }

  private void startApproving(String config) throws Exception {
    start(config, "--admin-listen", "127.0.0.1:0");
  }

  private static CompletableFuture<Curl.Result> inBackground(String... curlArgs) {
    return CompletableFuture.supplyAsync(() -> Curl.fetch(curlArgs));
  }

  private ProcessResult answer(String verb, Map<String, Object> entry, String... options) {
    String[] args = new String[options.length + 2];
    args[0] = verb;
    args[1] = String.valueOf(Approver.id(entry));
    System.arraycopy(options, 0, args, 2, options.length);
    ProcessResult result = person.cli(args);
    assertThat(result.exitCode()).as("%s", result).isZero();
    return result;
  }

  @Test
  void anAskedDomainWaitsForApproveAndTheAuditSaysThePolicyAsked() throws Exception {
    startApproving(POLICY);
    CompletableFuture<Curl.Result> waiting = inBackground("-x", egressd.url(), origin.url("other.test", "/held"));

    Map<String, Object> entry = person.awaitOne();
    assertThat(entry).containsEntry("protocol", "http").containsEntry("host", "other.test")
        .containsEntry("method", "GET").containsEntry("reason", "rule other.test");
    assertThat(waiting).as("held until a person answers").isNotDone();
    assertThat(origin.requestCount()).isZero();
    assertThat(egressd.awaitStderr("decision=ask", "source=baseline_policy", "host=other.test")).isNotNull();

    answer("approve", entry);
    Curl.Result result = waiting.get(30, SECONDS);
    assertThat(result.reply().status()).as("%s", result).isEqualTo(200);
    assertThat(egressd.awaitStderr("decision=allow", "source=approval", "host=other.test",
        "decider_reason=\"approved by cli\"")).isNotNull();
    // Allowed hosts are never held.
    assertThat(Curl.fetch("-x", egressd.url(), origin.url("allowed.test", "/")).reply().status()).isEqualTo(200);
    assertThat(person.pending()).isEmpty();
  }

  @Test
  void theDomainsTableAsksADenyRefusesAtOnceAndHostScopeStands() throws Exception {
    startApproving(POLICY);
    CompletableFuture<Curl.Result> first = inBackground("-x", egressd.url(), origin.url("cli.test", "/one"));
    answer("deny", person.awaitOne(), "--scope", "host");
    Curl.Result refused = first.get(30, SECONDS);
    assertThat(refused.reply().status()).isEqualTo(403);
    assertThat(refused.reply().header("x-proxy-error")).isEqualTo("blocked-by-policy");
    assertThat(refused.reply().json()).containsEntry("reason", "denied by cli").containsEntry("source", "approval");

    // The standing deny answers the next request at once, without listing it.
    Curl.Result again = Curl.fetch("-x", egressd.url(), origin.url("cli.test", "/two"));
    assertThat(again.reply().status()).isEqualTo(403);
    assertThat(person.pending()).isEmpty();
    assertThat(origin.requestCount()).isZero();
  }

  @Test
  void aProfileDefaultAskHoldsEveryMissOverSocksAndConnectButNotADeniedHost() throws Exception {
    startApproving("""
        default_permissions = "agent"
        [network]
        allowed_domains = ["allowed.test"]
        denied_domains = ["denied.test"]
        allow_local_binding = true
        [permissions.agent.network]
        default = "ask"
        """);
    CompletableFuture<Curl.Result> socks = inBackground("--socks5-hostname", "127.0.0.1:" + egressd.socksPort(),
        origin.url("mixed.test", "/socks"));
    Map<String, Object> entry = person.awaitOne();
    assertThat(entry).containsEntry("protocol", "socks5_tcp").containsEntry("host", "mixed.test")
        .containsEntry("reason", "default = ask");
    answer("approve", entry, "--scope", "host");
    assertThat(socks.get(30, SECONDS).reply().status()).isEqualTo(200);
    assertThat(egressd.awaitStderr("decision=allow", "source=approval", "host=mixed.test")).isNotNull();
    // Scope host: the next SOCKS5 connection to it is not held.
    Curl.Result next = Curl.fetch("--socks5-hostname", "127.0.0.1:" + egressd.socksPort(),
        origin.url("mixed.test", "/next"));
    assertThat(next.reply().status()).isEqualTo(200);

    CompletableFuture<Curl.Result> tunnel = inBackground("-p", "-x", egressd.url(), origin.url("cli.test", "/tunnel"));
    Map<String, Object> connect = person.awaitOne();
    assertThat(connect).containsEntry("protocol", "https_connect").containsEntry("host", "cli.test");
    answer("approve", connect);
    assertThat(tunnel.get(30, SECONDS).reply().status()).isEqualTo(200);

    // A deny rule refuses at once: default = "ask" holds misses only.
    Curl.Result denied = Curl.fetch("-x", egressd.url(), origin.url("denied.test", "/"));
    assertThat(denied.reply().status()).isEqualTo(403);
    assertThat(denied.reply().json()).containsEntry("reason", "denied");
    assertThat(person.pending()).isEmpty();
  }

  @Test
  void nobodyAnsweringTimesOutNamingTheRuleToChange() throws Exception {
    startApproving(POLICY + "ask_timeout = 1\n");
    Curl.Result result = Curl.fetch("-x", egressd.url(), origin.url("other.test", "/"));
    assertThat(result.reply().status()).as("%s", result).isEqualTo(403);
    assertThat(result.reply().json()).containsEntry("reason", "approval_timeout");
    assertThat((String) result.reply().json().get("message")).contains("within 1 s")
        .contains("egressd approve").contains("or make rule \"other.test\"").endsWith("\"allow\".");
    assertThat(person.pending()).isEmpty();
  }

  @Test
  void aClientThatGivesUpIsTakenOffTheList() throws Exception {
    startApproving(POLICY);
    CompletableFuture<Curl.Result> impatient = inBackground("--max-time", "2", "-x", egressd.url(),
        origin.url("other.test", "/impatient"));
    person.awaitOne();
    assertThat(impatient.get(30, SECONDS).exitCode()).as("curl: operation timed out").isEqualTo(28);
    assertThat(person.awaitPending(java.util.List::isEmpty)).isEmpty();
    assertThat(egressd.awaitStderr("decision=deny", "reason=decision_failed", "host=other.test")).isNotNull();
    assertThat(new AdminClient(egressd.adminPort()).metrics()
        .sum("egressd_approvals_answered_total", "outcome", "gone", "by", "none")).isEqualTo(1.0);
    assertThat(origin.requestCount()).isZero();
  }

  @Test
  void withoutTheAdminListenerAnAskIsRefusedAtOnceAndTheStartSaysSo() throws Exception {
    start(POLICY);
    assertThat(egressd.awaitStderr("nobody can approve: every ask is refused at once")).isNotNull();
    Curl.Result result = Curl.fetch("-x", egressd.url(), origin.url("other.test", "/"));
    assertThat(result.reply().status()).isEqualTo(403);
    assertThat(result.reply().header("x-proxy-error")).isEqualTo("blocked-by-allowlist");
    assertThat((String) result.reply().json().get("message")).contains("holds other.test:" + origin.port()
        + " for approval");
    assertThat(egressd.awaitStderr("decision=ask", "host=other.test")).isNotNull();
    assertThat(origin.requestCount()).isZero();
  }

  @Test
  void anInterceptedTunnelIsAskedOnceAndTheRequestsInsideItAreNotAskedAgain() throws Exception {
    startApproving("""
        [network]
        mode = "limited"
        mitm = true
        allowed_domains = ["other.test"]
        asked_domains = ["allowed.test"]
        allow_local_binding = true
        mitm_upstream_ca_bundle = '%s'
        """.formatted(TestCertificates.get().caPem()));
    String ca = egressd.mitmCaCertificate().toString();
    CompletableFuture<Curl.Result> get = inBackground("-x", egressd.url(), "--cacert", ca,
        tlsOrigin.url("allowed.test", "/inside"));
    Map<String, Object> connect = person.awaitOne();
    assertThat(connect).containsEntry("protocol", "https_connect");
    answer("approve", connect);
    Curl.Result inside = get.get(30, SECONDS);
    assertThat(inside.reply().status()).as("%s", inside).isEqualTo(200);
    assertThat(egressd.awaitStderr("decision=allow", "protocol=https ", "host=allowed.test", "method=GET",
        "source=approval")).isNotNull();
    assertThat(egressd.stderrOfThisTest().stream().filter(l -> l.contains("decision=ask")).count()).isEqualTo(1);

    // Limited mode still refuses a POST inside, without asking.
    CompletableFuture<Curl.Result> post = inBackground("-x", egressd.url(), "--cacert", ca, "-d", "x=1",
        tlsOrigin.url("allowed.test", "/post"));
    answer("approve", person.awaitOne());
    Curl.Result refused = post.get(30, SECONDS);
    assertThat(refused.reply().status()).isEqualTo(403);
    assertThat(refused.reply().json()).containsEntry("reason", "method_not_allowed");
    assertThat(tlsOrigin.requests()).extracting(RecordedRequest::target).containsExactly("/inside");
  }

  @Test
  void checkSaysAsk() throws Exception {
    java.nio.file.Path config = java.nio.file.Files.createTempFile("egressd-ask", ".toml");
    java.nio.file.Files.writeString(config, POLICY);
    ProcessResult check = Egressd.cli(Map.of(), "check", "--config", config.toString(), "http://other.test/");
    assertThat(check.stdout()).as("%s", check).startsWith("ASK other.test:80 (http GET)")
        .contains("rule:    other.test (").contains("holds other.test:80 for approval");
    assertThat(check.exitCode()).isNotZero();
  }
}
