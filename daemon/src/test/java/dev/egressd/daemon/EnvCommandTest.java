package dev.egressd.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.params.provider.Arguments.arguments;

import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** {@code egressd env} in-process: which syntax it writes, and when it refuses. */
class EnvCommandTest {
  private static final String CONFIG = """
      [network]
      allowed_domains = ["example.com"]
      proxy_url = "http://127.0.0.1:3128"
      socks_url = "http://127.0.0.1:8081"
      """;

  @RegisterExtension
  final StandardStreams streams = new StandardStreams();
  private static final String LOCAL = "localhost,127.0.0.1,::1,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16";

  private final InetSocketAddress http = new InetSocketAddress("127.0.0.1", 3128);
  private final InetSocketAddress socks = new InetSocketAddress("127.0.0.1", 8081);

  @TempDir
  Path dir;

  private int env(String config, String... args) throws Exception {
    Path file = Files.writeString(dir.resolve("egressd.toml"), config);
    String[] all = new String[args.length + 3];
    all[0] = "env";
    all[1] = "--config";
    all[2] = file.toString();
    System.arraycopy(args, 0, all, 3, args.length);
    return Main.commandLine().execute(all);
  }

  private String out() {
    return streams.out();
  }

  private String err() {
    return streams.err();
  }

  @Test
  void printsEveryVariableForShByDefault() throws Exception {
    assertThat(env(CONFIG)).as(err()).isZero();

    assertThat(out()).isEqualTo(ShellSyntax.SH.render(ClientEnvironment.variables(http, socks, null, false, null)));
    assertThat(out()).contains("export HTTPS_PROXY=http://127.0.0.1:3128\n",
        "export ALL_PROXY=socks5h://127.0.0.1:8081\n", "export NO_PROXY=''\n", "export NODE_USE_ENV_PROXY=1\n",
        "export JAVA_TOOL_OPTIONS=\"${JAVA_TOOL_OPTIONS:+$JAVA_TOOL_OPTIONS }\"'-Dhttp.proxyHost=127.0.0.1 ");
  }

  @Test
  void shellOptionSelectsFishOrPowershell() throws Exception {
    assertThat(env(CONFIG, "--shell", "fish")).as(err()).isZero();
    assertThat(out()).isEqualTo(ShellSyntax.FISH.render(ClientEnvironment.variables(http, socks, null, false, null)))
        .startsWith("set -gx HTTP_PROXY 'http://127.0.0.1:3128'\n");
    streams.resetOut();

    assertThat(env(CONFIG, "--shell", "powershell")).as(err()).isZero();
    assertThat(out()).isEqualTo(ShellSyntax.POWERSHELL.render(ClientEnvironment.variables(http, socks, null, false,
        null))).startsWith("$env:HTTP_PROXY = 'http://127.0.0.1:3128'\n");
  }

  @Test
  void dotenvFormatWritesNameValueLines() throws Exception {
    assertThat(env(CONFIG, "--format", "dotenv")).as(err()).isZero();

    assertThat(out()).startsWith("HTTP_PROXY=http://127.0.0.1:3128\n").contains("\nNO_PROXY=\"\"\n")
        .contains("\nJAVA_TOOL_OPTIONS=\"-Dhttp.proxyHost=127.0.0.1 ");
  }

  @Test
  void localBindingPutsTheLocalRangesIntoNoProxy() throws Exception {
    assertThat(env(CONFIG + "allow_local_binding = true\n")).as(err()).isZero();

    assertThat(out()).contains("export NO_PROXY=localhost,127.0.0.1,::1,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16\n")
        .contains("-Dhttp.nonProxyHosts=localhost|127.0.0.1|[::1]|10.*|172.16.*|");
  }

  @Test
  void withoutSocksAllProxyNamesTheHttpListener() throws Exception {
    assertThat(env(CONFIG + "enable_socks5 = false\n")).as(err()).isZero();

    assertThat(out()).contains("export ALL_PROXY=http://127.0.0.1:3128\n").doesNotContain("socks5h");
  }

