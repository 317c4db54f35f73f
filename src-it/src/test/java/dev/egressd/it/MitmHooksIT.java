package dev.egressd.it;

import static dev.egressd.it.TestData.connect;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@code [[network.mitm_hooks]]} with real clients: a hooked host is intercepted in full mode too, its requests must
 * match a hook (method, path, query, headers), a matching hook strips and then injects headers (the secret comes
 * from the environment and reaches only the origin), and a request no hook matches is refused with
 * {@code blocked-by-mitm-hook}. The secret appears in nothing egressd writes.
 */
@Timeout(value = 90, unit = SECONDS)
class MitmHooksIT {
  private static final String SECRET = "hook-secret-7f3a9c1e5b";

  private static final String HOOKS = """
      [[network.mitm_hooks]]
      host = "allowed.test"
      [network.mitm_hooks.match]
      methods = ["GET"]
      path_prefixes = ["/v1/"]
      [network.mitm_hooks.actions]
      strip_request_headers = ["x-debug"]
      inject_request_headers = [{ name = "authorization", secret_env_var = "HOOK_TOKEN", prefix = "Bearer " }]

      [[network.mitm_hooks]]
      host = "allowed.test"
      [network.mitm_hooks.match]
      methods = ["POST"]
      path_prefixes = ["pattern:/upload/*"]
      query = { org = ["acme"] }
      headers = { "x-client" = [] }
      """;

  private static String config(String mode) {
    return """
        [network]
        mode = "%s"
        mitm = true
        allowed_domains = ["allowed.test", "127.0.0.1"]
        mitm_upstream_ca_bundle = '%s'

        [audit]
        file = "audit.jsonl"

        [otel]
        exporter = { otlp-http = { endpoint = "%s", protocol = "binary" } }

        """.formatted(mode, TestCertificates.get().caPem(), collector.endpoint()) + HOOKS;
  }

  @RegisterExtension
  static final OtlpCollector collector = OtlpCollector.start();

  @RegisterExtension
  static final OriginServer origin = OriginServer.https();

  @RegisterExtension
  static final OriginServer plain = OriginServer.http();

  @RegisterExtension
  static final Daemon full = Daemon.withConfig(config("full")).withEnvironment("HOOK_TOKEN", SECRET);

  @RegisterExtension
  static final Daemon limited = Daemon.withConfig(config("limited")).withEnvironment("HOOK_TOKEN", SECRET);

  @TempDir
  Path dir;

  private static Curl.Result curl(Daemon daemon, String... args) throws Exception {
    String[] all = new String[args.length + 4];
    all[0] = "-x";
    all[1] = daemon.url();
    all[2] = "--cacert";
    all[3] = daemon.mitmCaCertificate().toString();
    System.arraycopy(args, 0, all, 4, args.length);
    return Curl.fetch(all);
  }

  @Test
  void aMatchingHookStripsThenInjectsAndOnlyTheOriginSeesTheSecret() throws Exception {
    Curl.Result get = curl(full, "-H", "Authorization: Bearer the-clients-own", "-H", "X-Debug: 1",
        "-H", "X-Kept: yes", origin.url("allowed.test", "/v1/items?page=2"));

    assertThat(get.exitCode()).as("full mode intercepts a hooked host\n%s", get).isZero();
    assertThat(get.reply().status()).isEqualTo(200);
    RecordedRequest seen = origin.onlyRequest();
    assertThat(seen.target()).isEqualTo("/v1/items?page=2");
    assertThat(seen.header("Authorization")).isEqualTo("Bearer " + SECRET);
    assertThat(seen.header("X-Debug")).isNull();
    assertThat(seen.header("X-Kept")).isEqualTo("yes");
    full.awaitStderr("decision=allow", "protocol=https ", "host=allowed.test", "method=GET");
  }

