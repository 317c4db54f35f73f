package dev.egressd.daemon;

import dev.egressd.policy.HostName;
import dev.egressd.proxy.mitm.ClientTrust;
import dev.egressd.policy.IpAddress;
import java.net.InetSocketAddress;
import java.util.LinkedHashMap;
import java.util.Map;

/** The environment variables that point clients at the proxy, as the reference sets them for its children. */
final class ClientEnvironment {
  private static final String LOCAL_NO_PROXY = "localhost,127.0.0.1,::1,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16";

  private ClientEnvironment() {}

  /** The proxy URL clients should use, e.g. {@code http://127.0.0.1:3128}. */
  static String httpProxyUrl(InetSocketAddress http) {
    return "http://" + HostName.of(IpAddress.of(http.getAddress())).authorityForm() + ":" + http.getPort();
  }

  /**
   * Variables for a child process, as the reference sets them. {@code ALL_PROXY} and {@code FTP_PROXY} name the
   * SOCKS5 listener with {@code socks5h} (so the proxy, not the client, resolves names and host rules apply) when it
   * runs, else the HTTP listener. With {@code allow_local_binding = false}, {@code NO_PROXY} is emptied so local
   * targets also go through the proxy, where explicit rules can allow them.
   *
   * @param socks the SOCKS5 listener, or null when it is off
   * @param socksUserInfo {@code user:password} (URL-encoded) when the SOCKS5 listener requires credentials: the
   *     child is the client they are for; null otherwise
   */
  static Map<String, String> forChild(InetSocketAddress http, InetSocketAddress socks, String socksUserInfo,
      boolean allowLocalBinding, String javaToolOptions, ClientTrust trust) {
    String url = httpProxyUrl(http);
    Map<String, String> env = new LinkedHashMap<>();
    for (String key : new String[] {"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"}) {
      env.put(key, url);
    }
    String all = socks == null ? url : socksUrl(socks, socksUserInfo);
    for (String key : new String[] {"ALL_PROXY", "all_proxy", "FTP_PROXY", "ftp_proxy"}) {
      env.put(key, all);
    }
    String noProxy = allowLocalBinding ? LOCAL_NO_PROXY : "";
    env.put("NO_PROXY", noProxy);
    env.put("no_proxy", noProxy);
    env.put("NODE_USE_ENV_PROXY", "1");
    String host = IpAddress.of(http.getAddress()).toString();
    String jvm = "-Dhttp.proxyHost=" + host + " -Dhttp.proxyPort=" + http.getPort() + " -Dhttps.proxyHost=" + host
        + " -Dhttps.proxyPort=" + http.getPort();
    if (trust != null) {
      env.putAll(trustVariables(trust));
      jvm += " " + trustStoreOptions(trust);
    }
    env.put("JAVA_TOOL_OPTIONS", javaToolOptions == null || javaToolOptions.isBlank() ? jvm
        : javaToolOptions + " " + jvm);
    return env;
  }

  /**
   * The variables that make common clients trust the interception CA: the bundle (system roots plus the CA) for
   * OpenSSL-, Python-, git-, pip- and npm-based tools, the CA alone for Node (whose variable adds to its roots).
   */
  static Map<String, String> trustVariables(ClientTrust trust) {
    Map<String, String> env = new LinkedHashMap<>();
    String bundle = trust.pemBundle().toString();
    for (String key : new String[] {"SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "GIT_SSL_CAINFO",
        "PIP_CERT", "npm_config_cafile", "NPM_CONFIG_CAFILE", "AWS_CA_BUNDLE", "CARGO_HTTP_CAINFO"}) {
      env.put(key, bundle);
    }
    env.put("NODE_EXTRA_CA_CERTS", trust.caCertificate().toString());
    return env;
  }

  /** JVM options that use the PKCS12 trust store (system roots plus the CA). */
  static String trustStoreOptions(ClientTrust trust) {
    return "-Djavax.net.ssl.trustStore=" + trust.trustStore() + " -Djavax.net.ssl.trustStoreType=PKCS12"
        + " -Djavax.net.ssl.trustStorePassword=" + ClientTrust.TRUST_STORE_PASSWORD;
  }

  /** A shell {@code export} line for the trust variables. */
  static String trustExports(ClientTrust trust) {
    StringBuilder line = new StringBuilder("export");
    trustVariables(trust).forEach((k, v) -> line.append(' ').append(k).append('=').append(v));
    return line.toString();
  }

  /** The SOCKS5 URL clients should use, e.g. {@code socks5h://127.0.0.1:8081}, with user info if given. */
  static String socksUrl(InetSocketAddress socks, String userInfo) {
    String hostPort = httpProxyUrl(socks).substring("http://".length());
    return "socks5h://" + (userInfo == null ? "" : userInfo + "@") + hostPort;
  }

  /** {@code user:password}, each URL-encoded, for a proxy URL. */
  static String userInfo(String user, String password) {
    return java.net.URLEncoder.encode(user, java.nio.charset.StandardCharsets.UTF_8).replace("+", "%20") + ":"
        + java.net.URLEncoder.encode(password, java.nio.charset.StandardCharsets.UTF_8).replace("+", "%20");
  }

  /**
   * A shell {@code export} line for the proxy variables (for people to copy). A SOCKS5 password is never printed:
   * the line refers to the environment variable that holds it ({@code socksUserInfo} is then
   * {@code user:${VAR}}).
   */
  static String exports(InetSocketAddress http, InetSocketAddress socks, String socksUserInfo) {
    String url = httpProxyUrl(http);
    String line = "export HTTP_PROXY=" + url + " HTTPS_PROXY=" + url + " http_proxy=" + url + " https_proxy=" + url;
    if (socks == null) {
      return line;
    }
    String all = socksUrl(socks, socksUserInfo);
    String quoted = socksUserInfo == null ? all : "\"" + all + "\"";
    return line + " ALL_PROXY=" + quoted + " all_proxy=" + quoted;
  }
}
