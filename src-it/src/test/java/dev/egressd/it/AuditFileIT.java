package dev.egressd.it;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code [audit] file} and {@code run --audit-file}: one JSON object per decision and line, with the attributes of
 * the OTel event; a relative path is resolved against the config file's directory, {@code -} is standard output,
 * and {@code EGRESSD_CONVERSATION_ID} wins over {@code [audit] conversation_id}.
 */
@Timeout(value = 60, unit = SECONDS)
class AuditFileIT {
  private static final String NETWORK = """
      [network]
      allowed_domains = ["allowed.test", "127.0.0.1"]
      denied_domains = ["denied.test"]
      """;
  private static final List<String> KEYS = List.of("event.name", "event.timestamp", "network.policy.scope",
      "network.policy.decision", "network.policy.source", "network.policy.reason", "network.transport.protocol",
      "server.address", "server.port", "http.request.method", "client.address", "network.policy.override",
      "egressd.connection.id", "app.version");
  private static final String RELATIVE_FILE = "audit/decisions.jsonl";

  @RegisterExtension
  static final OriginServer http = OriginServer.http();

  @RegisterExtension
  static final Daemon egressd = Daemon.withConfig(NETWORK + """

      [audit]
      file = "%s"
      event_name = "egressd.it.decision"
      conversation_id = "conv-from-config"
      user_account_id = "acct-from-config"
      """.formatted(RELATIVE_FILE))
      .withEnvironment("EGRESSD_CONVERSATION_ID", "conv-from-env")
      .withEnvironment("EGRESSD_USER_ACCOUNT_ID", " ");

  @TempDir
  Path dir;

  @Test
  void relativeFileIsWrittenNextToTheConfigWithOneLinePerDecision() throws Exception {
    AuditedRequest allowed = AuditedRequest.get(egressd, http.authority("allowed.test"), "/a");
    AuditedRequest denied = AuditedRequest.get(egressd, http.authority("denied.test"), "/d");

    Path file = egressd.configDirectory().resolve(RELATIVE_FILE);
    Map<String, Object> allow = awaitLine(file, allowed.client());
    Map<String, Object> deny = awaitLine(file, denied.client());
    List<String> allowKeys = new ArrayList<>(withMetadata(KEYS));
    allowKeys.add("network.route"); // on allows only: how the connection left
    assertThat(allow).containsOnlyKeys(allowKeys).containsEntry("network.route", "direct")
        .containsEntry("event.name", "egressd.it.decision")
        .containsEntry("network.policy.scope", "domain")
        .containsEntry("network.policy.decision", "allow")
        .containsEntry("network.policy.source", "baseline_policy")
        .containsEntry("network.policy.reason", "allow")
        .containsEntry("network.transport.protocol", "http")
        .containsEntry("server.address", "allowed.test")
        .containsEntry("server.port", (long) http.port())
        .containsEntry("http.request.method", "GET")
        .containsEntry("network.policy.override", false);
    assertThat(allow.get("egressd.connection.id")).isInstanceOfSatisfying(Number.class,
        id -> assertThat(id.longValue()).isPositive().isNotEqualTo(((Number) deny.get("egressd.connection.id"))
            .longValue()));
    assertThat((String) allow.get("event.timestamp")).matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z");
    assertThat(deny).containsEntry("network.policy.decision", "deny")
        .containsEntry("network.policy.reason", "denied")
        .containsEntry("server.address", "denied.test");
    assertThat(linesFor(Files.readString(file), allowed.client())).hasSize(1);
    assertThat(Path.of(RELATIVE_FILE)).as("relative to the working directory").doesNotExist();
    assertThat(egressd.stdout()).contains("JSON lines to " + file);
  }

  @Test
  void environmentConversationIdWinsOverTheConfigAndABlankOneDoesNot() throws Exception {
    AuditedRequest denied = AuditedRequest.get(egressd, http.authority("denied.test"), "/env");

    Map<String, Object> line = awaitLine(egressd.configDirectory().resolve(RELATIVE_FILE), denied.client());
    assertThat(line).containsEntry("conversation.id", "conv-from-env")
        .containsEntry("user.account_id", "acct-from-config");
  }

  @Test
  void auditFileOptionWinsOverTheConfigFile() throws Exception {
    Path cliFile = dir.resolve("cli.jsonl");
    Daemon daemon = Daemon.withConfig(NETWORK + """

        [audit]
        file = "from-config.jsonl"
        """).withArgs("--audit-file", cliFile.toString());
    daemon.start();
    try {
      AuditedRequest denied = AuditedRequest.get(daemon, http.authority("denied.test"), "/cli");

      assertThat(awaitLine(cliFile, denied.client())).containsOnlyKeys(KEYS)
          .containsEntry("event.name", "codex.network_proxy.policy_decision")
          .containsEntry("network.policy.reason", "denied");
      assertThat(daemon.configDirectory().resolve("from-config.jsonl")).doesNotExist();
    } finally {
      daemon.stop();
    }
  }

  @Test
  void dashWritesTheLinesToStandardOutput() throws Exception {
    Daemon daemon = Daemon.withConfig(NETWORK).withArgs("--audit-file", "-");
    daemon.start();
    try {
      AuditedRequest denied = AuditedRequest.get(daemon, http.authority("denied.test"), "/stdout");

      String line = daemon.awaitStdout("\"client.address\":\"" + denied.client() + "\"");
      assertThat(line).startsWith("{\"event.name\"");
      assertThat(Json.object(line)).containsOnlyKeys(KEYS).containsEntry("network.policy.reason", "denied");
      assertThat(daemon.stdout()).contains("egressd: audit log lines on stderr, JSON lines to standard output");
    } finally {
      daemon.stop();
    }
  }

  private static List<String> withMetadata(List<String> keys) {
    List<String> all = new ArrayList<>(keys);
    all.addAll(List.of("conversation.id", "user.account_id"));
    return all;
  }

  private static List<String> linesFor(String text, String client) {
    return text.lines().filter(l -> l.contains("\"client.address\":\"" + client + "\"")).toList();
  }

  /** Waits for the line of {@code client}'s decision in {@code file} and parses it; every line must be JSON. */
  private static Map<String, Object> awaitLine(Path file, String client) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (true) {
      String text = Files.exists(file) ? Files.readString(file) : "";
      List<String> lines = linesFor(text, client);
      if (!lines.isEmpty() && text.endsWith("\n")) {
        text.lines().forEach(Json::object);
        return Json.object(lines.get(0));
      }
      if (System.nanoTime() > deadline) {
        return fail("no line for client %s in %s within 10 s:\n%s", client, file, text);
      }
      Thread.sleep(20);
    }
  }
}
