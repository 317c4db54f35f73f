package dev.egressd.it;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code [network.credentials.NAME]} through {@code run -- CMD} with real clients (curl, Python requests): the child
 * holds only stand-ins, the origin a credential belongs to receives the real secret, and a stand-in sent to any
 * other host is refused and audited by name. No secret appears in anything egressd writes.
 */
@Timeout(value = 120, unit = SECONDS)
class CredentialsIT {
  private static final String GITHUB = "ghp_RealGitHubToken0123456789abcdefABCD";
  private static final String OPENAI = "sk-proj-RealOpenAiKey9876543210zyxwVUTS";

  @RegisterExtension
  static final OriginServer https = OriginServer.https();

  @RegisterExtension
  static final OriginServer http = OriginServer.http();

  @RegisterExtension
  static final OtlpCollector collector = OtlpCollector.start();

  @TempDir
  static Path dir;

  static Path config;
  static Path audit;

  @BeforeAll
  static void writeConfig() throws IOException {
    Path key = Files.writeString(dir.resolve("openai.key"), OPENAI + "\n");
    audit = dir.resolve("audit.jsonl");
    // Stand-in hosts: allowed.test plays api.github.com, 127.0.0.1 plays api.openai.com (the test CA names both).
    config = Files.writeString(dir.resolve("egressd.toml"), """
        [network]
        mitm = true
        allowed_domains = ["allowed.test", "127.0.0.1"]
        mitm_upstream_ca_bundle = '%s'

        [network.credentials.github]
        secret_env_var = "GH_REAL_TOKEN"
        hosts = ["allowed.test"]
        child_env_var = "GH_TOKEN"

        [network.credentials.openai]
        secret_file = '%s'
        hosts = ["127.0.0.1"]
        child_env_var = "OPENAI_API_KEY"
        """.formatted(TestCertificates.get().caPem(), key));
  }

  private static ProcessResult runChild(String script) {
    Map<String, String> env = new HashMap<>();
    env.put("CODEX_HOME", dir.toString());
    env.put("HOME", dir.toString());
    env.put("GH_REAL_TOKEN", GITHUB);
    return Egressd.cli(env, "run", "--config", config.toString(), "--listen", "127.0.0.1:0", "--socks-listen",
        "127.0.0.1:0", "--audit-file", audit.toString(), "--", "sh", "-c", script);
  }

  private static void assertNoSecretIn(ProcessResult result) throws IOException {
    String audited = Files.exists(audit) ? Files.readString(audit, StandardCharsets.UTF_8) : "";
    for (String written : List.of(result.stdout(), result.stderr(), audited)) {
      assertThat(written).doesNotContain(GITHUB).doesNotContain(OPENAI);
    }
  }

  @Test
  void curlSendsTheStandInAndTheOriginReceivesTheSecret() throws Exception {
    Path dump = dir.resolve("child-env.txt");
    ProcessResult result = runChild("env > " + dump + "; curl -sS -o /dev/null -w '%{http_code}'"
        + " -H \"Authorization: Bearer $GH_TOKEN\" " + https.url("allowed.test", "/user"));

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(result.stdout().strip()).isEqualTo("200");
    assertThat(https.onlyRequest().header("Authorization")).isEqualTo("Bearer " + GITHUB);
    String env = Files.readString(dump);
    String standIn = env.lines().filter(l -> l.startsWith("GH_TOKEN=")).findFirst().orElseThrow().substring(9);
    assertThat(standIn).startsWith("ghp_").hasSameSizeAs(GITHUB).isNotEqualTo(GITHUB);
    assertThat(env).doesNotContain(GITHUB).doesNotContain(OPENAI).doesNotContain("GH_REAL_TOKEN=")
        .contains("OPENAI_API_KEY=sk-proj-");
    assertNoSecretIn(result);
  }

  @Test
  void pythonRequestsGetsTheKeyFromTheFileSwappedIn() throws Exception {
    ProcessResult result = runChild("/usr/bin/python3 -c \"import os, requests; r = requests.get('"
        + https.url("127.0.0.1", "/v1/models") + "', headers={'Authorization': 'Bearer ' +"
        + " os.environ['OPENAI_API_KEY']}, timeout=20); print(r.status_code)\"");

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(result.stdout().strip()).isEqualTo("200");
    assertThat(https.onlyRequest().header("Authorization")).isEqualTo("Bearer " + OPENAI);
    assertNoSecretIn(result);
  }

