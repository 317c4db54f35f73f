package dev.egressd.daemon;

import static java.util.Objects.requireNonNull;

import dev.egressd.policy.HostName;
import dev.egressd.policy.IpAddress;
import dev.egressd.proxy.mitm.ClientTrust;
import java.net.InetSocketAddress;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * The environment variables that point clients at the proxy. {@link #variables} is the one list of them:
 * {@code egressd run -- CMD} puts it into the child's environment ({@link #forChild}) and {@code egressd env} prints
 * it for a shell or an env file ({@link ShellSyntax}), so the two always agree. docs/clients.md says which client
 * reads which variable.
 */
final class ClientEnvironment {
  /** The one variable whose value is added to the value it already has rather than replacing it. */
  static final String JAVA_TOOL_OPTIONS = "JAVA_TOOL_OPTIONS";

  private static final String LOCAL_NO_PROXY = "localhost,127.0.0.1,::1,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16";
  /**
   * {@link #LOCAL_NO_PROXY} in {@code http.nonProxyHosts} syntax: a leading or trailing {@code *} is the only
   * wildcard, so 172.16.0.0/12 is sixteen prefixes. The JVM adds its own defaults (localhost, 127.*, [::1]) to any
   * non-empty value.
   */
  private static final String LOCAL_NON_PROXY_HOSTS = "localhost|127.0.0.1|[::1]|10.*|"
      + IntStream.rangeClosed(16, 31).mapToObj(i -> "172." + i + ".*|").collect(Collectors.joining()) + "192.168.*";
  private static final Pattern NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");
  private static final List<String> HTTP_URL_NAMES = List.of("HTTP_PROXY", "HTTPS_PROXY", "http_proxy",
      "https_proxy", "WS_PROXY", "WSS_PROXY", "ws_proxy", "wss_proxy");
  private static final List<String> ALL_PROXY_NAMES = List.of("ALL_PROXY", "all_proxy", "FTP_PROXY", "ftp_proxy");

  private ClientEnvironment() {}

  /** One part of a variable's value: {@link Text}, or a {@link Reference} to another environment variable. */
  sealed interface Segment permits Text, Reference {}

  /**
   * Literal text, exactly as the client must see it.
   *
   * @param text any characters
   */
  record Text(String text) implements Segment {
    /** Checks for null. */
    Text {
      requireNonNull(text, "text");
    }
  }

  /**
   * The value of another environment variable, read when the value is used: how printed output names a secret (the
   * SOCKS5 password) without containing it.
   *
   * @param variable a portable variable name ({@code [A-Za-z_][A-Za-z0-9_]*}), so it can be written into shell code
   *     as it is
   */
  record Reference(String variable) implements Segment {
    /** Rejects names that are not plain identifiers: the name is written into shell code unquoted. */
    Reference {
      requireName(variable, "variable");
    }
  }

  /**
   * One environment variable.
   *
   * @param name a portable variable name
   * @param value the segments, concatenated
   * @param appends true when the value goes after the variable's current value (and a space) instead of replacing
   *     it, so a user's own options stay ({@code JAVA_TOOL_OPTIONS})
   */
  record Variable(String name, List<Segment> value, boolean appends) {
    /** Checks the name and copies the segments, joining adjacent texts. */
    Variable {
      requireName(name, "name");
      List<Segment> joined = new ArrayList<>();
      for (Segment segment : value) {
        if (segment instanceof Text next && !joined.isEmpty() && joined.get(joined.size() - 1) instanceof Text last) {
          joined.set(joined.size() - 1, new Text(last.text() + next.text()));
        } else {
          joined.add(requireNonNull(segment, "segment"));
        }
      }
      value = List.copyOf(joined);
    }

    /** A variable with a literal value that replaces the current one. */
    static Variable of(String name, String text) {
      return new Variable(name, List.of(new Text(text)), false);
    }

    /** The value as text; fails when it contains a {@link Reference}, which only a shell can expand. */
    String text() {
      StringBuilder text = new StringBuilder();
      for (Segment segment : value) {
        if (!(segment instanceof Text literal)) {
          throw new IllegalStateException(name + ": refers to $" + ((Reference) segment).variable()
              + " (expected: literal text only)");
        }
        text.append(literal.text());
      }
      return text.toString();
    }
  }

  private static void requireName(String name, String what) {
    requireNonNull(name, what);
    if (!NAME.matcher(name).matches()) {
      throw new IllegalArgumentException(what + ": " + name + " (expected: a variable name of letters, digits and"
          + " underscores, not starting with a digit)");
    }
  }

  /**
   * {@code GIT_SSH_COMMAND} for git over ssh: ssh with a {@code ProxyCommand} that is {@code egressd ssh-proxy},
   * which reaches the host through the SOCKS5 listener named by {@code ALL_PROXY}, so ssh remotes are decided by the
   * policy too. Both layers are shell words: git runs the variable through {@code sh -c}, ssh the ProxyCommand.
   *
   * @param egressd the shell words that start this egressd ({@link SshProxyCommand#invocation})
   */
  static String gitSshCommand(String egressd) {
    return "ssh -o " + ShellSyntax.shWord("ProxyCommand=" + egressd + " ssh-proxy %h %p");
  }

  /** The proxy URL clients should use, e.g. {@code http://127.0.0.1:3128}. */
  static String httpProxyUrl(InetSocketAddress http) {
    return "http://" + HostName.of(IpAddress.of(http.getAddress())).authorityForm() + ":" + http.getPort();
  }

  /**
   * Every variable, in the order {@code egressd env} prints them. The proxy URLs and the no-proxy list are the ones
   * codex-network-proxy gives its children, under the same names, so tools configured for either find theirs:
   * <ol>
   *   <li>{@code HTTP_PROXY}, {@code HTTPS_PROXY} and their lower-case forms name the HTTP listener (CONNECT for
   *       HTTPS); {@code WS_PROXY}, {@code WSS_PROXY} and lower-case forms name it for WebSocket clients;
   *   <li>{@code ALL_PROXY}, {@code FTP_PROXY} and lower-case forms name the SOCKS5 listener with {@code socks5h}
   *       (the proxy, not the client, resolves names, so host rules apply) when it runs, else the HTTP listener;
   *   <li>{@code NO_PROXY}/{@code no_proxy}: the loopback and private ranges with {@code allow_local_binding = true};
   *       empty otherwise, so local targets go through the proxy too, where explicit rules can allow them;
   *   <li>the package managers' own proxy settings, for tools that read those rather than (or ahead of) the
   *       variables above, each tool's group together: the HTTP listener in {@code YARN_HTTP_PROXY},
   *       {@code YARN_HTTPS_PROXY}; in {@code npm_config_http_proxy}, {@code npm_config_https_proxy},
   *       {@code npm_config_proxy} and their upper-case forms, then {@code npm_config_noproxy} and
   *       {@code NPM_CONFIG_NOPROXY} as {@code NO_PROXY}; in {@code PIP_PROXY}, {@code DOCKER_HTTP_PROXY} and
   *       {@code DOCKER_HTTPS_PROXY}. Not codex-network-proxy's {@code BUNDLE_HTTP_PROXY}, {@code BUNDLE_HTTPS_PROXY}
   *       and {@code BUNDLE_NO_PROXY}, on purpose: Bundler never reads them as a proxy (it uses {@code http_proxy},
   *       set above), and with either of the first two set {@code bundle config} and {@code bundle env} fail, since
   *       Bundler takes a setting whose name starts with "http" for a source URL (PackageManagerProxyVariablesIT);
   *   <li>{@code ELECTRON_GET_USE_PROXY=true} ({@code @electron/get}, which downloads Electron when its npm package
   *       installs, sets up a proxy only with it) and {@code NODE_USE_ENV_PROXY=1} (Node.js 24 and later read the
   *       variables above only with it);
   *   <li>markers, for programs that check whether they run behind a proxy: {@code EGRESSD_PROXY_ACTIVE=1}, and
   *       codex-network-proxy's {@code CODEX_NETWORK_PROXY_ACTIVE=1} and {@code CODEX_NETWORK_ALLOW_LOCAL_BINDING}
   *       ({@code 1} or {@code 0}, as {@code allow_local_binding});
   *   <li>with TLS interception, the trust variables ({@link #trustVariables});
   *   <li>{@code JAVA_TOOL_OPTIONS}, appended: the JVM's proxy properties, {@code http.nonProxyHosts} matching
   *       {@code NO_PROXY}, and with interception the trust store. {@code socksProxyHost} is deliberately absent: the
   *       JVM would send every plain socket through SOCKS5 with names it resolved itself (docs/clients.md).
   * </ol>
   * Only the SOCKS5 URLs ({@code ALL_PROXY} and the rest of its group) can carry credentials; every other value is
   * free of secrets.
   *
   * @param socks the SOCKS5 listener, or null when it is off
   * @param socksUserInfo {@code user:password} (URL-encoded) when the SOCKS5 listener requires credentials, with the
   *     password as text (for a child) or a {@link Reference} (for printing); null otherwise
   * @param trust the interception trust files, or null when interception is off
   */
  static List<Variable> variables(InetSocketAddress http, InetSocketAddress socks, List<Segment> socksUserInfo,
      boolean allowLocalBinding, ClientTrust trust) {
    String url = httpProxyUrl(http);
    String noProxy = allowLocalBinding ? LOCAL_NO_PROXY : "";
    List<Variable> variables = new ArrayList<>();
    addAll(variables, HTTP_URL_NAMES, url);
    List<Segment> all = socks == null ? List.of(new Text(url)) : socksUrl(socks, socksUserInfo);
    ALL_PROXY_NAMES.forEach(name -> variables.add(new Variable(name, all, false)));
    addAll(variables, List.of("NO_PROXY", "no_proxy"), noProxy);
    addPackageManagerSettings(variables, url, noProxy);
    addAll(variables, List.of("ELECTRON_GET_USE_PROXY"), "true");
    addAll(variables, List.of("NODE_USE_ENV_PROXY", "EGRESSD_PROXY_ACTIVE", "CODEX_NETWORK_PROXY_ACTIVE"), "1");
    variables.add(Variable.of("CODEX_NETWORK_ALLOW_LOCAL_BINDING", allowLocalBinding ? "1" : "0"));
    if (socks != null) {
      variables.add(Variable.of("GIT_SSH_COMMAND", gitSshCommand(SshProxyCommand.invocation())));
    }
    if (trust != null) {
      trustVariables(trust).forEach((name, value) -> variables.add(Variable.of(name, value)));
    }
    variables.add(new Variable(JAVA_TOOL_OPTIONS, List.of(new Text(jvmOptions(http, allowLocalBinding, trust))),
        true));
    return List.copyOf(variables);
  }

  /** Yarn's, npm's, pip's and Docker's own proxy settings, each tool's group together. */
  private static void addPackageManagerSettings(List<Variable> variables, String url, String noProxy) {
    addAll(variables, List.of("YARN_HTTP_PROXY", "YARN_HTTPS_PROXY", "npm_config_http_proxy",
        "npm_config_https_proxy", "npm_config_proxy", "NPM_CONFIG_HTTP_PROXY", "NPM_CONFIG_HTTPS_PROXY",
        "NPM_CONFIG_PROXY"), url);
    addAll(variables, List.of("npm_config_noproxy", "NPM_CONFIG_NOPROXY"), noProxy);
    addAll(variables, List.of("PIP_PROXY", "DOCKER_HTTP_PROXY", "DOCKER_HTTPS_PROXY"), url);
  }

  private static void addAll(List<Variable> variables, List<String> names, String text) {
    names.forEach(name -> variables.add(Variable.of(name, text)));
  }

  /**
   * The {@link #variables} as a child process gets them.
   *
   * @param socks the SOCKS5 listener, or null when it is off
   * @param socksUserInfo {@code user:password} (URL-encoded) when the SOCKS5 listener requires credentials: the
   *     child is the client they are for; null otherwise
   * @param javaToolOptions the parent's {@code JAVA_TOOL_OPTIONS}, kept in front of the proxy options; may be null
   */
  static Map<String, String> forChild(InetSocketAddress http, InetSocketAddress socks, String socksUserInfo,
      boolean allowLocalBinding, String javaToolOptions, ClientTrust trust) {
    List<Segment> userInfo = socksUserInfo == null ? null : List.of(new Text(socksUserInfo));
    Map<String, String> env = new LinkedHashMap<>();
    for (Variable variable : variables(http, socks, userInfo, allowLocalBinding, trust)) {
      // Only JAVA_TOOL_OPTIONS appends. Same rule as the sh output's ${JAVA_TOOL_OPTIONS:+...}: non-empty is kept.
      boolean keep = variable.appends() && javaToolOptions != null && !javaToolOptions.isEmpty();
      env.put(variable.name(), keep ? javaToolOptions + " " + variable.text() : variable.text());
    }
    return env;
  }

  private static String jvmOptions(InetSocketAddress http, boolean allowLocalBinding, ClientTrust trust) {
    String host = IpAddress.of(http.getAddress()).toString();
    String port = Integer.toString(http.getPort());
    List<String> options = new ArrayList<>(List.of(jvmOption("http.proxyHost", host),
        jvmOption("http.proxyPort", port), jvmOption("https.proxyHost", host), jvmOption("https.proxyPort", port),
        // Empty means "no exceptions": without it the JVM's default (localhost|127.*|[::1]) bypasses the proxy.
        jvmOption("http.nonProxyHosts", allowLocalBinding ? LOCAL_NON_PROXY_HOSTS : "")));
    if (trust != null) {
      options.add(trustStoreOptions(trust));
    }
    return String.join(" ", options);
  }

  /**
   * {@code -Dname=value} as one {@code JAVA_TOOL_OPTIONS} token. The JVM splits that variable at white space and
   * removes quotes, so a value with white space or quotes is wrapped in single quotes, each {@code '} in it becoming
   * {@code '"'"'} (close, a double-quoted quote, reopen).
   */
  static String jvmOption(String name, String value) {
    String option = "-D" + name + "=";
    if (value.chars().noneMatch(c -> Character.isWhitespace(c) || c == '\'' || c == '"')) {
      return option + value;
    }
    return option + "'" + value.replace("'", "'\"'\"'") + "'";
  }

  /**
   * The variables that make common clients trust the interception CA: the bundle (system roots plus the CA) for
   * OpenSSL-, Python-, git-, pip-, Bundler- and npm-based tools, the CA alone for Node (whose variable adds to its roots).
   */
  static Map<String, String> trustVariables(ClientTrust trust) {
    Map<String, String> env = new LinkedHashMap<>();
    String bundle = trust.pemBundle().toString();
    for (String key : new String[] {"SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "GIT_SSL_CAINFO",
        "PIP_CERT", "BUNDLE_SSL_CA_CERT", "npm_config_cafile", "NPM_CONFIG_CAFILE", "AWS_CA_BUNDLE",
        "CARGO_HTTP_CAINFO"}) {
      env.put(key, bundle);
    }
    env.put("NODE_EXTRA_CA_CERTS", trust.caCertificate().toString());
    return env;
  }

  /** JVM options that use the PKCS12 trust store (system roots plus the CA). */
  static String trustStoreOptions(ClientTrust trust) {
    return jvmOption("javax.net.ssl.trustStore", trust.trustStore().toString()) + " "
        + jvmOption("javax.net.ssl.trustStoreType", "PKCS12") + " "
        + jvmOption("javax.net.ssl.trustStorePassword", ClientTrust.TRUST_STORE_PASSWORD);
  }

  /** A shell {@code export} line for the trust variables (the start-up announcement; {@code env} prints more). */
  static String trustExports(ClientTrust trust) {
    StringBuilder line = new StringBuilder("export");
    trustVariables(trust).forEach((k, v) -> line.append(' ').append(k).append('=').append(ShellSyntax.shWord(v)));
    return line.toString();
  }

  /** The SOCKS5 URL clients should use, e.g. {@code socks5h://127.0.0.1:8081}, with user info if given. */
  static String socksUrl(InetSocketAddress socks, String userInfo) {
    return new Variable("ALL_PROXY", socksUrl(socks, userInfo == null ? null : List.of(new Text(userInfo))), false)
        .text();
  }

  private static List<Segment> socksUrl(InetSocketAddress socks, List<Segment> userInfo) {
    String hostPort = httpProxyUrl(socks).substring("http://".length());
    List<Segment> url = new ArrayList<>();
    url.add(new Text("socks5h://"));
    if (userInfo != null) {
      url.addAll(userInfo);
      url.add(new Text("@"));
    }
    url.add(new Text(hostPort));
    return url;
  }

  /** {@code user:password}, each URL-encoded, for a proxy URL. */
  static String userInfo(String user, String password) {
    return urlEncode(user) + ":" + urlEncode(password);
  }

  /** Percent-encodes a user name or password for the user-info part of a URL. */
  static String urlEncode(String text) {
    return URLEncoder.encode(text, StandardCharsets.UTF_8).replace("+", "%20");
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
