package dev.egressd.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import dev.egressd.proxy.mitm.ClientTrust;
import java.net.InetSocketAddress;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ClientEnvironmentTest {
  private final InetSocketAddress listen = new InetSocketAddress("127.0.0.1", 3128);

  @Test
  void childGetsEveryProxyVariableAndAnEmptyNoProxyWithoutLocalBinding() {
    Map<String, String> env = ClientEnvironment.forChild(listen, null, null, false, null, null);
    assertThat(env).containsEntry("HTTP_PROXY", "http://127.0.0.1:3128")
        .containsEntry("https_proxy", "http://127.0.0.1:3128")
        .containsEntry("NO_PROXY", "")
        .containsEntry("JAVA_TOOL_OPTIONS",
            "-Dhttp.proxyHost=127.0.0.1 -Dhttp.proxyPort=3128 -Dhttps.proxyHost=127.0.0.1 -Dhttps.proxyPort=3128");
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
}
