package dev.egressd.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** {@code egressd learn} and {@code egressd review} in-process, on audit files written by the test. */
class LearnReviewCommandTest {
  @RegisterExtension
  final StandardStreams streams = new StandardStreams();

  @TempDir
  Path dir;

  private final List<String> lines = new ArrayList<>();
  private Instant clock = Instant.now().minus(1, ChronoUnit.DAYS).truncatedTo(ChronoUnit.SECONDS);

  /** Appends one decision line, a second after the previous one. */
  private void decision(String decision, String reason, boolean wouldDeny, String protocol, String host, int port) {
    clock = clock.plusSeconds(1);
    lines.add("{\"event.timestamp\":\"" + clock + "\",\"network.policy.decision\":\"" + decision
        + "\",\"network.policy.reason\":\"" + reason + "\"" + (wouldDeny ? ",\"egressd.would_deny\":true" : "")
        + ",\"network.transport.protocol\":\"" + protocol + "\",\"server.address\":\"" + host
        + "\",\"server.port\":" + port + (protocol.equals("http") ? ",\"http.request.method\":\"GET\"" : "") + "}");
  }

  private Path audit() throws Exception {
    return Files.writeString(dir.resolve("audit.jsonl"), String.join("\n", lines) + "\n");
  }

  private static int run(String... args) {
    return Main.commandLine().execute(args);
  }

  @Test
  void learnWritesExactHostsWithThePortWhereOnlyOneWasUsed() throws Exception {
    decision("allow", "allow", false, "http", "api.example.com", 80);
    Instant first = clock;
    decision("allow", "not_allowed", true, "https_connect", "api.example.com", 80);
    decision("allow", "not_allowed", true, "https_connect", "files.example.com", 443);
    decision("allow", "not_allowed", true, "http", "files.example.com", 8080);
    decision("allow", "not_allowed", true, "https_connect", "::1", 8443);
    decision("deny", "not_allowed_local", false, "http", "local.example.com", 80);

    assertThat(run("learn", "--audit", audit().toString())).isZero();

    assertThat(streams.out()).contains("[network]\nallowed_domains = [\n")
        .contains("  \"api.example.com:80\", # first seen " + first + ", 2 requests\n")
        .contains("  \"files.example.com\", # first seen ").contains(", 2 requests, ports [443, 8080]\n")
        .contains("  \"[::1]:8443\", # first seen ").contains("1 request\n")
        .doesNotContain("local.example.com");
  }

  @Test
  void learnNeverTurnsADenyRuleIntoAnAllow() throws Exception {
    decision("allow", "denied", true, "http", "evil.example.com", 80);
    decision("allow", "allow", false, "http", "api.example.com", 80);

    assertThat(run("learn", "--audit", audit().toString(), "--profile", "ci build")).isZero();

    assertThat(streams.out()).contains("[permissions.\"ci build\".network]")
        .contains("\"api.example.com:80\"")
        .contains("# not learned: evil.example.com (1 request, first seen ")
        .doesNotContain("\"evil.example.com");
  }

  @Test
  void learnOfNothingAllowedSaysSo() throws Exception {
    decision("deny", "not_allowed", false, "http", "api.example.com", 80);

    assertThat(run("learn", "--audit", audit().toString())).isZero();

    assertThat(streams.out()).contains("allowed_domains = []");
    assertThat(streams.err()).contains("no allowed traffic");
  }

  @Test
  void learnOfABadFileExitsTwoNamingTheLine() throws Exception {
    lines.add("{oops");

    assertThat(run("learn", "--audit", audit().toString())).isEqualTo(2);

    assertThat(streams.err()).contains("egressd learn: " + dir.resolve("audit.jsonl") + ":1: malformed JSON");
  }

  private Path config() throws Exception {
    return Files.writeString(dir.resolve("egressd.toml"), """
        [network]
        allowed_domains = ["**.example.com", "unused.example.org"]
        denied_domains = ["evil.example.com"]

        [network.domains]
        "old.example.net" = { action = "allow", owner = "team-x", review_by = 2020-01-31 }
        "*.cdn.example.net" = "allow"
        """);
  }

