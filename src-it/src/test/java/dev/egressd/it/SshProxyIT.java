package dev.egressd.it;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * ssh and git over ssh through the policy: {@code run -- CMD} sets {@code GIT_SSH_COMMAND} to ssh with
 * {@code egressd ssh-proxy} as its ProxyCommand, which goes through the SOCKS5 listener. A real sshd runs in a network
 * namespace this test creates, reached from a second namespace in which egressd and the client run:
 *
 * <pre>
 *  client namespace: egressd run -- ssh/git   10.201.x.1 ---- veth ---- 10.201.x.2 (allowed), 10.201.x.3 (unlisted)
 *                                                                       sshd :22 on both, a bare git repository
 * </pre>
 *
 * Nothing is created in the host's own namespace. Needs root; {@code EGRESSD_IT_SKIP_NETNS=1} skips it like the
 * other namespace tests.
 */
@Timeout(value = 120, unit = SECONDS)
class SshProxyIT {
  private static final int NET = 1 + ThreadLocalRandom.current().nextInt(250);
  private static final String CLIENT_ADDRESS = "10.201." + NET + ".1";
  private static final String ALLOWED = "10.201." + NET + ".2";
  private static final String UNLISTED = "10.201." + NET + ".3";
  private static final String ID = HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt()).substring(2);
  private static final String CLIENT = "egdssh-" + ID + "-client";
  private static final String SERVER = "egdssh-" + ID + "-sshd";
  private static final Duration TIMEOUT = Duration.ofSeconds(60);
  private static final String IP = Processes.executable("ip");
  private static final List<String> created = new ArrayList<>();

  @TempDir
  static Path dir;

  private static Process sshd;
  private static Path key;
  private static Path config;
  private static Path repository;

  @BeforeAll
  static void startSshd() throws Exception {
    org.junit.jupiter.api.Assumptions.assumeFalse("1".equals(System.getenv("EGRESSD_IT_SKIP_NETNS")),
        "EGRESSD_IT_SKIP_NETNS=1");
    assertThat(Files.getAttribute(Path.of("/proc/self"), "unix:uid")).as("SshProxyIT needs root for ip netns")
        .isEqualTo(0);
    for (String namespace : List.of(CLIENT, SERVER)) {
      ip("netns", "add", namespace);
      created.add(namespace);
      ip("-n", namespace, "link", "set", "lo", "up");
    }
    ip("-n", CLIENT, "link", "add", "sc" + ID, "type", "veth", "peer", "name", "ss" + ID, "netns", SERVER);
    ip("-n", CLIENT, "addr", "add", CLIENT_ADDRESS + "/24", "dev", "sc" + ID);
    ip("-n", CLIENT, "link", "set", "sc" + ID, "up");
    ip("-n", SERVER, "addr", "add", ALLOWED + "/24", "dev", "ss" + ID);
    ip("-n", SERVER, "addr", "add", UNLISTED + "/24", "dev", "ss" + ID);
    ip("-n", SERVER, "link", "set", "ss" + ID, "up");

    key = dir.resolve("id_ed25519");
    run(List.of("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key.toString()));
    Path hostKey = dir.resolve("host_ed25519");
    run(List.of("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey.toString()));
    Files.copy(dir.resolve("id_ed25519.pub"), dir.resolve("authorized_keys"));
    repository = dir.resolve("repo.git");
    run(List.of("git", "init", "-q", "--bare", repository.toString()));
    Path work = dir.resolve("work");
    run(List.of("git", "init", "-q", work.toString()));
    Files.writeString(work.resolve("README"), "served over ssh\n");
    run(List.of("git", "-C", work.toString(), "-c", "user.name=t", "-c", "user.email=t@t", "add", "README"));
    run(List.of("git", "-C", work.toString(), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m",
        "one"));
    run(List.of("git", "-C", work.toString(), "push", "-q", repository.toString(), "HEAD:refs/heads/main"));
    Path sshdConfig = Files.writeString(dir.resolve("sshd_config"), String.join("\n",
        "ListenAddress " + ALLOWED + ":22", "ListenAddress " + UNLISTED + ":22", "HostKey " + hostKey,
        "AuthorizedKeysFile " + dir.resolve("authorized_keys"), "PermitRootLogin prohibit-password",
        "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no", "StrictModes no",
        "PidFile " + dir.resolve("sshd.pid"), "") + "\n");
    Files.createDirectories(Path.of("/run/sshd")); // sshd's privilege separation directory, as its package makes it
    sshd = new ProcessBuilder(IP, "netns", "exec", SERVER, Processes.executable("sshd"), "-D", "-e", "-f",
        sshdConfig.toString())
        .redirectErrorStream(true).redirectOutput(dir.resolve("sshd.log").toFile()).start();
    config = Files.writeString(dir.resolve("egressd.toml"), """
        [network]
        allowed_domains = ["%s"]
        """.formatted(ALLOWED));
    awaitSshd();
  }

  @AfterAll
  static void stopSshd() throws InterruptedException {
    if (sshd != null) {
      Processes.destroy(sshd);
    }
    for (String namespace : List.copyOf(created)) {
      Processes.run(List.of(IP, "netns", "delete", namespace), Map.of(), null, TIMEOUT);
      created.remove(namespace);
    }
  }

  private static void awaitSshd() throws IOException, InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (System.nanoTime() < deadline) {
      if (Files.readString(dir.resolve("sshd.log")).contains("Server listening on " + UNLISTED)) {
        return;
      }
      Thread.sleep(100);
    }
    throw new AssertionError("sshd did not start:\n" + Files.readString(dir.resolve("sshd.log")));
  }

  /** {@code egressd run -- sh -c SCRIPT} in the client namespace; SCRIPT may use $GIT_SSH_COMMAND and $SSH_OPTS. */
  private static ProcessResult wrapped(String script) {
    List<String> command = new ArrayList<>(List.of(IP, "netns", "exec", CLIENT));
    command.addAll(Egressd.command(List.of("run", "--config", config.toString(), "--", "sh", "-c", script)));
    String sshOptions = "-i " + key + " -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
        + " -o LogLevel=ERROR";
    return Processes.run(command, Map.of("SSH_OPTS", sshOptions, "CODEX_HOME", dir.toString(), "HOME",
        dir.toString()), dir, TIMEOUT);
  }

  @Test
  void sshToAnAllowedHostGoesThroughTheSocksListener() {
    // Evaluated as shell code, as git does with GIT_SSH_COMMAND.
    ProcessResult result = wrapped("eval \"$GIT_SSH_COMMAND $SSH_OPTS root@" + ALLOWED + " echo reached-" + ID
        + "\"");

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(result.stdout()).isEqualTo("reached-" + ID + "\n");
    assertThat(result.stderr()).contains("decision=allow reason=allow", "protocol=socks5_tcp host=" + ALLOWED
        + " port=22");
  }

  @Test
  void gitOverSshListsTheRemoteThroughThePolicy() {
    ProcessResult result = wrapped("GIT_SSH_COMMAND=\"$GIT_SSH_COMMAND $SSH_OPTS\" git ls-remote ssh://root@"
        + ALLOWED + repository + " refs/heads/main");

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(result.stdout()).matches("[0-9a-f]{40}\trefs/heads/main\n");
    assertThat(result.stderr()).contains("protocol=socks5_tcp host=" + ALLOWED + " port=22");
  }

  @Test
  void sshToAnUnlistedHostIsRefusedWithThePolicyMessage() {
    ProcessResult result = wrapped("eval \"$GIT_SSH_COMMAND $SSH_OPTS root@" + UNLISTED + " echo reached-" + ID
        + "\"");

    assertThat(result.exitCode()).as("ssh exits 255 when its ProxyCommand fails\n%s", result).isEqualTo(255);
    assertThat(result.stdout()).isEmpty();
    assertThat(result.stderr()).contains("egressd ssh-proxy: " + UNLISTED + ":22 was not connected through egressd",
        "refused by the egress policy")
        .contains("decision=deny reason=not_allowed", "protocol=socks5_tcp host=" + UNLISTED + " port=22");
  }

  @Test
  void aUsersOwnGitSshCommandIsKept() {
    List<String> command = new ArrayList<>(List.of(IP, "netns", "exec", CLIENT));
    command.addAll(Egressd.command(List.of("run", "--config", config.toString(), "--", "sh", "-c",
        "echo \"$GIT_SSH_COMMAND\"")));
    ProcessResult result = Processes.run(command, Map.of("GIT_SSH_COMMAND", "ssh -F /dev/null", "CODEX_HOME",
        dir.toString()), dir, TIMEOUT);

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(result.stdout()).isEqualTo("ssh -F /dev/null\n");
    assertThat(result.stderr()).contains("keeping your GIT_SSH_COMMAND");
  }

  private static void ip(String... args) {
    List<String> command = new ArrayList<>(List.of(IP));
    command.addAll(Arrays.asList(args));
    run(command);
  }

  private static void run(List<String> command) {
    ProcessResult result = Processes.run(command, Map.of(), dir, TIMEOUT);
    assertThat(result.exitCode()).as("%s\n%s", String.join(" ", command), result).isZero();
  }
}
