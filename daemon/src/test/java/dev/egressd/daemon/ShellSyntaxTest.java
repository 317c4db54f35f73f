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
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * What {@code egressd env} prints for each shell and for env files: the exact text per syntax, and for sh and bash
 * that evaluating the printed text gives exactly the environment {@code egressd run -- CMD} gives its child, with
 * values that need every kind of escaping.
 */
class ShellSyntaxTest {
  /** Every character sh, fish, PowerShell or an env file could treat specially, plus a newline and a tab. */
  private static final String AWKWARD = "it's \"q\" $HOME ${HOME} `id` $(id) \\ ; & | < > * ? [a] ~ # ! % {a,b}"
      + " \u2018curly\u2019 \t tab\nnew line";
  /** Variables the shells add themselves. */
  private static final Set<String> SHELL_OWN = Set.of("PATH", "PWD", "OLDPWD", "SHLVL", "_");

  private final InetSocketAddress http = new InetSocketAddress("127.0.0.1", 3128);
  private final InetSocketAddress socks = new InetSocketAddress("127.0.0.1", 8081);

  @TempDir
  Path dir;

  // ---- sh: exact text ----

  @Test
  void shWritesSafeTextBareAndQuotesTheRest() {
    assertThat(ShellSyntax.SH.line(Variable.of("HTTP_PROXY", "http://127.0.0.1:3128")))
        .isEqualTo("export HTTP_PROXY=http://127.0.0.1:3128");
    assertThat(ShellSyntax.SH.line(Variable.of("NO_PROXY", ""))).isEqualTo("export NO_PROXY=''");
    assertThat(ShellSyntax.SH.line(Variable.of("X", "a b"))).isEqualTo("export X='a b'");
    assertThat(ShellSyntax.SH.line(Variable.of("X", "it's"))).isEqualTo("export X='it'\\''s'");
    assertThat(ShellSyntax.SH.line(Variable.of("X", "$HOME"))).isEqualTo("export X='$HOME'");
    assertThat(ShellSyntax.SH.line(Variable.of("X", "~/a"))).isEqualTo("export X='~/a'");
  }

  @Test
  void shExpandsOnlyTheReferenceAndAppendsToANonEmptyValue() {
    Variable all = new Variable("ALL_PROXY", List.of(new Text("socks5h://agent:"), new Reference("SOCKS_PW"),
        new Text("@127.0.0.1:8081")), false);
    Variable options = new Variable("JAVA_TOOL_OPTIONS", List.of(new Text("-Da=1 -Db=2")), true);

    assertThat(ShellSyntax.SH.line(all)).isEqualTo("export ALL_PROXY=socks5h://agent:\"${SOCKS_PW}\"@127.0.0.1:8081");
    assertThat(ShellSyntax.SH.line(options))
        .isEqualTo("export JAVA_TOOL_OPTIONS=\"${JAVA_TOOL_OPTIONS:+$JAVA_TOOL_OPTIONS }\"'-Da=1 -Db=2'");
  }