  @Test
  void aStandInInsideBasicAuthAsGitSendsItIsSwappedToo() throws Exception {
    ProcessResult result = runChild("curl -sS -o /dev/null -w '%{http_code}' -u \"x-access-token:$GH_TOKEN\" "
        + https.url("allowed.test", "/repo.git/info/refs"));

    assertThat(result.stdout().strip()).as("%s", result).isEqualTo("200");
    String basic = https.onlyRequest().header("Authorization");
    assertThat(basic).startsWith("Basic ");
    assertThat(new String(Base64.getDecoder().decode(basic.substring(6)), StandardCharsets.UTF_8))
        .isEqualTo("x-access-token:" + GITHUB);
  }

  @Test
  void aStandInSentToAnotherHostIsRefusedAndAuditedByName() throws Exception {
    ProcessResult result = runChild("curl -sS -D - -o /dev/null -H \"Authorization: Bearer $GH_TOKEN\" "
        + https.url("127.0.0.1", "/exfiltrate") + "; curl -sS -o /dev/null -w '%{http_code}' \""
        + http.url("allowed.test", "/paste") + "?key=$OPENAI_API_KEY\"");

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(result.stdout()).contains("HTTP/1.1 403").containsIgnoringCase("x-proxy-error: "
        + "blocked-by-credential-policy").endsWith("403\n");
    assertThat(https.requests()).isEmpty();
    assertThat(http.requests()).isEmpty();
    assertThat(result.stderr()).contains("reason=credential_misuse").contains("credential=github")
        .contains("credential=openai");
    List<Map<String, Object>> misuse = Files.readAllLines(audit).stream().map(Json::object)
        .filter(line -> "credential_misuse".equals(line.get("network.policy.reason"))).toList();
    assertThat(misuse).extracting(line -> line.get("egressd.credential")).contains("github", "openai");
    assertThat(misuse).extracting(line -> line.get("server.address")).contains("127.0.0.1", "allowed.test");
    assertNoSecretIn(result);
  }

  @Test
  void aStandInInTheFirst64KiBOfABodyIsRefusedAndOtherBodiesStreamWhole() throws Exception {
    Path big = dir.resolve("big.bin");
    Files.write(big, TestData.randomBytes(300 * 1024));
    ProcessResult result = runChild("printf '{\"note\":\"x\",\"token\":\"%s\"}' \"$GH_TOKEN\" > " + dir.resolve("leak.json")
        + "; curl -sS -o /dev/null -w '%{http_code} ' --data-binary @" + dir.resolve("leak.json") + " "
        + https.url("127.0.0.1", "/upload-leak") + "; curl -sS -o /dev/null -w '%{http_code} ' -H 'Expect: 100-continue'"
        + " --data-binary @" + dir.resolve("leak.json") + " " + http.url("127.0.0.1", "/plain-leak")
        + "; curl -sS -o /dev/null -w '%{http_code}' -H 'Expect: 100-continue' --data-binary @" + big + " "
        + https.url("127.0.0.1", "/upload-big"));

    assertThat(result.stdout().strip()).as("%s", result).isEqualTo("403 403 200");
    assertThat(http.requests()).isEmpty();
    assertThat(https.requests()).singleElement().satisfies(r -> {
      assertThat(r.target()).isEqualTo("/upload-big");
      assertThat(r.bodySha256()).isEqualTo(TestData.sha256(Files.readAllBytes(big)));
    });
    assertThat(result.stderr()).contains("reason=credential_misuse").contains("credential=github");
    assertNoSecretIn(result);
  }

