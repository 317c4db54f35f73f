package dev.egressd.it;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The pip and npm recipes in docs/clients.md, run for real: each package manager runs as the child of
 * {@code egressd run --config FILE -- CMD}, so the proxy variables that command sets are its only routing
 * configuration (user and system config files are switched off). The loopback origins, one plain HTTP and one HTTPS
 * (reached through CONNECT, with the test CA given to the client), serve a PEP 503 "simple" index with one wheel and
 * an npm registry with one package ({@link PackageRepositories}). The names in the URLs resolve only in the daemon
 * (test hosts file; {@link #prepare} checks the client cannot resolve them), so a package that arrives came through
 * the proxy, which the daemon's audit lines confirm. {@link PackageManagerProxyVariablesIT} gives each package
 * manager its own proxy setting alone instead.
 */
@Timeout(value = 300, unit = SECONDS)
class PackageManagerRecipesIT {
  private static final String CONFIG = """
      [network]
      allowed_domains = ["allowed.test", "127.0.0.1"]
      denied_domains = ["denied.test"]
      """;
  private static final String WHEEL = PackageRepositories.WHEEL;
  private static final String WHEEL_PATH = PackageRepositories.WHEEL_PATH;
  private static final String TARBALL_PATH = PackageRepositories.TARBALL_PATH;
  private static final String PACKAGE_JSON = PackageRepositories.PACKAGE_JSON;
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
  static byte[] wheel;

  @BeforeAll
  static void prepare() throws IOException {
    config = Files.writeString(dir.resolve("egressd.toml"), CONFIG);
    emptyUserConfig = Files.writeString(dir.resolve("user.npmrc"), "");
    emptyGlobalConfig = Files.writeString(dir.resolve("global.npmrc"), "");
    packages = PackageRepositories.build();
    wheel = packages.wheel();
    PackageRepositories.assertResolvableOnlyByTheDaemon(dir, "allowed.test", "denied.test", "other.test");
  }

  @BeforeEach
  void serveIndexAndRegistry() {
    packages.serve(http);
    packages.serve(https);
  }

  // ---- pip ----

  @Test
  void pipDownloadsAWheelFromAnAllowedIndexThroughTheProxy() throws IOException {
    Path target = Files.createTempDirectory(dir, "pip");

    ProcessResult result = pip(target, http, "allowed.test");

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(target.resolve(WHEEL)).as("%s", result).hasBinaryContent(wheel);
    assertThat(http.requests()).extracting(RecordedRequest::target).containsExactly("/simple/demo/", WHEEL_PATH);
    assertThat(http.requests()).allSatisfy(request -> assertThat(request.header("User-Agent")).startsWith("pip/"));
    assertThat(audit(result, "decision=allow", "host=allowed.test ", "port=" + http.port() + " ", "method=GET"))
        .as("one allow decision per request the origin saw\n%s", result).hasSize(http.requestCount());
  }

  @Test
  void pipDownloadsFromAnHttpsIndexThroughAConnectTunnel() throws IOException {
    Path target = Files.createTempDirectory(dir, "pip-tls");

    ProcessResult result = pip(target, https, "allowed.test");

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(target.resolve(WHEEL)).as("%s", result).hasBinaryContent(wheel);
    assertThat(https.requests()).extracting(RecordedRequest::target).containsExactly("/simple/demo/", WHEEL_PATH);
    assertThat(https.serverNames()).isNotEmpty().containsOnly("allowed.test");
    assertThat(audit(result, "decision=allow", "protocol=https_connect", "host=allowed.test ",
        "port=" + https.port() + " ")).as("%s", result).isNotEmpty();
  }

  @Test
  void pipFailsOnARefusedIndexAndShowsTheForbiddenOnlyAtDebugLevel() throws IOException {
    Path target = Files.createTempDirectory(dir, "pip-denied");

    ProcessResult quiet = pip(target, http, "denied.test");
    ProcessResult verbose = pip(target, http, "denied.test", "-vv");

    // pip logs an index page it could not fetch at debug level (-vv): otherwise a refusal reads like a missing
    // package.
    assertThat(quiet.exitCode()).as("%s", quiet).isEqualTo(1);
    assertThat(quiet.stdout() + quiet.stderr()).contains("No matching distribution found for demo==1.0")
        .doesNotContain("Forbidden");
    assertThat(verbose.exitCode()).as("%s", verbose).isEqualTo(1);
    assertThat(verbose.stdout() + verbose.stderr())
        .contains("Could not fetch URL " + http.url("denied.test", "/simple/demo/") + ": 403 Client Error: Forbidden");
    for (ProcessResult result : List.of(quiet, verbose)) {
      assertThat(audit(result, "decision=deny", "reason=denied", "host=denied.test ", "port=" + http.port() + " "))
          .as("%s", result).hasSize(1);
      assertThat(audit(result, "decision=allow")).as("%s", result).isEmpty();
    }
    assertThat(target).isEmptyDirectory();
    assertThat(http.connectionCount()).isZero();
  }

  /**
   * {@code pip download demo==1.0} from the index on {@code host}. {@code --isolated} ignores {@code PIP_*}
   * variables (a CI image may set {@code PIP_FIND_LINKS}), {@code PIP_CONFIG_FILE=/dev/null} every config file; the
   * proxy variables still apply, as pip's requests session reads them whatever the mode. pip ignores a plain-HTTP
   * index on a name other than localhost or a loopback address unless it is a {@code --trusted-host}; an HTTPS
   * origin's test CA is given with {@code --cert}.
   */
  private static ProcessResult pip(Path target, OriginServer origin, String host, String... options) {
    List<String> command = new ArrayList<>(List.of(RecipeClients.PYTHON, "-m", "pip", "--isolated", "download",
        "--no-deps", "--no-cache-dir", "--disable-pip-version-check", "--no-input", "--timeout", "20", "--retries",
        "0", "-d", target.toString(), "--index-url", origin.url(host, "/simple/")));
    command.addAll(origin == https ? List.of("--cert", TestCertificates.get().caPem().toString())
        : List.of("--trusted-host", origin.authority(host)));
    command.addAll(List.of(options));
    command.add("demo==1.0");
    return run(Map.of("PIP_CONFIG_FILE", "/dev/null"), command);
  }

  // ---- npm ----

  @Test
  void npmInstallsAPackageFromAnAllowedRegistryThroughTheProxy() throws IOException {
    Path prefix = Files.createTempDirectory(dir, "npm");
    http.respond("/demo", packages.packument(http, "allowed.test"));

    ProcessResult result = npm(prefix, http, "allowed.test");

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(prefix.resolve("node_modules/demo/package.json")).as("%s", result).hasContent(PACKAGE_JSON);
    assertThat(http.requests()).extracting(RecordedRequest::target).containsExactly("/demo", TARBALL_PATH);
    assertThat(http.requests()).allSatisfy(request -> assertThat(request.header("User-Agent")).startsWith("npm/"));
    assertThat(audit(result, "decision=allow", "host=allowed.test ", "port=" + http.port() + " ", "method=GET"))
        .as("one allow decision per request the origin saw\n%s", result).hasSize(http.requestCount());
  }

  @Test
  void npmInstallsFromAnHttpsRegistryThroughAConnectTunnel() throws IOException {
    Path prefix = Files.createTempDirectory(dir, "npm-tls");
    https.respond("/demo", packages.packument(https, "allowed.test"));

    ProcessResult result = npm(prefix, https, "allowed.test");

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(prefix.resolve("node_modules/demo/package.json")).as("%s", result).hasContent(PACKAGE_JSON);
    assertThat(https.requests()).extracting(RecordedRequest::target).containsExactly("/demo", TARBALL_PATH);
    assertThat(https.serverNames()).isNotEmpty().containsOnly("allowed.test");
    assertThat(audit(result, "decision=allow", "protocol=https_connect", "host=allowed.test ",
        "port=" + https.port() + " ")).as("%s", result).isNotEmpty();
  }

  @Test
  void npmReportsTheProxysRefusalOfARegistryOutsideTheAllowList() throws IOException {
    Path prefix = Files.createTempDirectory(dir, "npm-denied");
    http.respond("/demo", packages.packument(http, "other.test"));

    ProcessResult result = npm(prefix, http, "other.test");

    assertThat(result.exitCode()).as("%s", result).isNotZero();
    assertThat(result.stderr()).contains("403 Forbidden - GET " + http.url("other.test", "/demo"));
    assertThat(audit(result, "decision=deny", "reason=not_allowed", "host=other.test ", "port=" + http.port() + " "))
        .as("%s", result).isNotEmpty();
    assertThat(audit(result, "decision=allow")).as("%s", result).isEmpty();
    assertThat(prefix.resolve("node_modules")).doesNotExist();
    assertThat(http.connectionCount()).isZero();
  }

  /**
   * {@code npm install demo@1.0.0} into {@code prefix} from the registry on {@code host}, with empty user and global
   * config files and a private cache: the proxy variables are npm's only proxy settings. An HTTPS origin's test CA
   * is given with {@code --cafile}.
   */
  private static ProcessResult npm(Path prefix, OriginServer origin, String host) {
    List<String> command = new ArrayList<>(List.of("npm", "install", "demo@1.0.0", "--prefix", prefix.toString(),
        "--registry", origin.url(host, "/"), "--cache", prefix.resolve(".npm-cache").toString(), "--userconfig",
        emptyUserConfig.toString(), "--globalconfig", emptyGlobalConfig.toString(), "--no-audit", "--no-fund",
        "--no-update-notifier", "--fetch-retries", "0"));
    if (origin == https) {
      command.addAll(List.of("--cafile", TestCertificates.get().caPem().toString()));
    }
    return run(Map.of(), command);
  }

  // ---- helpers ----

  /** {@code egressd run --config FILE -- command}: the daemon's log (audit lines) ends up in stderr. */
  private static ProcessResult run(Map<String, String> environment, List<String> command) {
    List<String> args = new ArrayList<>(List.of("run", "--config", config.toString(), "--listen", "127.0.0.1:0",
        "--socks-listen", "127.0.0.1:0", "--"));
    args.addAll(command);
    Map<String, String> env = new LinkedHashMap<>(Map.of("HOME", dir.toString(), "CODEX_HOME",
        dir.resolve("no-codex").toString()));
    env.putAll(environment);
    return Processes.run(Egressd.command(args), env, dir, CHILD_TIMEOUT);
  }

  /** The audit lines in the run's stderr that contain every fragment. */
  private static List<String> audit(ProcessResult result, String... fragments) {
    return result.stderr().lines().filter(line -> line.contains(" audit - "))
        .filter(line -> Arrays.stream(fragments).allMatch(line::contains)).toList();
  }
}
