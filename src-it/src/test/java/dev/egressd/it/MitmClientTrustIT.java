package dev.egressd.it;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.ProxySelector;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * How clients come to trust the interception CA: the announcement lines, the PEM bundle and PKCS12 trust store
 * egressd writes, and the variables {@code egressd run -- CMD} gives its child, so that curl and JVMs work through
 * the interception without any option of their own.
 */
@Timeout(value = 120, unit = SECONDS)
class MitmClientTrustIT {
  private static final String CONFIG = """
      [network]
      mode = "limited"
      mitm = true
      allowed_domains = ["allowed.test", "127.0.0.1"]
      mitm_upstream_ca_bundle = '%s'
      """.formatted(TestCertificates.get().caPem());
  private static final String TRUST_STORE_PASSWORD = "changeit";
  private static final List<String> BUNDLE_VARIABLES = List.of("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE",
      "CURL_CA_BUNDLE", "GIT_SSL_CAINFO", "PIP_CERT", "BUNDLE_SSL_CA_CERT", "npm_config_cafile");

  @RegisterExtension
  static final OriginServer origin = OriginServer.https();

  @RegisterExtension
  static final Daemon egressd = Daemon.withConfig(CONFIG);

  @TempDir
  static Path dir;

  static Path config;
  static Path home;

  @BeforeAll
  static void writeConfig() throws IOException {
    config = Files.writeString(dir.resolve("egressd.toml"), CONFIG);
    home = dir.resolve("egressd-home");
  }

  /** {@code egressd run --config F ... -- COMMAND} with {@code EGRESSD_HOME} in the temporary directory. */
  private static ProcessResult runChild(String... command) {
    List<String> args = new ArrayList<>(List.of("run", "--config", config.toString(), "--listen", "127.0.0.1:0",
        "--socks-listen", "127.0.0.1:0", "--"));
    args.addAll(List.of(command));
    return Egressd.cli(Map.of("EGRESSD_HOME", home.toString(), "CODEX_HOME", dir.resolve("codex").toString(),
        "HOME", dir.toString()), args.toArray(String[]::new));
  }

  private static Path runProxyDirectory() {
    return home.resolve("proxy");
  }

  private static SSLContext trustStoreContext(Path trustStore) {
    return TrustFiles.context(TrustFiles.loadTrustStore(trustStore, TRUST_STORE_PASSWORD));
  }

  private static HttpClient javaClient(SSLContext trust) {
    return HttpClient.newBuilder()
        .proxy(ProxySelector.of(egressd.address()))
        .sslContext(trust)
        .connectTimeout(Duration.ofSeconds(10))
        .version(HttpClient.Version.HTTP_1_1)
        .build();
  }

  // ---- what the daemon announces and writes ----

  @Test
  void announcementNamesTheCaTheBundleAndTheTrustExports() throws Exception {
    Path ca = egressd.mitmCaCertificate();
    Path bundle = egressd.mitmTrustBundle();

    assertThat(ca).isEqualTo(egressd.egressdHome().resolve("proxy/ca.pem"));
    assertThat(bundle).isEqualTo(ca.resolveSibling("ca-bundle.pem"));
    assertThat(egressd.awaitStdout("egressd: TLS interception on")).contains("(every tunnel)");
    String exports = egressd.awaitStdout("export SSL_CERT_FILE=");
    for (String variable : BUNDLE_VARIABLES) {
      assertThat(exports).contains(" " + variable + "=" + bundle);
    }
    assertThat(exports).contains(" NODE_EXTRA_CA_CERTS=" + ca);
  }

  @Test
  void bundleHoldsTheEgressdCaAndTheSystemRoots() throws Exception {
    X509Certificate ca = TrustFiles.certificate(egressd.mitmCaCertificate());

    List<X509Certificate> bundle = TrustFiles.certificates(egressd.mitmTrustBundle());

    assertThat(bundle).contains(ca);
    assertThat(bundle).as("system roots as well").hasSizeGreaterThan(10);
    assertThat(Files.readString(egressd.mitmTrustBundle())).contains(Files.readString(egressd.mitmCaCertificate())
        .strip());
  }