  /** A bare repository with one commit, served by {@code git http-backend} behind TLS, wanting the real token. */
  private static Process startGitServer(Path root) throws Exception {
    Path work = Files.createDirectories(root.resolve("work"));
    Map<String, String> gitEnv = Map.of("GIT_AUTHOR_NAME", "t", "GIT_AUTHOR_EMAIL", "t@t", "GIT_COMMITTER_NAME", "t",
        "GIT_COMMITTER_EMAIL", "t@t", "HOME", root.toString());
    Files.writeString(work.resolve("README"), "cloned with a stand-in\n");
    for (List<String> command : List.of(List.of("git", "init", "-q", "-b", "main", "."), List.of("git", "add", "."),
        List.of("git", "commit", "-q", "-m", "one"), List.of("git", "clone", "-q", "--bare", ".",
            root.resolve("repo.git").toString()))) {
      ProcessResult result = Processes.run(command, gitEnv, work, java.time.Duration.ofSeconds(30));
      assertThat(result.exitCode()).as("%s: %s", command, result).isZero();
    }
    Path script = root.resolve("server.py");
    try (java.io.InputStream in = CredentialsIT.class.getResourceAsStream("/git-smart-https.py")) {
      Files.write(script, in.readAllBytes());
    }
    Path certificate = root.resolve("server.pem");
    Path key = root.resolve("server.key");
    TestCertificates.get().writeServerPem(certificate, key);
    Path portFile = root.resolve("port");
    Process server = new ProcessBuilder("/usr/bin/python3", script.toString(), root.toString(), certificate.toString(),
        key.toString(), GITHUB, portFile.toString()).redirectErrorStream(true)
        .redirectOutput(root.resolve("server.log").toFile()).start();
    long deadline = System.nanoTime() + java.time.Duration.ofSeconds(20).toNanos();
    while (!Files.exists(portFile)) {
      assertThat(server.isAlive()).as("git server: %s", Files.exists(root.resolve("server.log"))
          ? Files.readString(root.resolve("server.log")) : "").isTrue();
      assertThat(System.nanoTime()).as("git server port").isLessThan(deadline);
      Thread.sleep(50);
    }
    return server;
  }

  @Test
  void gitClonesOverSmartHttpWithTheStandInAndTheServerSeesTheRealToken() throws Exception {
    Path root = Files.createDirectories(dir.resolve("git-" + System.nanoTime()));
    Process server = startGitServer(root);
    try {
      int port = Integer.parseInt(Files.readString(root.resolve("port")).strip());
      Path clone = root.resolve("clone");
      Path refused = root.resolve("refused");
      ProcessResult result = runChild("git -c credential.helper= clone -q"
          + " \"https://x-access-token:$GH_TOKEN@allowed.test:" + port + "/repo.git\" " + clone
          + " && cat " + clone.resolve("README") + "; git -c credential.helper= clone -q"
          + " \"https://x-access-token:$GH_TOKEN@127.0.0.1:" + port + "/repo.git\" " + refused
          + " 2>/dev/null || echo refused");

      assertThat(result.stdout()).as("%s", result).isEqualTo("cloned with a stand-in\nrefused\n");
      List<String> log = Files.readAllLines(root.resolve("auth.log"));
      assertThat(log).as("git asks without credentials first, then sends the swapped token")
          .anyMatch(l -> l.startsWith("ok /repo.git/info/refs")).anyMatch(l -> l.startsWith("ok /repo.git/git-upload-pack"))
          .noneMatch(l -> l.startsWith("wrong"));
      assertThat(result.stderr()).contains("reason=credential_misuse").contains("credential=github")
          .contains("host=127.0.0.1");
      assertThat(refused).doesNotExist();
      assertNoSecretIn(result);
    } finally {
      server.destroy();
      server.waitFor();
    }
  }

