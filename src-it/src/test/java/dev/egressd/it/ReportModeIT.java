package dev.egressd.it;

import static dev.egressd.it.TestData.connect;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import dev.egressd.it.Socks5Client.Reply;
import dev.egressd.it.Socks5Client.Status;
import dev.egressd.it.Socks5UdpSocket.Incoming;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * {@code enforcement = "report"}, {@code run --report} and {@code report} on one rule: what the policy refuses is
 * let through on every front end and audited as an allow with {@code egressd.would_deny = true} and the reason it
 * would have been refused; malformed requests, local addresses without an opt-in, egressd's own listeners and rules
 * with {@code report = false} are still refused.
 */
@Timeout(value = 90, unit = SECONDS)
class ReportModeIT {
  // Every .test name resolves to 127.0.0.1: allow_local_binding lets a reported name reach the loopback origins.
  private static final String REPORTED = """
      [network]
      enforcement = "report"
      allow_local_binding = true
      allowed_domains = ["allowed.test"]
      denied_domains = ["denied.test"]

      [network.domains]
      "mixed.test" = { action = "deny", report = false, justification = "enforced even while the rest is trialled" }

      [audit]
      file = "audit.jsonl"
      """;

  @RegisterExtension
  static final OriginServer http = OriginServer.http();

  @RegisterExtension
  static final OriginServer https = OriginServer.https();

  @RegisterExtension
  static final UdpEchoServer echo = new UdpEchoServer();

  @RegisterExtension
  static final Daemon reported = Daemon.withConfig(REPORTED);

  /** Limited mode with interception: the method policy inside tunnels is reported, not enforced. */
  @RegisterExtension
  static final Daemon limited = Daemon.withConfig("""
      [network]
      enforcement = "report"
      mode = "limited"
      mitm = true
      allow_local_binding = true
      allowed_domains = ["allowed.test"]
      mitm_upstream_ca_bundle = '%s'
      """.formatted(TestCertificates.get().caPem()));

  /** An enforced policy trialling one new restriction. */
  @RegisterExtension
  static final Daemon trial = Daemon.withConfig("""
      [network]
      allow_local_binding = true
      allowed_domains = ["allowed.test", "other.test"]

      [network.domains]
      "denied.test" = { action = "deny", report = true, owner = "platform", justification = "trial before enforcing" }
      "mixed.test" = "deny"
      """);

  @TempDir
  Path dir;

  @Test
  void startUpSaysLoudlyThatThePolicyIsNotEnforced() throws Exception {
    reported.awaitStdout("egressd: REPORT MODE: the policy is NOT enforced");
    trial.awaitStdout("egressd: 1 rule with report = true");
    assertThat(trial.stdout()).doesNotContain("REPORT MODE");
  }

  /** Refusals the policy itself makes, each let through in report mode. */
  enum Refused {
    OUTSIDE_THE_ALLOWLIST("other.test", "not_allowed"),
    DENIED("denied.test", "denied");

    final String host;
    final String reason;

    Refused(String host, String reason) {
      this.host = host;
      this.reason = reason;
    }
  }

  @ParameterizedTest
  @EnumSource(Refused.class)
  void plainHttpRequestIsLetThroughAndAuditedAsWouldDeny(Refused refused) throws Exception {
    AuditedRequest request = AuditedRequest.get(reported, http.authority(refused.host), "/plain?token=secret");

    assertThat(request.reply().status()).as("%s", request.reply()).isEqualTo(200);
    assertThat(request.reply().text()).isEqualTo("origin saw GET /plain?token=secret body=0\n");
    reported.awaitStderr("decision=allow", "reason=" + refused.reason, "protocol=http ", "host=" + refused.host,
        "would_deny=true", "client=" + request.client());
    Map<String, Object> line = awaitAuditLine(request.client());
    assertThat(line).containsEntry("network.policy.decision", "allow")
        .containsEntry("network.policy.reason", refused.reason)
        .containsEntry("egressd.would_deny", true)
        .containsEntry("server.address", refused.host);
    assertThat(line.toString()).doesNotContain("/plain").doesNotContain("secret");
  }