  @Test
  void theSecondHookMatchesOnMethodPathQueryAndHeaderAndInjectsNothing() throws Exception {
    Curl.Result post = curl(full, "-d", "x=1", "-H", "X-Client: cli", "-H", "Authorization: Bearer own",
        origin.url("allowed.test", "/upload/report?org=acme"));

    assertThat(post.reply().status()).as("%s", post).isEqualTo(200);
    assertThat(origin.onlyRequest().header("Authorization")).isEqualTo("Bearer own");
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', textBlock = """
      another path prefix         | GET  | /v2/items                | X-Client: cli
      a dot segment               | GET  | /v1/../admin             | X-Client: cli
      an encoded slash            | GET  | /v1/a%2F..%2Fadmin       | X-Client: cli
      a method no hook lists      | PUT  | /v1/items                | X-Client: cli
      a query value not allowed   | POST | /upload/report?org=evil  | X-Client: cli
      no query                    | POST | /upload/report           | X-Client: cli
      the header missing          | POST | /upload/report?org=acme  | X-Other: 1
      a glob crossing a slash     | POST | /upload/a/b?org=acme     | X-Client: cli
      """)
  void aRequestNoHookMatchesIsRefused(String what, String method, String path, String header) throws Exception {
    Curl.Result refused = curl(full, "--path-as-is", "-X", method, "-H", header, "-d", "x",
        origin.url("allowed.test", path));

    assertThat(refused.exitCode()).as("%s", refused).isZero();
    assertThat(refused.reply().status()).isEqualTo(403);
    assertThat(refused.reply().header("x-proxy-error")).isEqualTo("blocked-by-mitm-hook");
    assertThat(refused.reply().json()).containsEntry("reason", "mitm_hook_denied");
    assertThat(origin.requests()).isEmpty();
    full.awaitStderr("decision=deny", "reason=mitm_hook_denied", "protocol=https ", "method=" + method);
  }

  @Test
  void aHookAppliesThroughSocks5Too() throws Exception {
    Curl.Result get = Curl.fetch("--socks5-hostname", "127.0.0.1:" + full.socksPort(), "--cacert",
        full.mitmCaCertificate().toString(), origin.url("allowed.test", "/v1/socks"));
    Curl.Result refused = Curl.fetch("--socks5-hostname", "127.0.0.1:" + full.socksPort(), "--cacert",
        full.mitmCaCertificate().toString(), origin.url("allowed.test", "/v2/socks"));

    assertThat(get.reply().status()).as("%s", get).isEqualTo(200);
    assertThat(refused.reply().status()).as("%s", refused).isEqualTo(403);
    assertThat(origin.requests()).singleElement().satisfies(r -> {
      assertThat(r.target()).isEqualTo("/v1/socks");
      assertThat(r.header("Authorization")).isEqualTo("Bearer " + SECRET);
    });
  }

  @Test
  void plainHttpToAHookedHostIsRefused() throws Exception {
    AuditedRequest request = AuditedRequest.get(full, plain.authority("allowed.test"), "/v1/items");

    assertThat(request.reply().status()).isEqualTo(403);
    assertThat(request.reply().header("x-proxy-error")).isEqualTo("blocked-by-mitm-hook");
    assertThat(plain.connectionCount()).isZero();
  }

  @Test
  void plainHttpToAHostWithoutHooksIsServed() throws Exception {
    AuditedRequest request = AuditedRequest.get(full, plain.authority("127.0.0.1"), "/v1/items");

    assertThat(request.reply().status()).as("%s", request.reply()).isEqualTo(200);
    assertThat(plain.onlyRequest().header("Authorization")).isNull();
  }

  @Test
  void opaqueBytesIntoAHookedTunnelAreRefused() throws Exception {
    try (RawClient client = RawClient.connect(full.port())) {
      HttpReply established = client.send(connect(origin.authority("allowed.test"))).readConnectResponse();
      assertThat(established.status()).isEqualTo(200);
      client.send("GET /v1/items HTTP/1.1\r\nHost: allowed.test\r\n\r\n");

      assertThat(client.closedByPeer(5_000)).isTrue();
    }
    full.awaitStderr("decision=deny", "reason=mitm_hook_denied", "host=allowed.test");
    assertThat(origin.connectionCount()).isZero();
  }

  @Test
  void inLimitedModeTheMethodPolicyComesFirst() throws Exception {
    Curl.Result get = curl(limited, origin.url("allowed.test", "/v1/items"));
    Curl.Result post = curl(limited, "-d", "x=1", "-H", "X-Client: cli",
        origin.url("allowed.test", "/upload/report?org=acme"));

    assertThat(get.reply().status()).as("%s", get).isEqualTo(200);
    assertThat(post.reply().status()).as("a hook never widens limited mode\n%s", post).isEqualTo(403);
    assertThat(post.reply().header("x-proxy-error")).isEqualTo("blocked-by-method-policy");
    assertThat(origin.requests()).singleElement()
        .satisfies(r -> assertThat(r.header("Authorization")).isEqualTo("Bearer " + SECRET));
  }

  @Test
  void theSecretIsInNothingEgressdWrites() throws Exception {
    curl(full, "-H", "X-Debug: 1", origin.url("allowed.test", "/v1/secret-check"));
    curl(full, "-X", "DELETE", origin.url("allowed.test", "/v1/secret-check"));
    full.awaitStderr("decision=deny", "reason=mitm_hook_denied", "method=DELETE");
    Path config = Files.writeString(dir.resolve("egressd.toml"), config("full"));
    Map<String, String> env = Map.of("HOOK_TOKEN", SECRET, "CODEX_HOME", dir.toString(), "HOME", dir.toString());

    ProcessResult validate = Egressd.cli(env, "validate", "--config", config.toString());
    ProcessResult check = Egressd.cli(env, "check", "--config", config.toString(), "--json",
        "https://127.0.0.1:" + origin.port() + "/v1/x");

    assertThat(validate.exitCode()).as("%s", validate).isZero();
    String audit = Files.readString(full.configDirectory().resolve("audit.jsonl"), StandardCharsets.UTF_8);
    assertThat(audit).contains("mitm_hook_denied");
    collector.await(r -> "mitm_hook_denied".equals(r.attributes().get("network.policy.reason"))
        && "DELETE".equals(r.attributes().get("http.request.method")), java.time.Duration.ofSeconds(10)).orElseThrow();
    List<String> exported = collector.exports().stream()
        .map(e -> new String(e.raw(), StandardCharsets.ISO_8859_1)).toList();
    assertThat(exported).isNotEmpty();
    List<String> everything = new java.util.ArrayList<>(List.of(full.stdout(), full.stderr(), audit,
        validate.stdout(), validate.stderr(), check.stdout(), check.stderr()));
    everything.addAll(exported);
    for (String written : everything) {
      assertThat(written).doesNotContain(SECRET).doesNotContain("secret-check");
    }
  }

  @Test
  void aMissingSecretStopsTheStartAndAReloadThatLosesItIsRejected() throws Exception {
    Path config = Files.writeString(dir.resolve("egressd.toml"), config("full"));
    ProcessResult start = Egressd.cli(Map.of("CODEX_HOME", dir.toString(), "HOME", dir.toString()), "run",
        "--config", config.toString());

    assertThat(start.exitCode()).as("%s", start).isEqualTo(2);
    assertThat(start.stderr()).contains("egressd.toml:").contains("missing required environment variable HOOK_TOKEN");

    Daemon reloaded = Daemon.withConfig(config("full")).withEnvironment("HOOK_TOKEN", SECRET);
    reloaded.start();
    try {
      Files.writeString(reloaded.configDirectory().resolve("egressd.toml"),
          config("full").replace("HOOK_TOKEN", "GONE_TOKEN"));
      new ProcessBuilder("kill", "-HUP", Long.toString(reloaded.process().pid())).start().waitFor();
      reloaded.awaitStderr("missing required environment variable GONE_TOKEN");
      assertThat(reloaded.stderrOfThisTest()).anyMatch(l -> l.contains("reload (SIGHUP) rejected"));

      Curl.Result get = curl(reloaded, origin.url("allowed.test", "/v1/after-reload"));
      assertThat(get.reply().status()).isEqualTo(200);
      assertThat(origin.onlyRequest().header("Authorization")).as("the running hooks stay")
          .isEqualTo("Bearer " + SECRET);
    } finally {
      reloaded.stop();
    }
  }
}
