package dev.egressd.it;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The rollout a team follows: a scripted job runs once in report mode; the admin listener counts what each rule
 * decided; {@code egressd review} and {@code egressd learn} read the JSON audit file of that run; the learned
 * snippet, loaded back as an enforced config, lets exactly that traffic through and refuses everything else.
 */
@Timeout(value = 120, unit = SECONDS)
class LearnAndReviewIT {
  private static final String POLICY = """
      [network]
      enforcement = "report"
      allow_local_binding = true
      allowed_domains = ["**.allowed.test", "unused.test"]
      denied_domains = ["denied.test"]

      [network.domains]
      "old.test" = { action = "allow", owner = "team-x", review_by = 2020-01-31 }

      [admin]
      listen = "127.0.0.1:0"
      """;

  @RegisterExtension
  static final OriginServer http = OriginServer.http();

  /** A second port, so one host is seen on two. */
  @RegisterExtension
  static final OriginServer second = OriginServer.http();

  @TempDir
  Path dir;

  @Test
  void aReportRunIsCountedReviewedAndLearnedAndTheLearnedListEnforcesExactlyWhatRan() throws Exception {
    Path config = Files.writeString(dir.resolve("egressd.toml"), POLICY);
    Path audit = dir.resolve("audit.jsonl");
    Daemon run = Daemon.withConfig(POLICY).withArgs("--audit-file", audit.toString());
    run.start();
    try {
      job(run);
      assertRuleCounters(new AdminClient(run.adminPort()));
    } finally {
      run.stop();
    }
    assertThat(http.requests()).as("report mode let the whole job through").hasSize(7);

    ProcessResult review = Egressd.cli(dir, "review", "--config", config.toString(), "--audit", audit.toString(),
        "--json");
    assertThat(review.exitCode()).as("%s", review).isZero();
    Map<String, Object> report = Json.object(review.stdout().strip());
    assertThat(rules(report, "unused")).containsExactlyInAnyOrder("unused.test", "old.test");
    assertThat(rules(report, "past_review")).containsExactly("old.test");
    assertThat(review.stdout()).contains("\"narrowable\":[{\"rule\":\"**.allowed.test\"")
        .contains("\"names\":[\"allowed.test\"]")
        .contains("{\"destination\":\"other.test:" + http.port() + " (not_allowed)\",\"count\":3}")
        .contains("{\"destination\":\"denied.test:" + http.port() + " (denied)\",\"count\":1}");

    ProcessResult learn = Egressd.cli(dir, "learn", "--audit", audit.toString());
    assertThat(learn.exitCode()).as("%s", learn).isZero();
    assertThat(learn.stdout()).contains("[network]\nallowed_domains = [\n")
        .contains("\"allowed.test:" + http.port() + "\", # first seen ").contains(", 2 requests\n")
        .contains("\"other.test:" + http.port() + "\", # first seen ").contains(", 3 requests\n")
        .contains("\"cli.test\", # first seen ").contains("ports [" + Math.min(http.port(), second.port()) + ", "
            + Math.max(http.port(), second.port()) + "]")
        .contains("# not learned: denied.test (1 request, ");
    assertThat(learn.stdout().lines().filter(l -> l.startsWith("  \""))).hasSize(3);

    // The origins are on loopback: the learned list needs the opt-in that the report run had.
    Daemon enforced = Daemon.withConfig(learn.stdout() + "allow_local_binding = true\n");
    enforced.start();
    try {
      assertThat(enforced.stdout()).doesNotContain("REPORT MODE");
      assertThat(status(enforced, http.authority("allowed.test"))).isEqualTo(200);
      assertThat(status(enforced, http.authority("other.test"))).isEqualTo(200);
      assertThat(status(enforced, http.authority("cli.test"))).isEqualTo(200);
      assertThat(status(enforced, second.authority("cli.test"))).isEqualTo(200);
      assertThat(status(enforced, second.authority("other.test"))).as("other.test was only seen on one port")
          .isEqualTo(403);
      assertThat(status(enforced, http.authority("denied.test"))).as("never learned").isEqualTo(403);
      assertThat(status(enforced, http.authority("mixed.test"))).as("one more host").isEqualTo(403);
    } finally {
      enforced.stop();
    }
  }

  /** The job: what a CI run would fetch. */
  private void job(Daemon run) throws Exception {
    for (int i = 0; i < 2; i++) {
      assertThat(status(run, http.authority("allowed.test"))).isEqualTo(200);
    }
    for (int i = 0; i < 3; i++) {
      assertThat(status(run, http.authority("other.test"))).isEqualTo(200);
    }
    assertThat(status(run, http.authority("cli.test"))).isEqualTo(200);
    try (RawClient tunnel = RawClient.connect(run.port())) {
      assertThat(tunnel.send(TestData.connect(second.authority("cli.test"))).readConnectResponse().status())
          .isEqualTo(200);
      assertThat(tunnel.send("GET /tunnel HTTP/1.1\r\nHost: " + second.authority("cli.test")
          + "\r\nConnection: close\r\n\r\n").readResponse().status()).isEqualTo(200);
    }
    assertThat(status(run, http.authority("denied.test"))).isEqualTo(200);
    run.awaitStderr("decision=allow", "host=denied.test", "would_deny=true");
  }

  private static void assertRuleCounters(AdminClient admin) throws Exception {
    HttpReply rules = admin.get("/rules");
    assertThat(rules.status()).as("%s", rules).isEqualTo(200);
    assertThat(rules.header("Content-Type")).startsWith("application/json");
    Map<String, Object> json = Json.object(rules.text().strip());
    assertThat(json).containsEntry("enforcement", "report");
    assertThat(rules.text()).contains("{\"rule\":\"**.allowed.test\",").contains("\"action\":\"allow\",\"hits\":2,")
        .contains("{\"rule\":\"unused.test\",").contains("\"hits\":0,\"last_hit\":null}")
        .contains("{\"rule\":\"denied.test\",").contains("\"action\":\"deny\",\"hits\":1,\"last_hit\":\"");

    PrometheusText metrics = admin.metrics();
    assertThat(metrics.sum("egressd_rule_hits_total", "rule", "**.allowed.test", "action", "allow")).isEqualTo(2);
    assertThat(metrics.sum("egressd_rule_hits_total", "rule", "denied.test", "action", "deny")).isEqualTo(1);
    assertThat(metrics.select("egressd_rule_hits_total", "rule", "**.allowed.test"))
        .allSatisfy(s -> assertThat(s.labels().get("origin")).matches(".*\\.toml:4 network\\.allowed_domains"));
    assertThat(metrics.named("egressd_rule_hits_total")).as("labels are rules, never hosts")
        .allSatisfy(s -> assertThat(s.labels().get("rule")).isIn("**.allowed.test", "denied.test"));
    assertThat(metrics.named("egressd_rule_last_hit_seconds")).isNotEmpty()
        .allSatisfy(s -> assertThat(s.value()).isGreaterThan(1.7e9));
  }

  private static int status(Daemon daemon, String authority) throws Exception {
    return AuditedRequest.get(daemon, authority, "/job").reply().status();
  }

  @SuppressWarnings("unchecked")
  private static List<String> rules(Map<String, Object> report, String key) {
    return ((List<Map<String, Object>>) report.get(key)).stream().map(r -> (String) r.get("rule")).toList();
  }
}
