package dev.egressd.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@code upstream_proxy}, its credentials, and the environment's parents as the reference selects them. */
class UpstreamConfigTest {
  private static DaemonConfig parse(String network, Map<String, String> env) throws ConfigException {
    return ConfigLoader.parse("[network]\nallowed_domains = [\"a.test\"]\n" + network, "config.toml", null, env::get);
  }

  private static String problem(String network, Map<String, String> env) {
    ConfigException[] thrown = new ConfigException[1];
    assertThatThrownBy(() -> parse(network, env)).isInstanceOfSatisfying(ConfigException.class, e -> thrown[0] = e);
    return String.join("\n", thrown[0].problems().stream().map(Object::toString).toList());
  }

  @Test
  void upstreamProxyCarriesBothKindsOfTrafficWithCredentialsFromTheEnvironment() throws ConfigException {
    UpstreamSettings upstream = parse("""
        upstream_proxy = "http://proxy.corp:3128"
        upstream_proxy_username = "svc"
        upstream_proxy_password_env = "PARENT_PASSWORD"
        """, Map.of("PARENT_PASSWORD", "pw", "HTTPS_PROXY", "http://ignored:1")).upstream();
    assertThat(upstream.secure()).isEqualTo(upstream.plain());
    assertThat(upstream.secure().url()).isEqualTo("http://proxy.corp:3128");
    assertThat(upstream.secure().username()).isEqualTo("svc");
    assertThat(upstream.secure().password()).isEqualTo("pw");
    assertThat(upstream.secure()).hasToString("http://proxy.corp:3128 as svc (upstream_proxy)");
    assertThat(upstream.noProxy()).isEmpty();
  }

  @Test
  void badValuesAreErrorsNamingTheKey() {
    assertThat(problem("upstream_proxy = \"socks5://p:1080\"\n", Map.of()))
        .isEqualTo("config.toml:3:1: network.upstream_proxy: non-http proxy protocol");
    assertThat(problem("upstream_proxy = \"http://user:pw@p:3128\"\n", Map.of()))
        .isEqualTo("config.toml:3:1: network.upstream_proxy: credentials do not belong in the file: set"
            + " upstream_proxy_username and upstream_proxy_password_env");
    assertThat(problem("upstream_proxy = \"http://p:3128/path\"\n", Map.of()))
        .contains("a proxy URL has no path");
    assertThat(problem("upstream_proxy = \"http://p:3128\"\nupstream_proxy_username = \"u\"\n", Map.of()))
        .isEqualTo("config.toml:4:1: network.upstream_proxy_username: upstream_proxy_username and"
            + " upstream_proxy_password_env must be set together");
    assertThat(problem("upstream_proxy = \"http://p:3128\"\nupstream_proxy_username = \"u\"\n"
        + "upstream_proxy_password_env = \"NOPE\"\n", Map.of()))
        .isEqualTo("config.toml:5:1: network.upstream_proxy_password_env: environment variable NOPE is not set or"
            + " empty");
  }

  @Test
  void upstreamResolutionParentIsAnOptInWithAWarningAndTheBundleIsRead() throws ConfigException {
    DaemonConfig parent = parse("upstream_proxy = \"https://proxy.corp:3129\"\nupstream_resolution = \"parent\"\n"
        + "upstream_proxy_ca_bundle = \"corp-roots.pem\"\n", Map.of());
    assertThat(parent.upstream().parentResolves()).isTrue();
    assertThat(parent.upstream().secure().tls()).isTrue();
    assertThat(parent.upstream().caBundle()).isEqualTo(Path.of("corp-roots.pem")); // no file: as written
    assertThat(parent.warnings()).singleElement().asString()
        .startsWith("config.toml:4:1: network.upstream_resolution: upstream_resolution = \"parent\": names going"
            + " through the parent proxy are not resolved by egressd");

    DaemonConfig local = parse("upstream_proxy = \"http://proxy.corp:3128\"\nupstream_resolution = \"local\"\n",
        Map.of());
    assertThat(local.upstream().parentResolves()).isFalse();
    assertThat(local.upstream().caBundle()).isNull();
    assertThat(local.warnings()).isEmpty();
    assertThat(parse("upstream_resolution = \"parent\"\n", Map.of()).warnings()).singleElement().asString()
        .endsWith("upstream_resolution = \"parent\" has no effect: no parent proxy is set");
  }