  private void traffic() {
    decision("allow", "allow", false, "http", "api.example.com", 80);
    decision("allow", "allow", false, "https_connect", "api.example.com", 443);
    decision("allow", "allow", false, "https_connect", "old.example.net", 443);
    for (int i = 0; i < 3; i++) {
      decision("allow", "allow", false, "https_connect", "img" + i + ".cdn.example.net", 443);
    }
    decision("deny", "denied", false, "https_connect", "evil.example.com", 443);
    decision("deny", "not_allowed", false, "https_connect", "registry.example.org", 443);
    decision("deny", "not_allowed", false, "https_connect", "registry.example.org", 443);
    decision("allow", "not_allowed", true, "https_connect", "mirror.example.org", 443);
  }

  @Test
  void reviewFindsUnusedOverdueAndNarrowableRulesAndTheMostRefused() throws Exception {
    traffic();
    Path config = config();

    assertThat(run("review", "--config", config.toString(), "--audit", audit().toString())).isZero();

    String out = streams.out();
    assertThat(section(out, "Rules never used")).contains("allow \"unused.example.org\" (egressd.toml:2 network.allowed_domains)")
        .doesNotContain("example.com").doesNotContain("old.example.net");
    assertThat(section(out, "Rules past review_by")).contains("allow \"old.example.net\"")
        .contains("due 2020-01-31, owner team-x");
    assertThat(section(out, "Broad rules one or two names needed"))
        .contains("allow \"**.example.com\" (egressd.toml:2 network.allowed_domains): 2 requests, all to api.example.com;"
            + " narrow it to \"api.example.com\"")
        .doesNotContain("cdn.example.net");
    assertThat(section(out, "Most refused destinations"))
        .containsSubsequence("registry.example.org:443 (not_allowed): 2", "evil.example.com:443 (denied): 1")
        .contains("mirror.example.org:443 (not_allowed): 1");
    assertThat(section(out, "Use per rule")).contains("allow \"*.cdn.example.net\"").contains(": 3 requests, 3 names")
        .contains("deny \"evil.example.com\"").contains(": 1 request, 1 name");
  }

  @Test
  void reviewJsonAndMarkdown() throws Exception {
    traffic();
    Path config = config();
    Path audit = audit();

    assertThat(run("review", "--config", config.toString(), "--audit", audit.toString(), "--json")).isZero();
    String json = streams.out().strip();
    assertThat(json).startsWith("{\"scope\":").endsWith("}").doesNotContain("\n")
        .contains("\"unused\":[{\"rule\":\"unused.example.org\",\"action\":\"allow\"")
        .contains("\"past_review\":[{\"rule\":\"old.example.net\"").contains("\"review_by\":\"2020-01-31\"")
        .contains("\"owner\":\"team-x\"")
        .contains("\"narrowable\":[{\"rule\":\"**.example.com\"").contains("\"names\":[\"api.example.com\"]")
        .contains("{\"destination\":\"registry.example.org:443 (not_allowed)\",\"count\":2}");
    streams.resetOut();

    assertThat(run("review", "--config", config.toString(), "--audit", audit.toString(), "--markdown")).isZero();
    assertThat(streams.out()).startsWith("## egressd review of ").contains("\n### Rules never used (1)\n")
        .contains("\n- allow \"unused.example.org\"");
  }

  @Test
  void reviewWindowLeavesOutOlderLines() throws Exception {
    traffic();

    assertThat(run("review", "--config", config().toString(), "--audit", audit().toString(), "--since", "1m"))
        .isZero();

    assertThat(streams.out()).contains("0 decisions in 1 file").contains("Rules never used (5)");
  }

  @Test
  void reviewOfABadConfigOrWindowExitsTwo() throws Exception {
    Path bad = Files.writeString(dir.resolve("bad.toml"), "[network]\nallowed_domain = []\n");

    assertThat(run("review", "--config", bad.toString())).isEqualTo(2);
    assertThat(streams.err()).contains("bad.toml:2:");
    assertThat(run("review", "--config", config().toString(), "--since", "soon")).isEqualTo(2);
    assertThat(streams.err()).contains("--since: \"soon\"");
  }

  /** The lines of one section of review's text output, up to the next blank line. */
  private static String section(String out, String title) {
    int start = out.indexOf(title);
    assertThat(start).as("section %s in\n%s", title, out).isNotNegative();
    int end = out.indexOf("\n\n", start);
    return out.substring(start, end < 0 ? out.length() : end);
  }
}