  @Test
  void trustStoreIsPkcs12WithTheEgressdCaAndTheSystemRoots() throws Exception {
    X509Certificate ca = TrustFiles.certificate(egressd.mitmCaCertificate());

    KeyStore store = TrustFiles.loadTrustStore(egressd.mitmCaCertificate().resolveSibling("truststore.p12"),
        TRUST_STORE_PASSWORD);

    List<Certificate> entries = new ArrayList<>();
    for (String alias : Collections.list(store.aliases())) {
      assertThat(store.isCertificateEntry(alias)).as("%s is a trusted certificate, not a key", alias).isTrue();
      entries.add(store.getCertificate(alias));
    }
    assertThat(entries).contains(ca).hasSizeGreaterThan(10);
  }

  @Test
  void javaHttpClientWithTheExportedTrustStoreGetsThroughTheInterception() throws Exception {
    HttpClient client = javaClient(trustStoreContext(egressd.mitmCaCertificate().resolveSibling("truststore.p12")));

    HttpResponse<String> response = client.send(HttpRequest.newBuilder(URI.create(origin.url("allowed.test",
        "/java-inner"))).timeout(Duration.ofSeconds(20)).build(), HttpResponse.BodyHandlers.ofString());

    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.body()).isEqualTo("origin saw GET /java-inner body=0\n");
    egressd.awaitStderr("decision=allow", "protocol=https ", "host=allowed.test", "method=GET");
  }

  @Test
  void javaHttpClientPostThroughTheInterceptionGets403() throws Exception {
    HttpClient client = javaClient(trustStoreContext(egressd.mitmCaCertificate().resolveSibling("truststore.p12")));

    HttpResponse<String> response = client.send(HttpRequest.newBuilder(URI.create(origin.url("allowed.test",
        "/java-post"))).timeout(Duration.ofSeconds(20)).POST(HttpRequest.BodyPublishers.ofString("x=1")).build(),
        HttpResponse.BodyHandlers.ofString());

    assertThat(response.statusCode()).isEqualTo(403);
    assertThat(response.headers().firstValue("x-proxy-error")).hasValue("blocked-by-method-policy");
    assertThat(origin.connectionCount()).isZero();
  }

  @Test
  void javaHttpClientTrustingOnlyTheOriginsCaFailsTheHandshake() {
    HttpClient client = javaClient(TestCertificates.get().client());

    assertThatThrownBy(() -> client.send(HttpRequest.newBuilder(URI.create(origin.url("allowed.test", "/")))
        .timeout(Duration.ofSeconds(20)).build(), HttpResponse.BodyHandlers.ofString()))
        .isInstanceOf(SSLHandshakeException.class);
    assertThat(origin.connectionCount()).isZero();
  }

  // ---- egressd run -- CMD ----

  @Test
  void envPrintsTheTrustExportsThatRunAnnounces() {
    ProcessResult run = runChild("true");
    ProcessResult env = Egressd.cli(Map.of("EGRESSD_HOME", home.toString(), "CODEX_HOME",
        dir.resolve("codex").toString()), "env", "--config", config.toString(), "--listen", "127.0.0.1:3128");

    assertThat(run.exitCode()).as("%s", run).isZero();
    assertThat(env.exitCode()).as("%s", env).isZero();
    // run -- CMD announces on stderr: standard output is the child's.
    String trustExports = run.stderr().lines().filter(l -> l.startsWith("export SSL_CERT_FILE=")).findFirst()
        .orElseThrow();
    Map<String, String> announced = evaluated(trustExports);
    Map<String, String> printed = evaluated(env.stdout());
    for (String variable : BUNDLE_VARIABLES) {
      assertThat(printed.get(variable)).as(variable).isEqualTo(announced.get(variable))
          .isEqualTo(runProxyDirectory().resolve("ca-bundle.pem").toString());
    }
    assertThat(printed.get("NODE_EXTRA_CA_CERTS")).isEqualTo(announced.get("NODE_EXTRA_CA_CERTS"))
        .isEqualTo(runProxyDirectory().resolve("ca.pem").toString());
    assertThat(printed.get("JAVA_TOOL_OPTIONS"))
        .contains("-Djavax.net.ssl.trustStore=" + runProxyDirectory().resolve("truststore.p12"));
  }

  /** The variables a sh has after {@code eval} of {@code exports}. */
  private static Map<String, String> evaluated(String exports) {
    ProcessResult result = Processes.run(List.of("/bin/sh", "-c", "eval \"$1\" && exec env", "sh", exports), Map.of(),
        dir, Duration.ofSeconds(30));
    assertThat(result.exitCode()).as("%s", result).isZero();
    Map<String, String> variables = new HashMap<>();
    result.stdout().lines().filter(l -> l.indexOf('=') > 0)
        .forEach(l -> variables.put(l.substring(0, l.indexOf('=')), l.substring(l.indexOf('=') + 1)));
    return variables;
  }

  @Test
  void trustFilesAreRewrittenAtEachStart() throws Exception {
    ProcessResult first = runChild("true");
    assertThat(first.exitCode()).as("%s", first).isZero();
    Path bundle = runProxyDirectory().resolve("ca-bundle.pem");
    Path trustStore = runProxyDirectory().resolve("truststore.p12");
    Files.writeString(bundle, "stale\n");
    Files.delete(trustStore);

    ProcessResult second = runChild("true");

    assertThat(second.exitCode()).as("%s", second).isZero();
    assertThat(TrustFiles.certificates(bundle)).contains(TrustFiles.certificate(runProxyDirectory().resolve("ca.pem")));
    assertThat(trustStore).isRegularFile();
  }

  @Test
  void childSeesTheTrustVariables() {
    ProcessResult result = runChild("sh", "-c", "for v in SSL_CERT_FILE REQUESTS_CA_BUNDLE CURL_CA_BUNDLE"
        + " GIT_SSL_CAINFO PIP_CERT BUNDLE_SSL_CA_CERT npm_config_cafile NODE_EXTRA_CA_CERTS JAVA_TOOL_OPTIONS; do"
        + " eval \"echo $v=\\$$v\"; done");

    assertThat(result.exitCode()).as("%s", result).isZero();
    Path bundle = runProxyDirectory().resolve("ca-bundle.pem");
    for (String variable : BUNDLE_VARIABLES) {
      assertThat(result.stdout()).contains(variable + "=" + bundle + "\n");
    }
    assertThat(result.stdout()).contains("NODE_EXTRA_CA_CERTS=" + runProxyDirectory().resolve("ca.pem") + "\n");
    String javaOptions = result.stdout().lines().filter(l -> l.startsWith("JAVA_TOOL_OPTIONS=")).findFirst()
        .orElseThrow();
    assertThat(javaOptions).contains(
        "-Djavax.net.ssl.trustStore=" + runProxyDirectory().resolve("truststore.p12"),
        "-Djavax.net.ssl.trustStoreType=PKCS12", "-Djavax.net.ssl.trustStorePassword=" + TRUST_STORE_PASSWORD,
        "-Dhttps.proxyHost=127.0.0.1");
  }

  @Test
  void childBundleContainsTheCaThatCaExportPrints() throws Exception {
    ProcessResult result = runChild("sh", "-c", "cat \"$SSL_CERT_FILE\"");
    ProcessResult export = Egressd.cli(Map.of("EGRESSD_HOME", home.toString(), "CODEX_HOME",
        dir.resolve("codex").toString()), "ca", "export", "--config", config.toString());

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(export.exitCode()).as("%s", export).isZero();
    assertThat(result.stdout()).contains(export.stdout().strip());
  }

  @Test
  void childCurlWithoutCacertGetsThroughTheInterception() {
    ProcessResult result = runChild("curl", "-q", "-sS", "-f", "--max-time", "20",
        origin.url("allowed.test", "/child-inner"));

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(result.stdout()).contains("origin saw GET /child-inner body=0");
    assertThat(origin.onlyRequest().target()).isEqualTo("/child-inner");
  }

  /**
   * Bundler trusts the interception through {@code BUNDLE_SSL_CA_CERT} alone: with {@code SSL_CERT_FILE} (which
   * Ruby's OpenSSL also reads) removed it still resolves the Gemfile from the HTTPS source, and without either it
   * cannot verify egressd's leaf certificate (the tunnel is approved; nothing reaches the origin). Its proxy is {@code http_proxy}, which {@code run} sets.
   */
  @ParameterizedTest(name = "BUNDLE_SSL_CA_CERT kept: {0}")
  @ValueSource(booleans = {true, false})
  void childBundlerTrustsTheInterceptionThroughBundleSslCaCert(boolean keepBundlerCa) throws IOException {
    PackageRepositories.build().serve(origin);
    Path project = Files.createTempDirectory(dir, "bundle");
    Path gemfile = Files.writeString(project.resolve("Gemfile"),
        "source \"%s\"\ngem \"demo\"\n".formatted(origin.url("allowed.test", "/")));

    List<String> command = new ArrayList<>(List.of("env", "-u", "SSL_CERT_FILE", "-u", "SSL_CERT_DIR"));
    if (!keepBundlerCa) {
      command.addAll(List.of("-u", "BUNDLE_SSL_CA_CERT"));
    }
    command.addAll(List.of("BUNDLE_GEMFILE=" + gemfile, "BUNDLE_USER_HOME=" + project.resolve("bundle-home"),
        "BUNDLE_APP_CONFIG=" + project.resolve(".bundle"), "GEMRC=" + project.resolve("no-gemrc"), "BUNDLE_RETRY=0",
        "bundle", "lock", "--verbose"));

    ProcessResult result = runChild(command.toArray(String[]::new));

    if (keepBundlerCa) {
      assertThat(result.exitCode()).as("%s", result).isZero();
      assertThat(project.resolve("Gemfile.lock")).content().contains("demo (1.0)");
      assertThat(origin.requests()).extracting(RecordedRequest::target)
          .contains(PackageRepositories.GEM_VERSIONS_PATH);
    } else {
      assertThat(result.exitCode()).as("%s", result).isNotZero();
      assertThat(result.stdout() + result.stderr())
          .contains("Could not verify the SSL certificate for " + origin.url("allowed.test", "/versions"));
      assertThat(project.resolve("Gemfile.lock")).doesNotExist();
      assertThat(origin.requests()).isEmpty();
    }
  }

  @Test
  void childCurlPostGets403AndTheOriginSeesNothing() {
    ProcessResult result = runChild("curl", "-q", "-sS", "--max-time", "20", "-o", "/dev/null",
        "-w", "%{http_code}", "-d", "x=1", origin.url("allowed.test", "/child-post"));

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(result.stdout()).as("the child's output alone").isEqualTo("403\n");
    assertThat(origin.connectionCount()).isZero();
  }

  @Test
  void childJvmTrustsTheInterceptionThroughJavaToolOptions() throws IOException {
    Path program = Files.writeString(dir.resolve("Fetch.java"), """
        public class Fetch {
          public static void main(String[] args) throws Exception {
            var connection = (javax.net.ssl.HttpsURLConnection) new java.net.URL(args[0]).openConnection();
            System.out.println("status " + connection.getResponseCode());
            System.out.print(new String(connection.getInputStream().readAllBytes()));
          }
        }
        """);

    ProcessResult result = runChild(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Djdk.net.hosts.file=" + Egressd.hostsFile(), program.toString(),
        origin.url("allowed.test", "/jvm-child"));

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(result.stdout()).contains("status 200\norigin saw GET /jvm-child body=0");
    assertThat(result.stderr()).contains("Picked up JAVA_TOOL_OPTIONS:", "truststore.p12");
  }
}