  @Test
  void anAllowIsNotMarked() throws Exception {
    AuditedRequest request = AuditedRequest.get(reported, http.authority("allowed.test"), "/fine");

    assertThat(request.reply().status()).isEqualTo(200);
    String log = reported.awaitStderr("decision=allow", "reason=allow", "client=" + request.client());
    assertThat(log).doesNotContain("would_deny");
    assertThat(awaitAuditLine(request.client())).doesNotContainKey("egressd.would_deny");
  }

  @Test
  void connectTunnelIsLetThrough() throws Exception {
    try (RawClient client = RawClient.connect(reported.port())) {
      HttpReply established = client.send(connect(http.authority("denied.test"))).readConnectResponse();
      assertThat(established.status()).as("%s", established).isEqualTo(200);

      HttpReply reply = client.send("GET /tunnelled HTTP/1.1\r\nHost: " + http.authority("denied.test")
          + "\r\nConnection: close\r\n\r\n").readResponse();
      assertThat(reply.text()).isEqualTo("origin saw GET /tunnelled body=0\n");
    }
    reported.awaitStderr("decision=allow", "reason=denied", "protocol=https_connect", "host=denied.test",
        "would_deny=true");
  }

  @Test
  void socks5ConnectIsLetThrough() throws Exception {
    try (Socks5Client socks = Socks5Client.connect(reported.socksPort())) {
      Reply reply = socks.connectTo(Socks5Address.domain("other.test", http.port()));
      assertThat(reply.status()).as("%s", reply).isEqualTo(Status.SUCCEEDED);

      assertThat(socks.httpGet(http.authority("other.test"), "/socks")).endsWith("origin saw GET /socks body=0\n");
    }
    reported.awaitStderr("decision=allow", "reason=not_allowed", "protocol=socks5_tcp", "host=other.test",
        "would_deny=true");
  }

  @Test
  void socks5UdpDatagramIsRelayed() throws Exception {
    try (Socks5Client control = Socks5Client.connect(reported.socksPort());
        Socks5UdpSocket udp = Socks5UdpSocket.open()) {
      assertThat(control.greet(Socks5Client.NO_AUTHENTICATION)).isEqualTo(Socks5Client.NO_AUTHENTICATION);
      Reply associated = control.request(Socks5Client.UDP_ASSOCIATE, Socks5Address.unspecified());
      assertThat(associated.status()).as("%s", associated).isEqualTo(Status.SUCCEEDED);
      InetSocketAddress relay = associated.boundSocket();

      udp.send(Socks5Datagram.of(Socks5Address.domain("denied.test", echo.port()), "reported datagram"), relay);
      Optional<Incoming> reply = udp.receive(Duration.ofSeconds(5));

      assertThat(reply).as("the echo, through the relay").isPresent();
      assertThat(reply.get().datagram().text()).isEqualTo("reported datagram");
    }
    reported.awaitStderr("decision=allow", "reason=denied", "protocol=socks5_udp", "host=denied.test",
        "would_deny=true");
  }

  @Test
  void interceptedWriteRequestInLimitedModeIsLetThrough() throws Exception {
    SSLContext trust = TrustFiles.trusting(limited.mitmCaCertificate());
    try (RawClient client = RawClient.connect(limited.port())) {
      HttpReply established = client.send(connect(https.authority("allowed.test"))).readConnectResponse();
      assertThat(established.status()).as("%s", established).isEqualTo(200);
      client.startTls(trust, "allowed.test", https.port());

      HttpReply reply = client.send("POST /inside HTTP/1.1\r\nHost: " + https.authority("allowed.test")
          + "\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc").readResponse();

      assertThat(reply.status()).as("%s", reply).isEqualTo(200);
      assertThat(reply.text()).isEqualTo("origin saw POST /inside body=3\n");
    }
    limited.awaitStderr("decision=allow", "reason=method_not_allowed", "protocol=https ", "method=POST",
        "would_deny=true");
  }

