package dev.egressd.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

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
