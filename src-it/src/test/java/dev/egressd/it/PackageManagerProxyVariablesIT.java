package dev.egressd.it;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A package manager's own proxy setting, as {@code egressd run -- CMD} sets it, takes it through egressd by itself:
 * pip with {@code PIP_PROXY}, npm with one of {@code npm_config_proxy}, {@code npm_config_https_proxy} (or their
 * upper-case forms), yarn 1 with {@code YARN_HTTPS_PROXY} for HTTPS registries only; Bundler's do not (below). The
 * child of {@code run} is a small sh wrapper that checks {@code run} set the variable and then starts the client with
 * {@code env -i}, so its environment is PATH, HOME and that one variable (for yarn and Bundler also a few paths that
 * keep them to the test's own files): {@code HTTP_PROXY}, {@code HTTPS_PROXY}, their lower-case forms,
 * {@code ALL_PROXY} and everything else {@code run} sets are gone (the first test checks the environment itself).
 * Each client is sent to an allowed host (the package arrives, one allow decision per request the origin saw) and to
 * a denied one (one deny decision, nothing reaches the origin). The names resolve only in the daemon (test hosts
 * file), and a control run without the variable shows the client then reaches nothing and the daemon decides
 * nothing: the variable is what routed it. For npm, the two variables also beat a proxy in the user's
 * {@code .npmrc}.
 *
 * <p>Yarn 1 (Debian's {@code yarnpkg}, 1.22) maps {@code YARN_*} variables to its settings, but of the two that
 * {@code run} sets only {@code YARN_HTTPS_PROXY} means something to it: {@code https-proxy}, for {@code https://}
 * requests only. {@code YARN_HTTP_PROXY} becomes {@code http-proxy}, a setting yarn 1 never reads (its plain-HTTP
 * proxy setting is {@code proxy}), so it has no effect at all. A plain-HTTP registry is reached through egressd by
 * {@code npm_config_proxy} (or {@code NPM_CONFIG_PROXY}), which yarn 1 reads as npm's {@code proxy}.
 *
 * <p>Bundler (Debian's {@code ruby-bundler}, 2.3) ignores {@code BUNDLE_HTTP_PROXY} and {@code BUNDLE_HTTPS_PROXY}:
 * it reads them as settings but no code uses them. Its proxy is {@code http_proxy} (or {@code HTTP_PROXY}), for
 * {@code http://} and {@code https://} sources alike, and {@code https_proxy} does nothing. With either
 * {@code BUNDLE_*} proxy variable set, {@code bundle config} and {@code bundle env} fail, as Bundler takes any setting
 * whose name starts with "http" for a source URL; so {@code run} does not set them, unlike the reference proxy, and
 * {@code bundle config} works under {@code run}.
 */
@Timeout(value = 300, unit = SECONDS)
class PackageManagerProxyVariablesIT {
  private static final String CONFIG = """
      [network]
      allowed_domains = ["allowed.test", "127.0.0.1"]
      denied_domains = ["denied.test"]
      """;
  private static final Duration CHILD_TIMEOUT = Duration.ofSeconds(150);

  @RegisterExtension
  static final OriginServer http = OriginServer.http();

  @RegisterExtension
  static final OriginServer https = OriginServer.https();

  @TempDir
  static Path dir;

  static Path config;
  static Path emptyUserConfig;
  static Path emptyGlobalConfig;
  static PackageRepositories packages;

  @BeforeAll
  static void prepare() throws IOException {
    config = Files.writeString(dir.resolve("egressd.toml"), CONFIG);
    emptyUserConfig = Files.writeString(dir.resolve("user.npmrc"), "");
    emptyGlobalConfig = Files.writeString(dir.resolve("global.npmrc"), "");
    packages = PackageRepositories.build();
    PackageRepositories.assertResolvableOnlyByTheDaemon(dir, "allowed.test", "denied.test");
  }

  @BeforeEach
  void serveIndexAndRegistry() {
    packages.serve(http);
    packages.serve(https);
  }

  @Test
  void theClientsEnvironmentHoldsOnlyPathHomeAndTheKeptVariable() {
    ProcessResult result = only(List.of("PIP_PROXY"), Map.of(), List.of("env", "-0"));

    assertThat(result.exitCode()).as("%s", result).isZero();
    // run's own lines go to stderr, so standard output is env's NUL-separated entries alone.
    Map<String, String> env = new HashMap<>();
    for (String entry : result.stdout().split("\0")) {
      int eq = entry.indexOf('=');
      if (eq > 0) {
        env.put(entry.substring(0, eq), entry.substring(eq + 1));
      }
    }
    assertThat(env).as("%s", result).containsOnlyKeys("PATH", "HOME", "PIP_PROXY");
    assertThat(env.get("PIP_PROXY")).matches("http://127\\.0\\.0\\.1:\\d+");
  }

  @Test
  void theWrapperFailsWhenRunDidNotSetTheVariable() {
    ProcessResult result = only(List.of("EGRESSD_IT_NOT_SET"), Map.of(), List.of("true"));

    assertThat(result.exitCode()).as("%s", result).isEqualTo(97);
    assertThat(result.stderr()).contains("run did not set EGRESSD_IT_NOT_SET");
  }

  // ---- pip: PIP_PROXY ----

  @Test
  void pipProxyAloneTakesPipToAnAllowedIndex() throws IOException {
    Path target = Files.createTempDirectory(dir, "pip");

    ProcessResult result = pip(List.of("PIP_PROXY"), target, http, "allowed.test");

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(target.resolve(PackageRepositories.WHEEL)).as("%s", result).hasBinaryContent(packages.wheel());
    assertThat(http.requests()).extracting(RecordedRequest::target)
        .containsExactly("/simple/demo/", PackageRepositories.WHEEL_PATH);
    assertOneAllowPerPlainHttpRequest(result);
  }

  @Test
  void pipProxyAloneTakesPipThroughAConnectTunnelToAnHttpsIndex() throws IOException {
    Path target = Files.createTempDirectory(dir, "pip-tls");

    ProcessResult result = pip(List.of("PIP_PROXY"), target, https, "allowed.test");

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(target.resolve(PackageRepositories.WHEEL)).as("%s", result).hasBinaryContent(packages.wheel());
    assertThat(https.requests()).extracting(RecordedRequest::target)
        .containsExactly("/simple/demo/", PackageRepositories.WHEEL_PATH);
    assertThat(https.serverNames()).isNotEmpty().containsOnly("allowed.test");
    assertThat(audit(result, "decision=allow", "protocol=https_connect", "host=allowed.test ",
        "port=" + https.port() + " ")).as("%s", result).isNotEmpty();
  }

  @Test
  void pipProxyAloneLetsTheProxyRefuseADeniedIndex() throws IOException {
    Path target = Files.createTempDirectory(dir, "pip-denied");

    ProcessResult result = pip(List.of("PIP_PROXY"), target, http, "denied.test", "-vv");

    assertThat(result.exitCode()).as("%s", result).isEqualTo(1);
    assertThat(result.stdout() + result.stderr())
        .contains("Could not fetch URL " + http.url("denied.test", "/simple/demo/") + ": 403 Client Error: Forbidden");
    assertThat(audit(result, "decision=deny", "reason=denied", "host=denied.test ", "port=" + http.port() + " "))
        .as("%s", result).hasSize(1);
    assertThat(audit(result, "decision=allow")).as("%s", result).isEmpty();
    assertThat(target).isEmptyDirectory();
    assertThat(http.connectionCount()).isZero();
  }

  @Test
  void withoutPipProxyPipReachesNothing() throws IOException {
    Path target = Files.createTempDirectory(dir, "pip-direct");

    ProcessResult result = pip(List.of(), target, http, "allowed.test");

    assertThat(result.exitCode()).as("%s", result).isNotZero();
    assertThat(audit(result, "decision=")).as("the daemon saw nothing\n%s", result).isEmpty();
    assertThat(target).isEmptyDirectory();
    assertThat(http.connectionCount()).isZero();
  }

  /**
   * {@code pip download demo==1.0} from the index on {@code host}, with {@code keep} as its only variables besides
   * PATH and HOME and {@code PIP_CONFIG_FILE=/dev/null} (no config file). Not {@code --isolated}, which would ignore
   * {@code PIP_PROXY}. A plain-HTTP index must be a {@code --trusted-host}; an HTTPS origin's test CA is given with
   * {@code --cert}.
   */
  private static ProcessResult pip(List<String> keep, Path target, OriginServer origin, String host,
      String... options) {
    List<String> command = new ArrayList<>(List.of(RecipeClients.PYTHON, "-m", "pip", "download", "--no-deps",
        "--no-cache-dir", "--disable-pip-version-check", "--no-input", "--timeout", "20", "--retries", "0", "-d",
        target.toString(), "--index-url", origin.url(host, "/simple/")));
    command.addAll(origin == https ? List.of("--cert", TestCertificates.get().caPem().toString())
        : List.of("--trusted-host", origin.authority(host)));
    command.addAll(List.of(options));
    command.add("demo==1.0");
    return only(keep, Map.of("PIP_CONFIG_FILE", "/dev/null"), command);
  }

  // ---- npm: npm_config_proxy, npm_config_https_proxy ----

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"npm_config_proxy", "npm_config_https_proxy", "NPM_CONFIG_PROXY", "NPM_CONFIG_HTTPS_PROXY"})
  void npmConfigVariableAloneTakesNpmToAnAllowedRegistry(String variable) throws IOException {
    Path prefix = Files.createTempDirectory(dir, "npm");
    http.respond("/demo", packages.packument(http, "allowed.test"));

    ProcessResult result = npm(List.of(variable), prefix, http, "allowed.test");

    assertDemoInstalled(result, prefix, http);
    assertOneAllowPerPlainHttpRequest(result);
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"npm_config_proxy", "npm_config_https_proxy", "NPM_CONFIG_PROXY", "NPM_CONFIG_HTTPS_PROXY"})
  void npmConfigVariableAloneLetsTheProxyRefuseADeniedRegistry(String variable) throws IOException {
    Path prefix = Files.createTempDirectory(dir, "npm-denied");
    http.respond("/demo", packages.packument(http, "denied.test"));

    ProcessResult result = npm(List.of(variable), prefix, http, "denied.test");

    assertThat(result.exitCode()).as("%s", result).isNotZero();
    assertThat(result.stderr()).contains("403 Forbidden - GET " + http.url("denied.test", "/demo"));
    assertThat(audit(result, "decision=deny", "reason=denied", "host=denied.test ", "port=" + http.port() + " "))
        .as("%s", result).isNotEmpty();
    assertThat(audit(result, "decision=allow")).as("%s", result).isEmpty();
    assertThat(prefix.resolve("node_modules")).doesNotExist();
    assertThat(http.connectionCount()).isZero();
  }

  @Test
  void npmConfigHttpsProxyAloneTakesNpmThroughAConnectTunnelToAnHttpsRegistry() throws IOException {
    Path prefix = Files.createTempDirectory(dir, "npm-tls");
    https.respond("/demo", packages.packument(https, "allowed.test"));

    ProcessResult result = npm(List.of("npm_config_https_proxy"), prefix, https, "allowed.test");

    assertDemoInstalled(result, prefix, https);
    assertThat(https.serverNames()).isNotEmpty().containsOnly("allowed.test");
    assertThat(audit(result, "decision=allow", "protocol=https_connect", "host=allowed.test ",
        "port=" + https.port() + " ")).as("%s", result).isNotEmpty();
  }

  @Test
  void npmConfigVariablesWinOverAProxyInTheUsersNpmrc() throws IOException {
    // npm ranks npm_config_* variables above every .npmrc, setting by setting.
    Path prefix = Files.createTempDirectory(dir, "npm-npmrc");
    http.respond("/demo", packages.packument(http, "allowed.test"));

    ProcessResult result = npm(List.of("npm_config_proxy", "npm_config_https_proxy"), staleProxyNpmrc().config(),
        prefix, http, "allowed.test");

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(prefix.resolve("node_modules/demo/package.json")).as("%s", result)
        .hasContent(PackageRepositories.PACKAGE_JSON);
    assertThat(audit(result, "decision=allow", "host=allowed.test ", "port=" + http.port() + " "))
        .as("%s", result).hasSize(http.requestCount());
  }

  @Test
  void npmConfigProxyAloneLosesToAnHttpsProxyInTheUsersNpmrc() throws IOException {
    // npm sends every request to https-proxy if set, else proxy: why run sets npm_config_https_proxy as well.
    Path prefix = Files.createTempDirectory(dir, "npm-npmrc-proxy");
    http.respond("/demo", packages.packument(http, "allowed.test"));
    StaleNpmrc stale = staleProxyNpmrc();

    ProcessResult result = npm(List.of("npm_config_proxy"), stale.config(), prefix, http, "allowed.test");

    assertThat(result.exitCode()).as("%s", result).isNotZero();
    assertThat(result.stderr()).contains("ECONNREFUSED 127.0.0.1:" + stale.port());
    assertThat(audit(result, "decision=")).as("the daemon saw nothing\n%s", result).isEmpty();
    assertThat(http.connectionCount()).isZero();
  }

  @Test
  void withoutAnNpmConfigVariableNpmReachesNothing() throws IOException {
    Path prefix = Files.createTempDirectory(dir, "npm-direct");
    http.respond("/demo", packages.packument(http, "allowed.test"));

    ProcessResult result = npm(List.of(), prefix, http, "allowed.test");

    assertThat(result.exitCode()).as("%s", result).isNotZero();
    assertThat(audit(result, "decision=")).as("the daemon saw nothing\n%s", result).isEmpty();
    assertThat(prefix.resolve("node_modules")).doesNotExist();
    assertThat(http.connectionCount()).isZero();
  }

  /**
   * {@code npm install demo@1.0.0} into {@code prefix} from the registry on {@code host}, with {@code keep} as its
   * only variables besides PATH and HOME, empty user and global config files (or the given user config) and a
   * private cache. An HTTPS origin's test CA is given with {@code --cafile}.
   */
  private static ProcessResult npm(List<String> keep, Path prefix, OriginServer origin, String host) {
    return npm(keep, emptyUserConfig, prefix, origin, host);
  }

  private static ProcessResult npm(List<String> keep, Path userConfig, Path prefix, OriginServer origin,
      String host) {
    List<String> command = new ArrayList<>(List.of("npm", "install", "demo@1.0.0", "--prefix", prefix.toString(),
        "--registry", origin.url(host, "/"), "--cache", prefix.resolve(".npm-cache").toString(), "--userconfig",
        userConfig.toString(), "--globalconfig", emptyGlobalConfig.toString(), "--no-audit", "--no-fund",
        "--no-update-notifier", "--fetch-retries", "0"));
    if (origin == https) {
      command.addAll(List.of("--cafile", TestCertificates.get().caPem().toString()));
    }
    return only(keep, Map.of(), command);
  }

  // ---- yarn 1: YARN_HTTPS_PROXY for https://, npm_config_proxy for http:// ----

  @Test
  void yarnHttpsProxyAloneTakesYarnThroughAConnectTunnelToAnHttpsRegistry() throws IOException {
    Path project = Files.createTempDirectory(dir, "yarn-tls");
    https.respond("/demo", packages.packument(https, "allowed.test"));

    ProcessResult result = yarn(List.of("YARN_HTTPS_PROXY"), project, https, "allowed.test");

    assertDemoInstalled(result, project, https);
    assertThat(https.serverNames()).isNotEmpty().containsOnly("allowed.test");
    assertThat(audit(result, "decision=allow", "protocol=https_connect", "host=allowed.test ",
        "port=" + https.port() + " ")).as("one allow decision per tunnel the origin accepted\n%s", result)
        .hasSize(https.connectionCount());
  }

  @Test
  void yarnHttpsProxyAloneLetsTheProxyRefuseADeniedHttpsRegistry() throws IOException {
    Path project = Files.createTempDirectory(dir, "yarn-tls-denied");
    https.respond("/demo", packages.packument(https, "denied.test"));

    ProcessResult result = yarn(List.of("YARN_HTTPS_PROXY"), project, https, "denied.test");

    assertThat(result.exitCode()).as("%s", result).isNotZero();
    String output = result.stdout() + result.stderr();
    assertThat(output).contains(https.url("denied.test", "/demo")
        + ": tunneling socket could not be established, statusCode=403");
    // yarn 1 retries a failed request four times (not configurable), each a new CONNECT and a new decision.
    long attempts = 1 + output.lines().filter(line -> line.contains("Retrying...")).count();
    assertThat(audit(result, "decision=deny", "reason=denied", "protocol=https_connect", "host=denied.test ",
        "port=" + https.port() + " ")).as("one deny decision per attempt\n%s", result).hasSize((int) attempts);
    assertThat(audit(result, "decision=allow")).as("%s", result).isEmpty();
    assertThat(project.resolve("node_modules")).doesNotExist();
    assertThat(https.connectionCount()).isZero();
  }

  @ParameterizedTest(name = "{0} with an {1} registry")
  @CsvSource({"YARN_HTTP_PROXY, http", "YARN_HTTP_PROXY, https", "YARN_HTTPS_PROXY, http"})
  void variableAloneTakesYarnNowhere(String variable, String scheme) throws IOException {
    OriginServer origin = scheme.equals("https") ? https : http;
    Path project = Files.createTempDirectory(dir, "yarn-ignored");
    origin.respond("/demo", packages.packument(origin, "allowed.test"));

    ProcessResult result = yarn(List.of(variable), project, origin, "allowed.test");

    assertThat(result.exitCode()).as("%s", result).isNotZero();
    // yarn looked the name up itself: it did not use the variable as a proxy.
    assertThat(result.stdout() + result.stderr()).contains("getaddrinfo ENOTFOUND allowed.test");
    assertThat(audit(result, "decision=")).as("the daemon saw nothing\n%s", result).isEmpty();
    assertThat(project.resolve("node_modules")).doesNotExist();
    assertThat(origin.connectionCount()).isZero();
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"npm_config_proxy", "NPM_CONFIG_PROXY"})
  void npmConfigProxyAloneTakesYarnToAnAllowedHttpRegistry(String variable) throws IOException {
    Path project = Files.createTempDirectory(dir, "yarn");
    http.respond("/demo", packages.packument(http, "allowed.test"));

    ProcessResult result = yarn(List.of(variable), project, http, "allowed.test");

    assertDemoInstalled(result, project, http);
    assertOneAllowPerPlainHttpRequest(result);
  }

  @Test
  void npmConfigProxyAloneLetsTheProxyRefuseADeniedHttpRegistryForYarn() throws IOException {
    Path project = Files.createTempDirectory(dir, "yarn-denied");
    http.respond("/demo", packages.packument(http, "denied.test"));

    ProcessResult result = yarn(List.of("npm_config_proxy"), project, http, "denied.test");

    assertThat(result.exitCode()).as("%s", result).isNotZero();
    // yarn 1 shows the message of egressd's JSON refusal, not the status.
    assertThat(result.stdout() + result.stderr()).contains(http.url("denied.test", "/demo")
        + ": Domain denied by the sandbox policy.");
    assertThat(audit(result, "decision=deny", "reason=denied", "host=denied.test ", "port=" + http.port() + " "))
        .as("%s", result).hasSize(1);
    assertThat(audit(result, "decision=allow")).as("%s", result).isEmpty();
    assertThat(project.resolve("node_modules")).doesNotExist();
    assertThat(http.connectionCount()).isZero();
  }

  @Test
  void withoutAProxyVariableYarnReachesNothing() throws IOException {
    Path project = Files.createTempDirectory(dir, "yarn-direct");
    https.respond("/demo", packages.packument(https, "allowed.test"));

    ProcessResult result = yarn(List.of(), project, https, "allowed.test");

    assertThat(result.exitCode()).as("%s", result).isNotZero();
    assertThat(audit(result, "decision=")).as("the daemon saw nothing\n%s", result).isEmpty();
    assertThat(project.resolve("node_modules")).doesNotExist();
    assertThat(https.connectionCount()).isZero();
  }

  /**
   * {@code yarnpkg add demo@1.0.0} in a new project in {@code project} from the registry on {@code host}, with
   * {@code keep} as its only variables besides PATH, HOME and NODE_PATH, and only yarn files of the test's own:
   * {@code --no-default-rc} (no {@code .yarnrc} or {@code .npmrc} of the user, the project or the system), a private
   * rc ({@code --use-yarnrc}) and cache. An HTTPS origin's test CA goes in that rc as {@code cafile}, which yarn 1
   * has no option for.
   */
  private static ProcessResult yarn(List<String> keep, Path project, OriginServer origin, String host)
      throws IOException {
    Files.writeString(project.resolve("package.json"),
        "{\"name\":\"project\",\"version\":\"1.0.0\",\"private\":true}\n");
    Path rc = Files.writeString(project.resolve("test.yarnrc"),
        origin == https ? "cafile \"%s\"\n".formatted(TestCertificates.get().caPem()) : "");
    List<String> command = List.of("yarnpkg", "add", "demo@1.0.0", "--cwd", project.toString(), "--registry",
        origin.url(host, "/"), "--cache-folder", project.resolve(".yarn-cache").toString(), "--no-default-rc",
        "--use-yarnrc", rc.toString(), "--non-interactive", "--network-timeout", "20000");
    // Debian's yarnpkg loads its modules from Debian's directory, which only Debian's own node searches by itself.
    return only(keep, Map.of("NODE_PATH", RecipeClients.NODE_MODULES), command);
  }

  // ---- Bundler: http_proxy; BUNDLE_HTTP_PROXY and BUNDLE_HTTPS_PROXY ignored and harmful, so not set ----

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"http_proxy", "HTTP_PROXY"})
  void httpProxyAloneTakesBundlerToAnAllowedSource(String variable) throws IOException {
    Path project = Files.createTempDirectory(dir, "bundle");

    ProcessResult result = bundle(List.of(variable), project, http, "allowed.test", "lock");

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(project.resolve("Gemfile.lock")).as("%s", result).content()
        .contains("remote: " + http.url("allowed.test", "/"), "demo (1.0)");
    assertThat(http.requests()).extracting(RecordedRequest::target)
        .containsExactly(PackageRepositories.GEM_VERSIONS_PATH, PackageRepositories.GEM_INFO_PATH);
    assertOneAllowPerPlainHttpRequest(result);
  }

  @Test
  void httpProxyAloneTakesBundlerThroughAConnectTunnelToAnHttpsSource() throws IOException {
    Path project = Files.createTempDirectory(dir, "bundle-tls");

    ProcessResult result = bundle(List.of("http_proxy"), project, https, "allowed.test", "lock");

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(project.resolve("Gemfile.lock")).as("%s", result).content()
        .contains("remote: " + https.url("allowed.test", "/"), "demo (1.0)");
    assertThat(https.requests()).extracting(RecordedRequest::target)
        .containsExactly(PackageRepositories.GEM_VERSIONS_PATH, PackageRepositories.GEM_INFO_PATH);
    assertThat(https.serverNames()).isNotEmpty().containsOnly("allowed.test");
    assertThat(audit(result, "decision=allow", "protocol=https_connect", "host=allowed.test ",
        "port=" + https.port() + " ")).as("one allow decision per tunnel the origin accepted\n%s", result)
        .hasSize(https.connectionCount());
  }

  @Test
  void httpProxyAloneLetsTheProxyRefuseADeniedSource() throws IOException {
    Path project = Files.createTempDirectory(dir, "bundle-denied");

    ProcessResult result = bundle(List.of("http_proxy"), project, http, "denied.test", "lock");

    assertThat(result.exitCode()).as("%s", result).isNotZero();
    assertThat(result.stdout() + result.stderr())
        .contains("HTTP 403 Forbidden " + http.url("denied.test", PackageRepositories.GEM_VERSIONS_PATH));
    // One request per index format Bundler falls back through: compact index, dependency API, full index.
    assertThat(audit(result, "decision=deny", "reason=denied", "host=denied.test ", "port=" + http.port() + " "))
        .as("%s", result).hasSize(3);
    assertThat(audit(result, "decision=allow")).as("%s", result).isEmpty();
    assertThat(project.resolve("Gemfile.lock")).doesNotExist();
    assertThat(http.connectionCount()).isZero();
  }

  @ParameterizedTest(name = "{0} with an {1} source")
  @CsvSource({"https_proxy, https", "HTTPS_PROXY, https"})
  void variableAloneTakesBundlerNowhere(String variable, String scheme) throws IOException {
    OriginServer origin = scheme.equals("https") ? https : http;
    Path project = Files.createTempDirectory(dir, "bundle-ignored");

    ProcessResult result = bundle(List.of(variable), project, origin, "allowed.test", "lock");

    assertThat(result.exitCode()).as("%s", result).isNotZero();
    // Bundler looked the name up itself: it did not use the variable as a proxy.
    assertThat(result.stdout() + result.stderr()).contains("Could not reach host allowed.test.");
    assertThat(audit(result, "decision=")).as("the daemon saw nothing\n%s", result).isEmpty();
    assertThat(project.resolve("Gemfile.lock")).doesNotExist();
    assertThat(origin.connectionCount()).isZero();
  }

  @Test
  void withoutAProxyVariableBundlerReachesNothing() throws IOException {
    Path project = Files.createTempDirectory(dir, "bundle-direct");

    ProcessResult result = bundle(List.of(), project, http, "allowed.test", "lock");

    assertThat(result.exitCode()).as("%s", result).isNotZero();
    assertThat(audit(result, "decision=")).as("the daemon saw nothing\n%s", result).isEmpty();
    assertThat(project.resolve("Gemfile.lock")).doesNotExist();
    assertThat(http.connectionCount()).isZero();
  }

  /** Why run leaves them out: Bundler ignores them as a proxy, and either one breaks {@code bundle config}. */
  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"BUNDLE_HTTP_PROXY", "BUNDLE_HTTPS_PROXY"})
  void aBundleProxyVariableWouldMakeBundleConfigFail(String variable) throws IOException {
    // Bundler takes a setting whose name starts with "http" for a source URL, which http_proxy/ is not.
    String setting = variable.substring("BUNDLE_".length()).toLowerCase(Locale.ROOT);
    Path project = Files.createTempDirectory(dir, "bundle-config");

    ProcessResult with = bundle(List.of(), Map.of(variable, "http://127.0.0.1:9"), project, http, "allowed.test",
        "config");
    ProcessResult without = bundle(List.of(), Map.of(), project, http, "allowed.test", "config");

    assertThat(with.exitCode()).as("%s", with).isEqualTo(1);
    assertThat(with.stderr()).contains("Gem sources must be absolute. You provided '" + setting + "/'.");
    assertThat(without.exitCode()).as("%s", without).isZero();
    assertThat(without.stderr()).doesNotContain("Gem sources must be absolute");
  }

  /** With run's whole environment (not one variable): no BUNDLE_* proxy setting, and bundle config works. */
  @Test
  void bundleConfigWorksUnderRun() throws IOException {
    Path project = Files.createTempDirectory(dir, "bundle-run");
    Path gemfile = Files.writeString(project.resolve("Gemfile"), "source \"%s\"\n".formatted(
        http.url("allowed.test", "/")));

    ProcessResult result = run(List.of("/bin/sh", "-c",
        "env | grep '^BUNDLE_.*PROXY' && exit 98; exec bundle config", "sh"),
        Map.of("BUNDLE_GEMFILE", gemfile.toString(), "BUNDLE_USER_HOME", project.resolve("bundle-home").toString(),
            "BUNDLE_APP_CONFIG", project.resolve(".bundle").toString()));

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(result.stderr()).doesNotContain("Gem sources must be absolute");
  }

  /**
   * {@code bundle SUBCOMMAND --verbose} for a Gemfile in {@code project} that needs {@code demo} from the source on
   * {@code host}, with {@code keep} as its only variables besides PATH and HOME, and only Bundler files of the
   * test's own: {@code BUNDLE_GEMFILE}, {@code BUNDLE_USER_HOME} (user config and caches) and
   * {@code BUNDLE_APP_CONFIG} (no project {@code .bundle/config}) in {@code project}, {@code GEMRC} naming a file that
   * does not exist (a {@code .gemrc} can set a proxy), and no retries. An HTTPS origin's test CA is
   * {@code BUNDLE_SSL_CA_CERT}.
   */
  private static ProcessResult bundle(List<String> keep, Path project, OriginServer origin, String host,
      String subcommand) throws IOException {
    return bundle(keep, Map.of(), project, origin, host, subcommand);
  }

  /** As above, with {@code extra} variables set by the test itself (not by {@code run}). */
  private static ProcessResult bundle(List<String> keep, Map<String, String> extra, Path project, OriginServer origin,
      String host, String subcommand) throws IOException {
    Path gemfile = Files.writeString(project.resolve("Gemfile"),
        "source \"%s\"\ngem \"demo\"\n".formatted(origin.url(host, "/")));
    Map<String, String> fixed = new HashMap<>(Map.of("BUNDLE_GEMFILE", gemfile.toString(), "BUNDLE_USER_HOME",
        project.resolve("bundle-home").toString(), "BUNDLE_APP_CONFIG", project.resolve(".bundle").toString(),
        "GEMRC", project.resolve("no-gemrc").toString(), "BUNDLE_RETRY", "0"));
    if (origin == https) {
      fixed.put("BUNDLE_SSL_CA_CERT", TestCertificates.get().caPem().toString());
    }
    fixed.putAll(extra);
    return only(keep, fixed, List.of("bundle", subcommand, "--verbose"));
  }

  // ---- helpers ----

  /** A user {@code .npmrc} whose {@code proxy} and {@code https-proxy} name a closed port on 127.0.0.1. */
  private static StaleNpmrc staleProxyNpmrc() throws IOException {
    int closed;
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      closed = socket.getLocalPort();
    }
    return new StaleNpmrc(Files.writeString(Files.createTempFile(dir, "user", ".npmrc"),
        "proxy=http://127.0.0.1:%d\nhttps-proxy=http://127.0.0.1:%d\n".formatted(closed, closed)), closed);
  }

  private record StaleNpmrc(Path config, int port) {}

  /**
   * {@code egressd run --config FILE -- sh -c WRAPPER sh command...}: the wrapper fails (exit 97) unless {@code run}
   * set every variable in {@code keep} to a non-empty value, then runs {@code command} under {@code env -i} with
   * PATH, HOME, those variables and {@code fixed}. Names are identifiers and the fixed values plain paths, so both
   * go into the sh code as they are. The daemon's log (audit lines) ends up in stderr.
   */
  private static ProcessResult only(List<String> keep, Map<String, String> fixed, List<String> command) {
    StringBuilder wrapper = new StringBuilder();
    StringBuilder assignments = new StringBuilder("PATH=\"$PATH\" HOME=\"$HOME\"");
    for (String name : keep) {
      wrapper.append("[ -n \"${").append(name).append(":-}\" ] || { echo 'run did not set ").append(name)
          .append("' >&2; exit 97; }\n");
      assignments.append(' ').append(name).append("=\"$").append(name).append('"');
    }
    fixed.forEach((name, value) -> assignments.append(' ').append(name).append('=').append(value));
    wrapper.append("exec env -i ").append(assignments).append(" \"$@\"");
    List<String> child = new ArrayList<>(List.of("/bin/sh", "-c", wrapper.toString(), "sh"));
    child.addAll(command);
    return run(child, Map.of());
  }

  /** {@code egressd run --config F -- CHILD} on free ports, with HOME in the temporary directory, plus {@code env}. */
  private static ProcessResult run(List<String> child, Map<String, String> env) {
    List<String> args = new ArrayList<>(List.of("run", "--config", config.toString(), "--listen", "127.0.0.1:0",
        "--socks-listen", "127.0.0.1:0", "--"));
    args.addAll(child);
    Map<String, String> environment = new HashMap<>(env);
    environment.put("HOME", dir.toString());
    environment.put("CODEX_HOME", dir.resolve("no-codex").toString());
    return Processes.run(Egressd.command(args), environment, dir, CHILD_TIMEOUT);
  }

  /** The package arrived under {@code root} and the origin saw exactly the packument and the tarball. */
  private static void assertDemoInstalled(ProcessResult result, Path root, OriginServer origin) {
    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(root.resolve("node_modules/demo/package.json")).as("%s", result)
        .hasContent(PackageRepositories.PACKAGE_JSON);
    assertThat(origin.requests()).extracting(RecordedRequest::target)
        .containsExactly("/demo", PackageRepositories.TARBALL_PATH);
  }

  private static void assertOneAllowPerPlainHttpRequest(ProcessResult result) {
    assertThat(audit(result, "decision=allow", "protocol=http ", "host=allowed.test ", "port=" + http.port() + " ",
        "method=GET")).as("one allow decision per request the origin saw\n%s", result).hasSize(http.requestCount());
  }

  /** The audit lines in the run's stderr that contain every fragment. */
  private static List<String> audit(ProcessResult result, String... fragments) {
    return result.stderr().lines().filter(line -> line.contains(" audit - "))
        .filter(line -> Arrays.stream(fragments).allMatch(line::contains)).toList();
  }
}