  @Test
  void interceptedRequestNamingAnotherHostIsStillRefused() throws Exception {
    SSLContext trust = TrustFiles.trusting(limited.mitmCaCertificate());
    try (RawClient client = RawClient.connect(limited.port())) {
      client.send(connect(https.authority("allowed.test"))).readConnectResponse();
      client.startTls(trust, "allowed.test", https.port());

      HttpReply reply = client.send("GET /other HTTP/1.1\r\nHost: " + https.authority("other.test")
          + "\r\nConnection: close\r\n\r\n").readResponse();

      assertThat(reply.status()).as("%s", reply).isEqualTo(421);
      assertThat(reply.header("x-proxy-error")).isEqualTo("host-mismatch");
    }
    assertThat(https.requests()).isEmpty();
  }

  /** Malformed requests naming refused hosts: report mode lets policy refusals through, never bad input. */
  enum Malformed {
    HOST_HEADER_NAMES_ANOTHER_HOST(
        "GET http://other.test:%1$d/ HTTP/1.1\r\nHost: denied.test:%1$d\r\n\r\n", 400, "host-mismatch"),
    INVALID_HOST_CHARACTERS(
        "GET http://other!.test:%1$d/ HTTP/1.1\r\nHost: other!.test:%1$d\r\n\r\n", 400, "invalid-host"),
    CONNECT_WITHOUT_PORT("CONNECT denied.test HTTP/1.1\r\nHost: denied.test\r\n\r\n", 400, null),
    UNIX_SOCKET_HEADER("GET http://denied.test:%1$d/ HTTP/1.1\r\nHost: denied.test:%1$d\r\n"
        + "x-unix-socket: /var/run/docker.sock\r\n\r\n", 501, null);

    final String template;
    final int status;
    final String proxyError;

    Malformed(String template, int status, String proxyError) {
      this.template = template;
      this.status = status;
      this.proxyError = proxyError;
    }
  }

  @ParameterizedTest
  @EnumSource(Malformed.class)
  void malformedRequestIsStillRefused(Malformed request) throws Exception {
    try (RawClient client = RawClient.connect(reported.port())) {
      HttpReply reply = client.send(String.format(request.template, http.port())).readResponse();

      assertThat(reply.status()).as("%s", reply).isEqualTo(request.status);
      if (request.proxyError != null) {
        assertThat(reply.header("x-proxy-error")).isEqualTo(request.proxyError);
      }
    }
    assertThat(http.connectionCount()).isZero();
  }

  @Test
  void malformedSocks5UdpDatagramIsStillDropped() throws Exception {
    try (Socks5Client control = Socks5Client.connect(reported.socksPort());
        Socks5UdpSocket udp = Socks5UdpSocket.open()) {
      control.greet(Socks5Client.NO_AUTHENTICATION);
      InetSocketAddress relay = control.request(Socks5Client.UDP_ASSOCIATE, Socks5Address.unspecified())
          .boundSocket();

      udp.send(Socks5Datagram.of(Socks5Address.domain("denied.test", echo.port()), "fragment").withFragment(1),
          relay);
      udp.send(Socks5Datagram.of(Socks5Address.domain("denied.test", echo.port()), "whole"), relay);

      assertThat(udp.receive(Duration.ofSeconds(5))).isPresent();
    }
    assertThat(echo.receivedTexts()).containsExactly("whole");
  }

  @Test
  void egressdsOwnListenerIsStillRefused() throws Exception {
    AuditedRequest request = AuditedRequest.get(reported, "127.0.0.1:" + reported.port(), "/loop");

    assertThat(request.reply().status()).as("%s", request.reply()).isEqualTo(403);
    assertThat(awaitAuditLine(request.client())).containsEntry("network.policy.decision", "deny")
        .containsEntry("network.policy.reason", "proxy_loop").doesNotContainKey("egressd.would_deny");
  }

  @Test
  void ruleWithReportFalseIsEnforcedInAReportedPolicy() throws Exception {
    AuditedRequest request = AuditedRequest.get(reported, http.authority("mixed.test"), "/enforced");

    assertThat(request.reply().status()).as("%s", request.reply()).isEqualTo(403);
    assertThat(request.reply().header("x-proxy-error")).isEqualTo("blocked-by-denylist");
    assertThat(http.connectionCount()).isZero();
    assertThat(awaitAuditLine(request.client())).containsEntry("network.policy.decision", "deny")
        .containsEntry("network.policy.reason", "denied");
  }