  @Test
  void upstreamResolutionTakesOnlyItsTwoValues() {
    assertThat(problem("upstream_resolution = \"Parent\"\n", Map.of()))
        .isEqualTo("config.toml:3:1: network.upstream_resolution: \"Parent\" is not a resolution (expected:"
            + " \"local\" or \"parent\", in lower case)");
    assertThat(problem("upstream_resolution = true\n", Map.of())).startsWith("config.toml:3:1:"
        + " network.upstream_resolution:");
    assertThat(problem("upstream_proxy_ca_bundle = 3\n", Map.of())).startsWith("config.toml:3:1:"
        + " network.upstream_proxy_ca_bundle:");
  }

  @ParameterizedTest(name = "{0} -> secure {1}, plain {2}")
  @CsvSource(delimiter = '|', value = {
      "HTTPS_PROXY=http://s:1 HTTP_PROXY=http://h:2 ALL_PROXY=http://a:3 | http://s:1 | http://h:2",
      "HTTP_PROXY=http://h:2                                          | http://h:2 | http://h:2",
      "ALL_PROXY=http://a:3                                           | http://a:3 | http://a:3",
      "https_proxy=http://s:1 all_proxy=http://a:3                    | http://s:1 | http://a:3",
      "HTTPS_PROXY=   http_proxy=h:8080                               | http://h:8080 | http://h:8080",
      "HTTPS_PROXY=socks5h://s:1 HTTP_PROXY=http://h:2                | http://h:2 | http://h:2",
      "HTTPS_PROXY=https://s                                          | https://s:443 | -",
      "NONE=1                                                         | - | -",
  })
  void theEnvironmentSelectsAsTheReferenceDoes(String variables, String secure, String plain) {
    Map<String, String> env = new java.util.HashMap<>();
    for (String pair : variables.trim().split("\\s+")) {
      String[] kv = pair.split("=", 2);
      env.put(kv[0], kv.length > 1 ? kv[1] : "");
    }
    UpstreamSettings upstream = UpstreamSettings.fromEnvironment(env::get, new ArrayList<>());
    assertThat(upstream.secure() == null ? "-" : upstream.secure().url()).isEqualTo(secure.trim());
    assertThat(upstream.plain() == null ? "-" : upstream.plain().url()).isEqualTo(plain.trim());
  }

  @Test
  void socksAndGarbageAreIgnoredWithAWarningNamingTheVariableAndCredentialsInTheVariableAreKept() {
    List<String> warnings = new ArrayList<>();
    UpstreamSettings upstream = UpstreamSettings.fromEnvironment(Map.of("ALL_PROXY", "socks5://s:1",
        "HTTPS_PROXY", "ftp://x", "HTTP_PROXY", "http://u%40corp:p%3Aw@h:3128", "NO_PROXY",
        " .corp.example , 10.0.0.0/8,,")::get, warnings);
    assertThat(warnings).containsExactly("ignoring HTTPS_PROXY: invalid proxy address (expected http:// or https://,"
        + " found \"ftp://x\")"); // ALL_PROXY is not read: HTTP_PROXY answered first
    List<String> socks = new ArrayList<>();
    assertThat(UpstreamSettings.fromEnvironment(Map.of("all_proxy", "socks5h://s:1")::get, socks).direct()).isTrue();
    assertThat(socks).containsExactly("ignoring all_proxy: non-http proxy protocol");
    assertThat(upstream.secure().username()).isEqualTo("u@corp");
    assertThat(upstream.secure().password()).isEqualTo("p:w");
    assertThat(upstream.secure().toString()).doesNotContain("p:w");
    assertThat(upstream.noProxy()).containsExactly(".corp.example", "10.0.0.0/8");
  }

  @Test
  void allowUpstreamProxyFalseIgnoresTheEnvironment() throws ConfigException {
    assertThat(parse("allow_upstream_proxy = false\n", Map.of("HTTPS_PROXY", "http://p:1")).upstream().direct())
        .isTrue();
    assertThat(parse("", Map.of("HTTPS_PROXY", "http://p:1")).upstream().secure().source()).isEqualTo("HTTPS_PROXY");
  }
}