  // ---- sh and bash: evaluated ----

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"/bin/sh", "/bin/bash"})
  void evaluatedOutputIsExactlyTheChildEnvironment(String shell) throws Exception {
    ClientTrust trust = new ClientTrust(Path.of("/tmp", "bundle " + AWKWARD + ".pem"), Path.of("/tmp/store 'x'.p12"),
        Path.of("/tmp", "ca " + AWKWARD + ".pem"));
    List<Variable> variables = ClientEnvironment.variables(http, socks, null, true, trust);

    Map<String, String> evaluated = evaluate(shell, ShellSyntax.SH.render(variables), Map.of());

    assertThat(evaluated).containsExactlyInAnyOrderEntriesOf(
        ClientEnvironment.forChild(http, socks, null, true, null, trust));
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"/bin/sh", "/bin/bash"})
  void evaluatedOutputKeepsTheShellsJavaToolOptionsLikeRunDoes(String shell) throws Exception {
    String existing = "-Xmx1g '-Dsaid=it''s' " + AWKWARD;
    List<Variable> variables = ClientEnvironment.variables(http, null, null, false, null);

    Map<String, String> evaluated = evaluate(shell, ShellSyntax.SH.render(variables),
        Map.of("JAVA_TOOL_OPTIONS", existing));

    Map<String, String> child = ClientEnvironment.forChild(http, null, null, false, existing, null);
    assertThat(evaluated).containsExactlyInAnyOrderEntriesOf(child);
    assertThat(evaluated.get("JAVA_TOOL_OPTIONS")).startsWith(existing + " -Dhttp.proxyHost=127.0.0.1");
  }

  @ParameterizedTest(name = "JAVA_TOOL_OPTIONS=\"{0}\"")
  @ValueSource(strings = {"", "-Xmx1g"})
  void evaluatedJavaToolOptionsHasNoStraySpace(String existing) throws Exception {
    Map<String, String> start = existing.isEmpty() ? Map.of() : Map.of("JAVA_TOOL_OPTIONS", existing);

    Map<String, String> evaluated = evaluate("/bin/sh",
        ShellSyntax.SH.render(ClientEnvironment.variables(http, null, null, false, null)), start);

    assertThat(evaluated.get("JAVA_TOOL_OPTIONS"))
        .isEqualTo(ClientEnvironment.forChild(http, null, null, false, existing, null).get("JAVA_TOOL_OPTIONS"))
        .startsWith(existing.isEmpty() ? "-Dhttp.proxyHost=" : "-Xmx1g -Dhttp.proxyHost=");
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"/bin/sh", "/bin/bash"})
  void socksPasswordComesFromItsVariableWhenEvaluatedAndIsNeverPrinted(String shell) throws Exception {
    List<Variable> variables = ClientEnvironment.variables(http, socks,
        List.of(new Text("agent:"), new Reference("EGRESSD_SOCKS_PW")), false, null);
    String printed = ShellSyntax.SH.render(variables);

    Map<String, String> evaluated = evaluate(shell, printed, Map.of("EGRESSD_SOCKS_PW", "s3cret-pw"));

    assertThat(printed).doesNotContain("s3cret-pw");
    Map<String, String> expected = new HashMap<>(ClientEnvironment.forChild(http, socks,
        ClientEnvironment.userInfo("agent", "s3cret-pw"), false, null, null));
    expected.put("EGRESSD_SOCKS_PW", "s3cret-pw");
    assertThat(evaluated).containsExactlyInAnyOrderEntriesOf(expected)
        .containsEntry("ALL_PROXY", "socks5h://agent:s3cret-pw@127.0.0.1:8081");
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"/bin/sh", "/bin/bash"})
  void awkwardTextSurvivesEvaluationAndRunsNothing(String shell) throws Exception {
    Path marker = dir.resolve("ran");
    String injection = "'; touch " + marker + "; '\"$(touch " + marker + ")`touch " + marker + "`";
    List<Variable> variables = List.of(Variable.of("A", AWKWARD), Variable.of("B", injection), Variable.of("C", ""),
        Variable.of("D", "\u00e9t\u00e9 \u2603"), Variable.of("E", "'"), Variable.of("F", "\\"));

    Map<String, String> evaluated = evaluate(shell, ShellSyntax.SH.render(variables), Map.of());

    Map<String, String> expected = new LinkedHashMap<>();
    variables.forEach(v -> expected.put(v.name(), v.text()));
    assertThat(evaluated).containsExactlyInAnyOrderEntriesOf(expected);
    assertThat(marker).doesNotExist();
  }

  // ---- fish ----

  @Test
  void fishSetsGlobalExportsInSingleQuotesWithBackslashEscapes() {
    assertThat(ShellSyntax.FISH.line(Variable.of("HTTP_PROXY", "http://127.0.0.1:3128")))
        .isEqualTo("set -gx HTTP_PROXY 'http://127.0.0.1:3128'");
    assertThat(ShellSyntax.FISH.line(Variable.of("NO_PROXY", ""))).isEqualTo("set -gx NO_PROXY ''");
    assertThat(ShellSyntax.FISH.line(Variable.of("X", "it's a\\b $HOME (id) *"))).isEqualTo(
        "set -gx X 'it\\'s a\\\\b $HOME (id) *'");
  }

  @Test
  void fishExpandsOnlyTheReferenceAndJoinsAppendedOptions() {
    Variable all = new Variable("ALL_PROXY", List.of(new Text("socks5h://agent:"), new Reference("SOCKS_PW"),
        new Text("@127.0.0.1:8081")), false);
    Variable options = new Variable("JAVA_TOOL_OPTIONS", List.of(new Text("-Da=1 -Db='x'")), true);

    assertThat(ShellSyntax.FISH.line(all))
        .isEqualTo("set -gx ALL_PROXY 'socks5h://agent:'\"$SOCKS_PW\"'@127.0.0.1:8081'");
    assertThat(ShellSyntax.FISH.line(options))
        .isEqualTo("set -gx JAVA_TOOL_OPTIONS (string join -- ' ' $JAVA_TOOL_OPTIONS '-Da=1 -Db=\\'x\\'')");
  }

  // ---- PowerShell ----

  @Test
  void powershellDoublesEverySingleQuoteCharacter() {
    assertThat(ShellSyntax.POWERSHELL.line(Variable.of("HTTP_PROXY", "http://127.0.0.1:3128")))
        .isEqualTo("$env:HTTP_PROXY = 'http://127.0.0.1:3128'");
    assertThat(ShellSyntax.POWERSHELL.line(Variable.of("NO_PROXY", ""))).isEqualTo("$env:NO_PROXY = ''");
    assertThat(ShellSyntax.POWERSHELL.line(Variable.of("X", "it's $HOME `n \u2018a\u2019 \u201Ab\u201B \"q\"")))
        .isEqualTo("$env:X = 'it''s $HOME `n \u2018\u2018a\u2019\u2019 \u201A\u201Ab\u201B\u201B \"q\"'");
  }

  @Test
  void powershellConcatenatesReferencesAndAppendsWithTrimStart() {
    Variable all = new Variable("ALL_PROXY", List.of(new Text("socks5h://agent:"), new Reference("SOCKS_PW"),
        new Text("@127.0.0.1:8081")), false);
    Variable leading = new Variable("X", List.of(new Text(""), new Reference("A"), new Text("b")), false);
    Variable options = new Variable("JAVA_TOOL_OPTIONS", List.of(new Text("-Da=1 -Db='x'")), true);

    assertThat(ShellSyntax.POWERSHELL.line(all))
        .isEqualTo("$env:ALL_PROXY = 'socks5h://agent:' + $env:SOCKS_PW + '@127.0.0.1:8081'");
    assertThat(ShellSyntax.POWERSHELL.line(leading)).isEqualTo("$env:X = '' + $env:A + 'b'");
    assertThat(ShellSyntax.POWERSHELL.line(options))
        .isEqualTo("$env:JAVA_TOOL_OPTIONS = (\"$env:JAVA_TOOL_OPTIONS \" + '-Da=1 -Db=''x''').TrimStart()");
  }

  // ---- dotenv ----

  @Test
  void dotenvWritesSafeTextBareAndDoubleQuotesTheRest() {
    assertThat(ShellSyntax.DOTENV.line(Variable.of("HTTP_PROXY", "http://127.0.0.1:3128")))
        .isEqualTo("HTTP_PROXY=http://127.0.0.1:3128");
    assertThat(ShellSyntax.DOTENV.line(Variable.of("NO_PROXY", ""))).isEqualTo("NO_PROXY=\"\"");
    assertThat(ShellSyntax.DOTENV.line(Variable.of("X", "a \"b\" c:\\d #e 'f'\ng")))
        .isEqualTo("X=\"a \\\"b\\\" c:\\\\d #e 'f'\\ng\"");
  }

  @Test
  void dotenvWritesReferencesForInterpolationAndNeverAppends() {
    Variable all = new Variable("ALL_PROXY", List.of(new Text("socks5h://agent:"), new Reference("SOCKS_PW"),
        new Text("@127.0.0.1:8081")), false);
    Variable options = new Variable("JAVA_TOOL_OPTIONS", List.of(new Text("-Da=1 -Db=2")), true);

    assertThat(ShellSyntax.DOTENV.line(all)).isEqualTo("ALL_PROXY=\"socks5h://agent:${SOCKS_PW}@127.0.0.1:8081\"");
    assertThat(ShellSyntax.DOTENV.line(options)).isEqualTo("JAVA_TOOL_OPTIONS=\"-Da=1 -Db=2\"");
  }

  @Test
  void dotenvRefusesADollarSignItCannotWritePortably() {
    assertThatThrownBy(() -> ShellSyntax.DOTENV.line(Variable.of("SSL_CERT_FILE", "/home/$me/ca.pem")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("SSL_CERT_FILE: /home/$me/ca.pem (expected: no '$'");
  }

  // ---- every syntax ----

  @Test
  void socksUrlWithCredentialsIsOneTextAReferenceAndOneText() {
    Variable all = ClientEnvironment.variables(http, socks, List.of(new Text("agent%20x:"),
        new Reference("EGRESSD_SOCKS_PW")), false, null).stream().filter(v -> v.name().equals("ALL_PROXY"))
        .findFirst().orElseThrow();

    assertThat(ShellSyntax.SH.line(all))
        .isEqualTo("export ALL_PROXY=socks5h://agent%20x:\"${EGRESSD_SOCKS_PW}\"@127.0.0.1:8081");
    assertThat(ShellSyntax.FISH.line(all))
        .isEqualTo("set -gx ALL_PROXY 'socks5h://agent%20x:'\"$EGRESSD_SOCKS_PW\"'@127.0.0.1:8081'");
    assertThat(ShellSyntax.POWERSHELL.line(all))
        .isEqualTo("$env:ALL_PROXY = 'socks5h://agent%20x:' + $env:EGRESSD_SOCKS_PW + '@127.0.0.1:8081'");
    assertThat(ShellSyntax.DOTENV.line(all))
        .isEqualTo("ALL_PROXY=\"socks5h://agent%20x:${EGRESSD_SOCKS_PW}@127.0.0.1:8081\"");
  }

  @Test
  void renderWritesOneLinePerVariableInOrder() {
    List<Variable> variables = ClientEnvironment.variables(http, socks, null, false, null);

    for (ShellSyntax syntax : ShellSyntax.values()) {
      String output = syntax.render(variables);
      assertThat(output).as("%s", syntax).endsWith("\n");
      assertThat(output.lines()).as("%s", syntax).hasSameSizeAs(variables);
      for (int i = 0; i < variables.size(); i++) {
        assertThat(output.lines().toList().get(i)).as("%s", syntax).contains(variables.get(i).name());
      }
    }
  }

  /**
   * Runs {@code shell -c 'eval "$1"; exec env -0' sh OUTPUT} in an environment holding only PATH and {@code start},
   * and returns the environment it ends with, minus the variables the shell sets itself.
   */
  private Map<String, String> evaluate(String shell, String output, Map<String, String> start)
      throws IOException, InterruptedException {
    Path script = Files.writeString(dir.resolve("env.out"), output);
    ProcessBuilder builder = new ProcessBuilder(shell, "-c", "eval \"$(cat \"$1\")\" && exec env -0", "sh",
        script.toString());
    builder.environment().clear();
    builder.environment().put("PATH", "/usr/bin:/bin");
    builder.environment().putAll(start);
    builder.directory(dir.toFile());
    Process process = builder.start();
    process.getOutputStream().close();
    byte[] out = process.getInputStream().readAllBytes();
    String err = new String(process.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(process.exitValue()).as("%s evaluating:\n%s\nstderr:\n%s", shell, output, err).isZero();
    assertThat(err).as("%s stderr", shell).isEmpty();
    Map<String, String> env = new HashMap<>();
    for (String entry : new String(out, StandardCharsets.UTF_8).split("\0")) {
      int eq = entry.indexOf('=');
      if (eq > 0 && !SHELL_OWN.contains(entry.substring(0, eq))) {
        env.put(entry.substring(0, eq), entry.substring(eq + 1));
      }
    }
    return env;
  }
}