  @Test
  void aDaemonCountsMisuseAndExportsItByNameWithNoSecretInTheOtlpRecords() throws Exception {
    Map<String, String> env = new HashMap<>(Map.of("CODEX_HOME", dir.toString(), "HOME", dir.toString(),
        "GH_REAL_TOKEN", GITHUB));
    ProcessResult printed = Egressd.cli(env, "env", "--config", config.toString(), "--format", "dotenv",
        "--listen", "127.0.0.1:3128", "--socks-listen", "127.0.0.1:1080");
    String standIn = printed.stdout().lines().filter(l -> l.startsWith("GH_TOKEN=")).findFirst().orElseThrow()
        .substring("GH_TOKEN=".length()).replace("'", "");
    Daemon daemon = Daemon.withConfig(Files.readString(config) + """

        [otel]
        exporter = { otlp-http = { endpoint = "%s", protocol = "binary" } }

        [admin]
        listen = "127.0.0.1:0"
        """.formatted(collector.endpoint())).withEnvironment("GH_REAL_TOKEN", GITHUB);
    daemon.start();
    try {
      AuditedRequest misuse = AuditedRequest.send(daemon, "GET http://" + http.authority("127.0.0.1")
          + "/collect HTTP/1.1\r\nHost: " + http.authority("127.0.0.1") + "\r\nAuthorization: token " + standIn
          + "\r\nConnection: close\r\n\r\n");

      assertThat(misuse.reply().status()).as("the stand-in from egressd env is the daemon's\n%s", misuse.reply())
          .isEqualTo(403);
      assertThat(misuse.reply().header("x-proxy-error")).isEqualTo("blocked-by-credential-policy");
      OtlpCollector.ExportedRecord record = collector.await(r -> misuse.client().equals(r.attributes()
          .get("client.address")), java.time.Duration.ofSeconds(10)).orElseThrow();
      assertThat(record.attributes()).containsEntry("network.policy.reason", "credential_misuse")
          .containsEntry("egressd.credential", "github");
      assertThat(new AdminClient(daemon.adminPort()).metrics().sum("egressd_decisions_total", "reason",
          "credential_misuse")).isGreaterThanOrEqualTo(1);
      // Pipelined on one connection: a clean body streams on, the next request's body with the stand-in is refused.
      String authority = http.authority("127.0.0.1");
      String clean = "a".repeat(100_000);
      String leaking = "{\"token\":\"" + standIn + "\"}";
      try (RawClient raw = RawClient.connect(daemon.port())) {
        raw.send("POST http://" + authority + "/pipelined-clean HTTP/1.1\r\nHost: " + authority
            + "\r\nContent-Length: " + clean.length() + "\r\n\r\n" + clean + "POST http://" + authority
            + "/pipelined-leak HTTP/1.1\r\nHost: " + authority + "\r\nContent-Length: " + leaking.length()
            + "\r\n\r\n" + leaking);
        assertThat(raw.readResponse().status()).isEqualTo(200);
        HttpReply second = raw.readResponse();
        assertThat(second.status()).as("%s", second).isEqualTo(403);
        assertThat(second.header("x-proxy-error")).isEqualTo("blocked-by-credential-policy");
      }
      assertThat(http.requests()).singleElement().satisfies(r -> {
        assertThat(r.target()).isEqualTo("/pipelined-clean");
        assertThat(r.bodyLength()).isEqualTo(clean.length());
      });
      for (OtlpCollector.Export export : collector.exports()) {
        String raw = new String(export.raw(), StandardCharsets.ISO_8859_1);
        assertThat(raw).doesNotContain(GITHUB).doesNotContain(OPENAI).doesNotContain(standIn);
      }
      assertThat(daemon.stderr() + daemon.stdout()).doesNotContain(GITHUB).doesNotContain(OPENAI)
          .doesNotContain(standIn);
    } finally {
      daemon.stop();
    }
  }

  @Test
  void envPrintsTheStandInsAndClearsTheRealVariable() throws Exception {
    Map<String, String> env = new HashMap<>();
    env.put("CODEX_HOME", dir.toString());
    env.put("HOME", dir.toString());
    env.put("GH_REAL_TOKEN", GITHUB);

    ProcessResult printed = Egressd.cli(env, "env", "--config", config.toString(), "--listen", "127.0.0.1:3128",
        "--socks-listen", "127.0.0.1:1080");
    ProcessResult run = runChild("printf %s \"$GH_TOKEN\"");

    assertThat(printed.exitCode()).as("%s", printed).isZero();
    assertThat(printed.stdout()).contains("export GH_REAL_TOKEN=''\n")
        .contains("export GH_TOKEN=" + run.stdout().strip() + "\n").contains("export OPENAI_API_KEY=sk-proj-")
        .doesNotContain(GITHUB).doesNotContain(OPENAI);
  }
}
