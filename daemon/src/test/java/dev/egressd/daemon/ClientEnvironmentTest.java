package dev.egressd.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.egressd.daemon.ClientEnvironment.Reference;
import dev.egressd.daemon.ClientEnvironment.Text;
import dev.egressd.daemon.ClientEnvironment.Variable;
import dev.egressd.proxy.mitm.ClientTrust;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ClientEnvironmentTest {
  private final InetSocketAddress listen = new InetSocketAddress("127.0.0.1", 3128);

  @Test
  void childGetsEveryProxyVariableAndAnEmptyNoProxyWithoutLocalBinding() {
    Map<String, String> env = ClientEnvironment.forChild(listen, null, null, false, null, null);
    assertThat(env).containsEntry("HTTP_PROXY", "http://127.0.0.1:3128")
        .containsEntry("https_proxy", "http://127.0.0.1:3128")
        .containsEntry("NO_PROXY", "")
        .containsEntry("JAVA_TOOL_OPTIONS", "-Dhttp.proxyHost=127.0.0.1 -Dhttp.proxyPort=3128"
            + " -Dhttps.proxyHost=127.0.0.1 -Dhttps.proxyPort=3128 -Dhttp.nonProxyHosts=");
  }

  @Test
  void existingJavaToolOptionsAreKeptAndLocalRangesBypassWithLocalBinding() {
    Map<String, String> env = ClientEnvironment.forChild(listen, null, null, true, "-Xmx1g", null);
    assertThat(env.get("JAVA_TOOL_OPTIONS")).startsWith("-Xmx1g -Dhttp.proxyHost=");
    assertThat(env.get("no_proxy")).contains("127.0.0.1").contains("10.0.0.0/8");
  }

  @Test
  void allProxyNamesTheSocksListenerWithRemoteResolutionWhenItRuns() {
    Map<String, String> env = ClientEnvironment.forChild(listen, new InetSocketAddress("127.0.0.1", 8081), null,
        false, null, null);
    assertThat(env).containsEntry("ALL_PROXY", "socks5h://127.0.0.1:8081")
        .containsEntry("all_proxy", "socks5h://127.0.0.1:8081")
        .containsEntry("FTP_PROXY", "socks5h://127.0.0.1:8081");
  }

  @Test
  void childGetsSocksCredentialsButTheExportLineOnlyNamesTheVariable() {
    InetSocketAddress socks = new InetSocketAddress("127.0.0.1", 8081);
    assertThat(ClientEnvironment.forChild(listen, socks, ClientEnvironment.userInfo("agent", "p@ss word"), false,
        null, null)).containsEntry("ALL_PROXY", "socks5h://agent:p%40ss%20word@127.0.0.1:8081");
    assertThat(ClientEnvironment.exports(listen, socks, "agent:${SOCKS_PW}"))
        .contains("ALL_PROXY=\"socks5h://agent:${SOCKS_PW}@127.0.0.1:8081\"");
  }

  @Test
  void withInterceptionChildrenTrustTheBundleAndTheJvmTrustStore() {
    ClientTrust trust = new ClientTrust(java.nio.file.Path.of("/h/proxy/ca-bundle.pem"),
        java.nio.file.Path.of("/h/proxy/truststore.p12"), java.nio.file.Path.of("/h/proxy/ca.pem"));
    Map<String, String> env = ClientEnvironment.forChild(listen, null, null, false, null, trust);
    assertThat(env).containsEntry("SSL_CERT_FILE", "/h/proxy/ca-bundle.pem")
        .containsEntry("REQUESTS_CA_BUNDLE", "/h/proxy/ca-bundle.pem")
        .containsEntry("CURL_CA_BUNDLE", "/h/proxy/ca-bundle.pem")
        .containsEntry("GIT_SSL_CAINFO", "/h/proxy/ca-bundle.pem")
        .containsEntry("PIP_CERT", "/h/proxy/ca-bundle.pem")
        .containsEntry("BUNDLE_SSL_CA_CERT", "/h/proxy/ca-bundle.pem")
        .containsEntry("npm_config_cafile", "/h/proxy/ca-bundle.pem")
        .containsEntry("NODE_EXTRA_CA_CERTS", "/h/proxy/ca.pem");
    assertThat(env.get("JAVA_TOOL_OPTIONS")).contains("-Djavax.net.ssl.trustStore=/h/proxy/truststore.p12",
        "-Djavax.net.ssl.trustStoreType=PKCS12", "-Djavax.net.ssl.trustStorePassword=changeit");
  }

  @Test
  void allProxyFallsBackToTheHttpListenerWithoutSocks() {
    assertThat(ClientEnvironment.forChild(listen, null, null, false, null, null))
        .containsEntry("ALL_PROXY", "http://127.0.0.1:3128");
  }

  @Test
  void ipv6ListenAddressIsBracketed() {
    assertThat(ClientEnvironment.httpProxyUrl(new InetSocketAddress("::1", 3128))).isEqualTo("http://[::1]:3128");
  }

  @Test
  void jvmNonProxyHostsMatchNoProxyWithLocalBinding() {
    Map<String, String> env = ClientEnvironment.forChild(listen, null, null, true, null, null);

    assertThat(env.get("NO_PROXY")).isEqualTo("localhost,127.0.0.1,::1,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16");
    assertThat(env.get("JAVA_TOOL_OPTIONS")).endsWith(" -Dhttp.nonProxyHosts=localhost|127.0.0.1|[::1]|10.*|"
        + "172.16.*|172.17.*|172.18.*|172.19.*|172.20.*|172.21.*|172.22.*|172.23.*|172.24.*|172.25.*|172.26.*|"
        + "172.27.*|172.28.*|172.29.*|172.30.*|172.31.*|192.168.*");
  }

  @Test
  void variablesAreTheChildsEnvironmentInPrintingOrder() {
    ClientTrust trust = new ClientTrust(Path.of("/h/ca-bundle.pem"), Path.of("/h/truststore.p12"),
        Path.of("/h/ca.pem"));

    List<Variable> variables = ClientEnvironment.variables(listen, new InetSocketAddress("127.0.0.1", 8081), null,
        false, trust);

    assertThat(variables).extracting(Variable::name).containsExactly("HTTP_PROXY", "HTTPS_PROXY", "http_proxy",
        "https_proxy", "WS_PROXY", "WSS_PROXY", "ws_proxy", "wss_proxy", "ALL_PROXY", "all_proxy", "FTP_PROXY",
        "ftp_proxy", "NO_PROXY", "no_proxy", "YARN_HTTP_PROXY", "YARN_HTTPS_PROXY", "npm_config_http_proxy",
        "npm_config_https_proxy", "npm_config_proxy", "NPM_CONFIG_HTTP_PROXY", "NPM_CONFIG_HTTPS_PROXY",
        "NPM_CONFIG_PROXY", "npm_config_noproxy", "NPM_CONFIG_NOPROXY", "PIP_PROXY", "DOCKER_HTTP_PROXY",
        "DOCKER_HTTPS_PROXY", "ELECTRON_GET_USE_PROXY", "NODE_USE_ENV_PROXY", "EGRESSD_PROXY_ACTIVE",
        "CODEX_NETWORK_PROXY_ACTIVE", "CODEX_NETWORK_ALLOW_LOCAL_BINDING", "GIT_SSH_COMMAND", "SSL_CERT_FILE",
        "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "GIT_SSL_CAINFO", "PIP_CERT", "BUNDLE_SSL_CA_CERT",
        "npm_config_cafile", "NPM_CONFIG_CAFILE", "AWS_CA_BUNDLE", "CARGO_HTTP_CAINFO", "NODE_EXTRA_CA_CERTS",
        "JAVA_TOOL_OPTIONS");
    assertThat(variables).filteredOn(Variable::appends).extracting(Variable::name)
        .containsExactly("JAVA_TOOL_OPTIONS");
    assertThat(ClientEnvironment.forChild(listen, new InetSocketAddress("127.0.0.1", 8081), null, false, null, trust))
        .containsExactlyEntriesOf(variables.stream().collect(Collectors.toMap(Variable::name, Variable::text,
            (a, b) -> a, LinkedHashMap::new)));
  }

  @Test
  void jvmIsNeverToldToUseSocks() {
    String options = ClientEnvironment.forChild(listen, new InetSocketAddress("127.0.0.1", 8081), null, false, null,
        null).get("JAVA_TOOL_OPTIONS");

    assertThat(options).doesNotContain("socksProxyHost", "socksProxyPort");
  }

  @Test
  void printedSocksUrlRefersToThePasswordVariable() {
    List<Variable> variables = ClientEnvironment.variables(listen, new InetSocketAddress("127.0.0.1", 8081),
        List.of(new Text("agent:"), new Reference("SOCKS_PW")), false, null);

    Variable all = named(variables, "ALL_PROXY");
    assertThat(all.value()).containsExactly(new Text("socks5h://agent:"), new Reference("SOCKS_PW"),
        new Text("@127.0.0.1:8081"));
    assertThatThrownBy(all::text).isInstanceOf(IllegalStateException.class).hasMessageContaining("$SOCKS_PW");
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"WS_PROXY", "WSS_PROXY", "ws_proxy", "wss_proxy", "YARN_HTTP_PROXY", "YARN_HTTPS_PROXY",
      "npm_config_http_proxy", "npm_config_https_proxy", "npm_config_proxy", "NPM_CONFIG_HTTP_PROXY",
      "NPM_CONFIG_HTTPS_PROXY", "NPM_CONFIG_PROXY", "PIP_PROXY",
      "DOCKER_HTTP_PROXY", "DOCKER_HTTPS_PROXY"})
  void toolAndWebSocketVariablesNameTheHttpListenerEvenWithSocks(String name) {
    InetSocketAddress socks = new InetSocketAddress("127.0.0.1", 8081);

    assertThat(ClientEnvironment.forChild(listen, null, null, false, null, null))
        .containsEntry(name, "http://127.0.0.1:3128");
    assertThat(ClientEnvironment.forChild(listen, socks, ClientEnvironment.userInfo("agent", "pw"), true, null, null))
        .containsEntry(name, "http://127.0.0.1:3128");
    assertThat(ClientEnvironment.forChild(new InetSocketAddress("::1", 3128), socks, null, false, null, null))
        .containsEntry(name, "http://[::1]:3128");
  }

  @ParameterizedTest(name = "allow_local_binding = {0}")
  @ValueSource(booleans = {false, true})
  void everyNoProxyVariableAndTheCodexMarkerFollowAllowLocalBinding(boolean allowLocalBinding) {
    Map<String, String> env = ClientEnvironment.forChild(listen, null, null, allowLocalBinding, null, null);

    String expected = allowLocalBinding ? "localhost,127.0.0.1,::1,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16" : "";
    assertThat(env).containsEntry("NO_PROXY", expected).containsEntry("no_proxy", expected)
        .containsEntry("npm_config_noproxy", expected).containsEntry("NPM_CONFIG_NOPROXY", expected)
        .containsEntry("CODEX_NETWORK_ALLOW_LOCAL_BINDING", allowLocalBinding ? "1" : "0");
  }

  /** Bundler ignores these as a proxy, and with the first two set "bundle config" fails (see ClientEnvironment). */
  @Test
  void bundlersProxySettingsAreNotSet() {
    InetSocketAddress socks = new InetSocketAddress("127.0.0.1", 8081);

    assertThat(ClientEnvironment.forChild(listen, socks, null, true, null, null))
        .doesNotContainKeys("BUNDLE_HTTP_PROXY", "BUNDLE_HTTPS_PROXY", "BUNDLE_NO_PROXY")
        .containsEntry("http_proxy", "http://127.0.0.1:3128");
  }

  @Test
  void switchesAndMarkersHaveTheReferenceProxysValues() {
    assertThat(ClientEnvironment.forChild(listen, null, null, false, null, null))
        .containsEntry("ELECTRON_GET_USE_PROXY", "true").containsEntry("NODE_USE_ENV_PROXY", "1")
        .containsEntry("CODEX_NETWORK_PROXY_ACTIVE", "1").containsEntry("EGRESSD_PROXY_ACTIVE", "1");
  }

  @Test
  void onlyTheSocksUrlsCarryTheSocksCredentials() {
    InetSocketAddress socks = new InetSocketAddress("127.0.0.1", 8081);
    List<Variable> printed = ClientEnvironment.variables(listen, socks,
        List.of(new Text("agent:"), new Reference("SOCKS_PW")), false, null);
    Map<String, String> child = ClientEnvironment.forChild(listen, socks,
        ClientEnvironment.userInfo("agent", "s3cret-pw"), false, null, null);

    assertThat(printed).filteredOn(v -> v.value().stream().anyMatch(Reference.class::isInstance))
        .extracting(Variable::name).containsExactly("ALL_PROXY", "all_proxy", "FTP_PROXY", "ftp_proxy");
    assertThat(child.entrySet().stream().filter(e -> e.getValue().contains("agent")).map(Map.Entry::getKey))
        .containsExactly("ALL_PROXY", "all_proxy", "FTP_PROXY", "ftp_proxy");
    assertThat(child.get("ALL_PROXY")).isEqualTo("socks5h://agent:s3cret-pw@127.0.0.1:8081");
  }

  private static Variable named(List<Variable> variables, String name) {
    return variables.stream().filter(v -> v.name().equals(name)).findFirst().orElseThrow();
  }

  @Test
  void variableNamesThatAreNotIdentifiersAreRejected() {
    assertThatThrownBy(() -> new Reference("PW; rm -rf ~")).isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("variable: PW; rm -rf ~ (expected: a variable name");
    assertThatThrownBy(() -> new Reference("1PW")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Variable.of("A-B", "x")).isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("name: A-B");
  }

  @Test
  void jvmOptionValuesWithSpacesOrQuotesAreQuotedAndOthersAreNot() {
    assertThat(ClientEnvironment.jvmOption("a", "/plain/path.p12")).isEqualTo("-Da=/plain/path.p12");
    assertThat(ClientEnvironment.jvmOption("a", "")).isEqualTo("-Da=");
    assertThat(ClientEnvironment.jvmOption("a", "/my dir/x")).isEqualTo("-Da='/my dir/x'");
    assertThat(ClientEnvironment.jvmOption("a", "it's \"q\"")).isEqualTo("-Da='it'\"'\"'s \"q\"'");
  }

  @Test
  void theJvmReadsQuotedTrustStorePathsBackExactly() throws Exception {
    String awkward = "/tmp/egressd test/it's \"quoted\"\t$HOME/truststore.p12";
    ClientTrust trust = new ClientTrust(Path.of("/h/ca-bundle.pem"), Path.of(awkward), Path.of("/h/ca.pem"));
    String options = ClientEnvironment.forChild(listen, null, null, false, "-Dkept=yes", trust)
        .get("JAVA_TOOL_OPTIONS");

    Map<String, String> properties = jvmProperties(options);

    assertThat(properties).containsEntry("javax.net.ssl.trustStore", awkward)
        .containsEntry("javax.net.ssl.trustStoreType", "PKCS12")
        .containsEntry("http.proxyHost", "127.0.0.1").containsEntry("https.proxyPort", "3128")
        .containsEntry("http.nonProxyHosts", "").containsEntry("kept", "yes");
  }

  /** The system properties a real JVM started with this JAVA_TOOL_OPTIONS has (printed by a tiny program). */
  private static Map<String, String> jvmProperties(String javaToolOptions) throws IOException, InterruptedException {
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    ProcessBuilder builder = new ProcessBuilder(java.toString(), "-cp", System.getProperty("java.class.path"),
        PrintProperties.class.getName());
    builder.environment().put("JAVA_TOOL_OPTIONS", javaToolOptions);
    Process process = builder.redirectErrorStream(false).start();
    process.getOutputStream().close();
    byte[] out = process.getInputStream().readAllBytes();
    String err = new String(process.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(process.exitValue()).as("java with JAVA_TOOL_OPTIONS=%s\n%s", javaToolOptions, err).isZero();
    Map<String, String> properties = new HashMap<>();
    for (String entry : new String(out, StandardCharsets.UTF_8).split("\0")) {
      int eq = entry.indexOf('=');
      if (eq > 0) {
        properties.put(entry.substring(0, eq), entry.substring(eq + 1));
      }
    }
    return properties;
  }

  /** Prints every system property as {@code name=value} followed by NUL. */
  static final class PrintProperties {
    public static void main(String[] args) {
      System.getProperties().forEach((k, v) -> System.out.print(k + "=" + v + "\0"));
      System.out.flush();
    }
  }

  @Test
  void gitSshCommandGoesThroughTheSocksListenerAndOnlyWhenItRuns() {
    List<Variable> withSocks = ClientEnvironment.variables(listen, new InetSocketAddress("127.0.0.1", 8081), null,
        false, null);
    List<Variable> withoutSocks = ClientEnvironment.variables(listen, null, null, false, null);

    assertThat(withSocks).filteredOn(v -> v.name().equals("GIT_SSH_COMMAND")).singleElement()
        .satisfies(v -> assertThat(v.text()).startsWith("ssh -o 'ProxyCommand=").endsWith(" ssh-proxy %h %p'"));
    assertThat(withoutSocks).extracting(Variable::name).doesNotContain("GIT_SSH_COMMAND");
  }
}
