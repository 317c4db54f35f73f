package dev.egressd.it;

import static dev.egressd.it.TestData.connect;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@code [network.decider]} with the example decider ({@code examples/decider.py}) as a real process and curl as
 * the client: an allowlist miss is sent to the decider over HTTP or a Unix socket, its allow opens the name (and
 * is audited as an override), its deny and ask refuse, deny rules and allowed hosts never reach it, an allowed name
 * behind which sits a local address stays refused, and a decider that is slow, crashes, answers garbage or is not
 * there refuses the request (fail closed) with a 403 that says so.
 */
@Timeout(value = 120, unit = SECONDS)
class DeciderIT {
  private static final String RULES = """
      {"allow": ["other.test"], "deny": ["cli.test"], "ask": ["mixed.test"], "default": "deny"}
      """;
  private static final String POLICY = """
      [network]
      allowed_domains = ["allowed.test"]
      denied_domains = ["denied.test"]
      allow_local_binding = true
      enable_socks5 = true
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

  private Daemon start(String config) throws Exception {
    return start(Daemon.withConfig(config));
  }

  private Daemon start(Daemon daemon) throws Exception {
    egressd = daemon;
    egressd.start();
    return egressd;
  }

  private Curl.Result get(String host) {
    return Curl.fetch("-x", egressd.url(), origin.url(host, "/"));
  }

  private static void assertRefused(Curl.Result result, String proxyError, String reason) {
    assertThat(result.reply()).as("%s", result).isNotNull();
    assertThat(result.reply().status()).as("%s", result.reply()).isEqualTo(403);
    assertThat(result.reply().header("x-proxy-error")).isEqualTo(proxyError);
    assertThat(result.reply().json()).containsEntry("reason", reason);
  }

  @Test
  void anAllowOpensAMissOverPlainHttpConnectAndSocksAndIsAuditedAsAnOverride() throws Exception {
    decider = DeciderProcess.start(RULES);
    start(Daemon.withConfig(POLICY + decider.configTable()).withArgs("--admin-listen", "127.0.0.1:0"));

    Curl.Result plain = get("other.test");
    assertThat(plain.reply().status()).as("%s", plain).isEqualTo(200);
    assertThat(egressd.awaitStderr("decision=allow", "reason=not_allowed", "source=decider", "protocol=http ",
        "host=other.test", "decider_reason=\"rule other.test (allow)\"")).isNotNull();

    try (RawClient client = RawClient.connect(egressd.port())) {
      HttpReply reply = client.send(connect(origin.authority("other.test"))).readConnectResponse();
      assertThat(reply.status()).as("%s", reply).isEqualTo(200);
    }
    Curl.Result socks = Curl.fetch("--socks5-hostname", "127.0.0.1:" + egressd.socksPort(),
        origin.url("other.test", "/"));
    assertThat(socks.reply().status()).as("%s", socks).isEqualTo(200);
    assertThat(egressd.awaitStderr("decision=allow", "source=decider", "protocol=socks5_tcp")).isNotNull();
    assertThat(decider.decisions()).containsExactly(
        "decider: http other.test:" + origin.port() + " -> allow",
        "decider: https_connect other.test:" + origin.port() + " -> allow",
        "decider: socks5_tcp other.test:" + origin.port() + " -> allow");
    assertThat(origin.requestCount()).isEqualTo(2);
    assertThat(new AdminClient(egressd.adminPort()).metrics()
        .sum("egressd_decider_duration_seconds_count", "outcome", "allow")).isEqualTo(3.0);
  }

  @Test
  void aDenyIsA403WithTheDecidersReasonAndNothingReachesTheOrigin() throws Exception {
    decider = DeciderProcess.start(RULES);
    start(POLICY + decider.configTable());

    Curl.Result denied = get("cli.test");
    assertRefused(denied, "blocked-by-policy", "rule cli.test (deny)");
    assertThat(denied.reply().json()).containsEntry("source", "decider").containsEntry("decision", "deny");
    assertThat(egressd.awaitStderr("decision=deny", "reason=policy_denied", "source=decider", "host=cli.test"))
        .isNotNull();
    assertThat(origin.connectionCount()).isZero();
  }

  @Test
  void anAskIsRefusedWithDecisionAskAndSaysHowToAllow() throws Exception {
    decider = DeciderProcess.start(RULES);
    start(POLICY + decider.configTable());

    Curl.Result asked = get("mixed.test");
    assertRefused(asked, "blocked-by-allowlist", "rule mixed.test (ask)");
    assertThat(asked.reply().json()).containsEntry("decision", "ask");
    assertThat((String) asked.reply().json().get("message")).contains("asks for approval of mixed.test:")
        .contains("Add \"mixed.test\" to allowed_domains");
    assertThat(origin.connectionCount()).isZero();
  }

  @Test
  void denyRulesAndAllowedHostsNeverReachTheDecider() throws Exception {
    decider = DeciderProcess.start("{\"allow\": [\"denied.test\", \"allowed.test\"], \"default\": \"allow\"}");
    start(POLICY + decider.configTable());

    assertRefused(get("denied.test"), "blocked-by-denylist", "denied");
    assertThat(get("allowed.test").reply().status()).isEqualTo(200);
    assertThat(decider.decisions()).isEmpty();
  }

  @Test
  void anAllowedNameThatResolvesToLoopbackIsStillRefused() throws Exception {
    decider = DeciderProcess.start(RULES);
    start(POLICY.replace("allow_local_binding = true", "allow_local_binding = false") + decider.configTable());

    Curl.Result result = get("other.test");
    assertRefused(result, "blocked-by-allowlist", "not_allowed_local");
    assertThat((String) result.reply().json().get("message")).contains("other.test resolved to 127.0.0.1");
    assertThat(decider.decisions()).hasSize(1);
    assertThat(origin.connectionCount()).isZero();
    // localhost is a local literal: it is refused without asking at all.
    assertRefused(get("localhost"), "blocked-by-allowlist", "not_allowed");
    assertThat(decider.decisions()).hasSize(1);
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "slow|decider_timeout|The policy decider did not answer in time, so the request is refused (egressd fails"
          + " closed). No answer within 500 ms.",
      "crash|decider_failed|The policy decider failed, so the request is refused (egressd fails closed). The"
          + " decider closed the connection without answering.",
      "invalid-json|decider_failed|The policy decider failed, so the request is refused (egressd fails closed). The"
          + " decider answered invalid JSON.",
      "error|decider_failed|The policy decider failed, so the request is refused (egressd fails closed). The"
          + " decider answered HTTP 500.",
  })
  void aBrokenDeciderRefusesAndSaysSo(String misbehaviour, String reason, String message) throws Exception {
    decider = DeciderProcess.start(RULES, "--misbehave", misbehaviour);
    start(Daemon.withConfig(POLICY + decider.configTable("timeout = 0.5")).withArgs("--admin-listen", "127.0.0.1:0"));

    Curl.Result result = get("other.test");
    assertRefused(result, "blocked-by-policy", reason);
    assertThat(result.reply().json()).containsEntry("message", message).containsEntry("source", "decider");
    assertThat(egressd.awaitStderr("decision=deny", "reason=" + reason, "source=decider", "host=other.test"))
        .isNotNull();
    assertThat(origin.connectionCount()).isZero();
    // The daemon is unharmed: an allowed host still works.
    assertThat(get("allowed.test").reply().status()).isEqualTo(200);
    assertThat(new AdminClient(egressd.adminPort()).metrics().sum("egressd_decider_duration_seconds_count", "outcome",
        reason.equals("decider_timeout") ? "timeout" : "failed")).isEqualTo(1.0);
  }

  @Test
  void aDeciderThatIsNotThereRefuses() throws Exception {
    int port;
    try (ServerSocket free = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = free.getLocalPort();
    }
    start(POLICY + "[network.decider]\nurl = \"http://127.0.0.1:" + port + "/decide\"\n");

    Curl.Result result = get("other.test");
    assertRefused(result, "blocked-by-policy", "decider_failed");
    assertThat((String) result.reply().json().get("message"))
        .endsWith("The decider could not be reached (connection refused).");
  }

  @Test
  void overAUnixSocketWithABearerToken() throws Exception {
    decider = DeciderProcess.start(RULES, true, List.of("--token-env", "DECIDER_TOKEN"),
        Map.of("DECIDER_TOKEN", "t0ken-for-tests"));
    start(Daemon.withConfig(POLICY + decider.configTable("token_env = \"EGRESSD_DECIDER_TOKEN\""))
        .withEnvironment("EGRESSD_DECIDER_TOKEN", "t0ken-for-tests"));

    assertThat(get("other.test").reply().status()).isEqualTo(200);
    assertThat(decider.decisions()).containsExactly("decider: http other.test:" + origin.port() + " -> allow");
  }

  @Test
  void aWrongTokenIsRefusedByTheDeciderAndSoByEgressd() throws Exception {
    decider = DeciderProcess.start(RULES, false, List.of("--token-env", "DECIDER_TOKEN"),
        Map.of("DECIDER_TOKEN", "t0ken-for-tests"));
    start(Daemon.withConfig(POLICY + decider.configTable("token_env = \"EGRESSD_DECIDER_TOKEN\""))
        .withEnvironment("EGRESSD_DECIDER_TOKEN", "not-the-token"));

    Curl.Result result = get("other.test");
    assertRefused(result, "blocked-by-policy", "decider_failed");
    assertThat((String) result.reply().json().get("message")).endsWith("The decider answered HTTP 401.");
    assertThat(egressd.stderrOfThisTest()).noneMatch(line -> line.contains("not-the-token"));
  }

  @Test
  void cacheSecondsSavesRepeatedCalls() throws Exception {
    decider = DeciderProcess.start("{\"allow\": [\"other.test\"], \"cache_seconds\": 60}");
    start(POLICY + decider.configTable());

    for (int i = 0; i < 3; i++) {
      assertThat(get("other.test").reply().status()).isEqualTo(200);
    }
    assertThat(decider.decisions()).hasSize(1);
    decider.rules("{\"deny\": [\"other.test\"]}");
    assertThat(get("other.test").reply().status()).as("the cached allow still holds").isEqualTo(200);
    assertThat(decider.decisions()).hasSize(1);
  }

  @Test
  void withoutCacheSecondsEveryMissIsAsked() throws Exception {
    decider = DeciderProcess.start(RULES);
    start(POLICY + decider.configTable());

    assertThat(get("other.test").reply().status()).isEqualTo(200);
    decider.rules("{\"deny\": [\"other.test\"]}");
    assertRefused(get("other.test"), "blocked-by-policy", "rule other.test (deny)");
    assertThat(decider.decisions()).hasSize(2);
  }

  @Test
  void checkAsksTheDeciderAsRunDoes() throws Exception {
    decider = DeciderProcess.start(RULES);
    java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("egressd-it-decider-check");
    java.nio.file.Path config = java.nio.file.Files.writeString(dir.resolve("egressd.toml"),
        POLICY + decider.configTable());

    ProcessResult allowed = Egressd.cli(Map.of(), "check", "--config", config.toString(),
        "http://other.test:" + origin.port() + "/");
    assertThat(allowed.exitCode()).as("%s", allowed).isZero();
    assertThat(allowed.stdout()).contains("decider");
    ProcessResult denied = Egressd.cli(Map.of(), "check", "--config", config.toString(), "--json",
        "http://cli.test:" + origin.port() + "/");
    assertThat(denied.exitCode()).as("%s", denied).isEqualTo(1);
    assertThat(Json.object(denied.stdout())).containsEntry("reason", "rule cli.test (deny)")
        .containsEntry("source", "decider");
    assertThat(decider.decisions()).hasSize(2);
  }
}