  @Test
  void localAddressesStayRefusedWithoutTheOptIn() throws Exception {
    Daemon noLocal = Daemon.withConfig("""
        [network]
        enforcement = "report"
        allowed_domains = ["allowed.test"]
        """);
    noLocal.start();
    try {
      AuditedRequest request = AuditedRequest.get(noLocal, http.authority("other.test"), "/local");

      assertThat(request.reply().status()).as("%s", request.reply()).isEqualTo(403);
      assertThat(request.reply().json()).containsEntry("reason", "not_allowed_local");
      assertThat(http.connectionCount()).isZero();
      String log = noLocal.awaitStderr("decision=deny", "reason=not_allowed_local", "client=" + request.client());
      assertThat(log).doesNotContain("would_deny");
    } finally {
      noLocal.stop();
    }
  }

  @Test
  void oneRuleWithReportTrueIsTrialledInAnEnforcedPolicy() throws Exception {
    AuditedRequest trialled = AuditedRequest.get(trial, http.authority("denied.test"), "/trial");
    AuditedRequest enforcedRule = AuditedRequest.get(trial, http.authority("mixed.test"), "/rule");
    AuditedRequest unlisted = AuditedRequest.get(trial, http.authority("cli.test"), "/unlisted");

    assertThat(trialled.reply().status()).as("%s", trialled.reply()).isEqualTo(200);
    trial.awaitStderr("decision=allow", "reason=denied", "rule=\"denied.test\"", "would_deny=true",
        "client=" + trialled.client());
    assertThat(enforcedRule.reply().status()).isEqualTo(403);
    assertThat(enforcedRule.reply().header("x-proxy-error")).isEqualTo("blocked-by-denylist");
    assertThat(unlisted.reply().status()).isEqualTo(403);
    assertThat(unlisted.reply().header("x-proxy-error")).isEqualTo("blocked-by-allowlist");
    assertThat(http.requests()).extracting(RecordedRequest::target).containsExactly("/trial");
  }

  @Test
  void reportOptionTurnsAnEnforcedConfigIntoReportMode() throws Exception {
    Daemon flagged = Daemon.withConfig("""
        [network]
        allow_local_binding = true
        allowed_domains = ["allowed.test"]
        """).withArgs("--report");
    flagged.start();
    try {
      flagged.awaitStdout("egressd: REPORT MODE");
      AuditedRequest request = AuditedRequest.get(flagged, http.authority("other.test"), "/flag");

      assertThat(request.reply().status()).as("%s", request.reply()).isEqualTo(200);
      flagged.awaitStderr("decision=allow", "reason=not_allowed", "would_deny=true", "client=" + request.client());
    } finally {
      flagged.stop();
    }
  }

  @Test
  void anUnknownEnforcementIsAConfigErrorNotReportMode() throws Exception {
    Path config = Files.writeString(dir.resolve("config.toml"), """
        [network]
        allowed_domains = ["allowed.test"]
        enforcement = "reprot"
        """);

    ProcessResult validate = Egressd.cli(dir, "validate", "--config", config.toString());
    ProcessResult run = Egressd.cli(dir, "run", "--config", config.toString());

    assertThat(validate.exitCode()).as("%s", validate).isEqualTo(2);
    assertThat(validate.stdout() + validate.stderr()).contains(config + ":3:")
        .contains("network.enforcement").contains("\"reprot\"");
    assertThat(run.exitCode()).as("%s", run).isNotZero();
    assertThat(run.stdout()).doesNotContain("listening");
  }

  /** The JSON audit line of the reported daemon for {@code client}'s connection. */
  private static Map<String, Object> awaitAuditLine(String client) throws Exception {
    Path file = reported.configDirectory().resolve("audit.jsonl");
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (true) {
      String text = Files.exists(file) ? Files.readString(file) : "";
      List<String> lines = text.lines().filter(l -> l.contains("\"client.address\":\"" + client + "\"")).toList();
      if (!lines.isEmpty() && text.endsWith("\n")) {
        return Json.object(lines.get(0));
      }
      if (System.nanoTime() > deadline) {
        return fail("no audit line for client %s within 10 s:\n%s", client, text);
      }
      Thread.sleep(20);
    }
  }
}
