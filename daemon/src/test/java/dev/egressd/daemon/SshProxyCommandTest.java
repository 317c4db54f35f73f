package dev.egressd.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The ssh ProxyCommand's arguments, and the GIT_SSH_COMMAND that names it. */
class SshProxyCommandTest {
  @RegisterExtension
  final StandardStreams streams = new StandardStreams();

  @Test
  void socksUrlWithCredentialsIsAccepted() {
    URI uri = SshProxyCommand.socksUri("socks5h://agent:p%40ss@127.0.0.1:8081");

    assertThat(uri.getHost()).isEqualTo("127.0.0.1");
    assertThat(uri.getPort()).isEqualTo(8081);
    assertThat(uri.getRawUserInfo()).isEqualTo("agent:p%40ss");
  }

  @ParameterizedTest(name = "\"{0}\"")
  @ValueSource(strings = {"http://127.0.0.1:3128", "socks4://127.0.0.1:1080", "socks5h://127.0.0.1", "127.0.0.1:1080",
      " "})
  void anythingButASocks5UrlWithAPortIsAUsageError(String value) {
    assertThatThrownBy(() -> SshProxyCommand.socksUri(value)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("socks5h://host:port");
  }

  @Test
  void credentialsAreNotRepeatedInTheError() {
    assertThatThrownBy(() -> SshProxyCommand.socksUri("http://agent:secret@127.0.0.1:1080"))
        .hasMessageNotContaining("secret").hasMessageContaining("***@");
  }

  @Test
  void withoutAnyProxyItSaysWhatToSetAndExits2() throws Exception {
    SshProxyCommand command = new SshProxyCommand(Map.of());
    command.host = "example.com";
    command.port = 22;

    assertThat(command.call()).isEqualTo(2);
    assertThat(streams.err()).contains("set ALL_PROXY=socks5h://host:port");
  }

  @Test
  void refusedConnectionExits1WithThePolicyHint() throws Exception {
    // A closed port: the SOCKS5 connection itself fails, which the command reports like a refusal.
    SshProxyCommand command = new SshProxyCommand(Map.of("ALL_PROXY", "socks5h://127.0.0.1:1"));
    command.host = "example.com";
    command.port = 22;

    assertThat(command.call()).isEqualTo(1);
    assertThat(streams.err()).contains("egressd ssh-proxy: example.com:22 was not connected through egressd");
  }

  @Test
  void gitSshCommandQuotesTheProxyCommandForBothShells() throws Exception {
    String command = ClientEnvironment.gitSshCommand("'/opt/my jdk/bin/java' -jar '/opt/egressd.jar'");

    assertThat(command).startsWith("ssh -o ");
    // What sh -c makes of it is ssh's argument list; the ProxyCommand keeps its own quoting for ssh's shell.
    List<String> words = shWords(command);
    assertThat(words).containsExactly("ssh", "-o",
        "ProxyCommand='/opt/my jdk/bin/java' -jar '/opt/egressd.jar' ssh-proxy %h %p");
  }

  /** The words {@code sh} makes of {@code command}, as git's {@code sh -c "$GIT_SSH_COMMAND ..."} does. */
  private static List<String> shWords(String command) throws Exception {
    Process sh = new ProcessBuilder("/bin/sh", "-c", "set -- " + command + "; printf '%s\\n' \"$@\"")
        .redirectErrorStream(true).start();
    String out = new String(sh.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    assertThat(sh.waitFor()).as(out).isZero();
    return out.lines().toList();
  }

  @Test
  void invocationStartsThisEgressd() {
    assertThat(SshProxyCommand.invocation()).contains("java").contains("-XX:TieredStopAtLevel=1")
        .containsAnyOf(" -jar ", " dev.egressd.daemon.Main");
  }
}