  /**
   * Each output form, with the exact lines it writes for the variables added for the package managers and the
   * markers, without and with {@code allow_local_binding}: an empty no-proxy list must stay an empty value (sh,
   * dotenv: a quoted empty word), the local list and the URLs need no quoting in sh and dotenv.
   */
  static Stream<Arguments> forms() {
    return Stream.of(
        arguments("sh", List.of(), List.of("export WSS_PROXY=http://127.0.0.1:3128",
            "export npm_config_proxy=http://127.0.0.1:3128", "export NPM_CONFIG_HTTPS_PROXY=http://127.0.0.1:3128",
            "export npm_config_noproxy=''", "export PIP_PROXY=http://127.0.0.1:3128",
            "export ELECTRON_GET_USE_PROXY=true", "export EGRESSD_PROXY_ACTIVE=1",
            "export CODEX_NETWORK_PROXY_ACTIVE=1", "export CODEX_NETWORK_ALLOW_LOCAL_BINDING=0"),
            List.of("export NPM_CONFIG_NOPROXY=" + LOCAL,
                "export CODEX_NETWORK_ALLOW_LOCAL_BINDING=1")),
        arguments("fish", List.of("--shell", "fish"), List.of("set -gx WSS_PROXY 'http://127.0.0.1:3128'",
            "set -gx npm_config_proxy 'http://127.0.0.1:3128'",
            "set -gx NPM_CONFIG_HTTPS_PROXY 'http://127.0.0.1:3128'", "set -gx npm_config_noproxy ''",
            "set -gx PIP_PROXY 'http://127.0.0.1:3128'",
            "set -gx ELECTRON_GET_USE_PROXY 'true'", "set -gx EGRESSD_PROXY_ACTIVE '1'",
            "set -gx CODEX_NETWORK_PROXY_ACTIVE '1'", "set -gx CODEX_NETWORK_ALLOW_LOCAL_BINDING '0'"),
            List.of("set -gx NPM_CONFIG_NOPROXY '" + LOCAL + "'",
                "set -gx CODEX_NETWORK_ALLOW_LOCAL_BINDING '1'")),
        arguments("powershell", List.of("--shell", "powershell"), List.of(
            "$env:WSS_PROXY = 'http://127.0.0.1:3128'", "$env:npm_config_proxy = 'http://127.0.0.1:3128'",
            "$env:NPM_CONFIG_HTTPS_PROXY = 'http://127.0.0.1:3128'", "$env:npm_config_noproxy = ''",
            "$env:PIP_PROXY = 'http://127.0.0.1:3128'",
            "$env:ELECTRON_GET_USE_PROXY = 'true'", "$env:EGRESSD_PROXY_ACTIVE = '1'",
            "$env:CODEX_NETWORK_PROXY_ACTIVE = '1'", "$env:CODEX_NETWORK_ALLOW_LOCAL_BINDING = '0'"),
            List.of("$env:NPM_CONFIG_NOPROXY = '" + LOCAL + "'",
                "$env:CODEX_NETWORK_ALLOW_LOCAL_BINDING = '1'")),
        arguments("dotenv", List.of("--format", "dotenv"), List.of("WSS_PROXY=http://127.0.0.1:3128",
            "npm_config_proxy=http://127.0.0.1:3128", "NPM_CONFIG_HTTPS_PROXY=http://127.0.0.1:3128",
            "npm_config_noproxy=\"\"", "PIP_PROXY=http://127.0.0.1:3128",
            "ELECTRON_GET_USE_PROXY=true", "EGRESSD_PROXY_ACTIVE=1", "CODEX_NETWORK_PROXY_ACTIVE=1",
            "CODEX_NETWORK_ALLOW_LOCAL_BINDING=0"),
            List.of("NPM_CONFIG_NOPROXY=" + LOCAL,
                "CODEX_NETWORK_ALLOW_LOCAL_BINDING=1")));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("forms")
  void everyFormWritesThePackageManagerVariablesAndMarkers(String form, List<String> args, List<String> lines,
      List<String> localBindingLines) throws Exception {
    assertThat(env(CONFIG, args.toArray(String[]::new))).as(err()).isZero();
    List<String> printed = out().lines().toList();
    streams.resetOut();
    assertThat(env(CONFIG + "allow_local_binding = true\n", args.toArray(String[]::new))).as(err()).isZero();
    List<String> withLocalBinding = out().lines().toList();

    assertThat(printed).containsAll(lines);
    assertThat(withLocalBinding).containsAll(localBindingLines);
    assertThat(printed).hasSize(ClientEnvironment.variables(http, socks, null, false, null).size());
  }

  @Test
  void shellWithDotenvIsAUsageError() throws Exception {
    assertThat(env(CONFIG, "--format", "dotenv", "--shell", "fish")).isEqualTo(Main.CONFIG_ERROR);

    assertThat(err()).contains("--shell fish with --format dotenv");
    assertThat(out()).isEmpty();
  }

  @Test
  void unknownShellIsAUsageError() throws Exception {
    assertThat(env(CONFIG, "--shell", "csh")).isEqualTo(Main.CONFIG_ERROR);

    assertThat(err()).contains("csh");
    assertThat(out()).isEmpty();
  }

  @Test
  void portZeroIsRefusedForEitherListener() throws Exception {
    assertThat(env(CONFIG, "--listen", "127.0.0.1:0")).isEqualTo(Main.CONFIG_ERROR);
    assertThat(env(CONFIG, "--socks-listen", "127.0.0.1:0")).isEqualTo(Main.CONFIG_ERROR);

    assertThat(err()).contains("port 0");
    assertThat(out()).isEmpty();
  }
}
