package dev.egressd.it;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** {@code git clone} over git's dumb HTTP protocol (static files) through the proxy, plain and via CONNECT. */
@Timeout(value = 120, unit = SECONDS)
class GitIT {
  private static final String CONFIG = """
      [network]
      allowed_domains = ["allowed.test", "127.0.0.1"]
      denied_domains = ["denied.test"]
      """;
  private static final String README = "cloned through egressd\n";

  @RegisterExtension
  static final OriginServer http = OriginServer.http();

  @RegisterExtension
  static final OriginServer https = OriginServer.https();

  @RegisterExtension
  static final Daemon egressd = Daemon.withConfig(CONFIG);

  @TempDir
  static Path dir;

  static Path bare;

  @TempDir
  Path clones;

  @BeforeAll
  static void createRepository() throws IOException {
    Path work = Files.createDirectories(dir.resolve("work"));
    bare = dir.resolve("repo.git");
    git(dir, "init", "--bare", "--initial-branch=main", bare.toString());
    git(work, "init", "--initial-branch=main");
    Files.writeString(work.resolve("README"), README);
    git(work, "add", "README");
    git(work, "commit", "-m", "first");
    git(work, "push", bare.toString(), "main");
    git(bare, "update-server-info");
  }

  @BeforeEach
  void serveRepository() {
    http.respond("/repo.git", new OriginResponse.Files("/repo.git", bare));
    https.respond("/repo.git", new OriginResponse.Files("/repo.git", bare));
  }

  @Test
  void cloneFromAnAllowedHostSucceeds() throws IOException {
    Path target = clones.resolve("clone");

    ProcessResult clone = git(clones, false, "-c", "http.proxy=" + egressd.url(), "clone",
        http.url("allowed.test", "/repo.git"), target.toString());

    assertThat(clone.exitCode()).as("%s", clone).isZero();
    assertThat(Files.readString(target.resolve("README"))).isEqualTo(README);
    assertThat(http.requests()).extracting(RecordedRequest::target)
        .contains("/repo.git/info/refs?service=git-upload-pack");
  }

  @Test
  void cloneOverTlsThroughATunnelSucceeds() throws IOException {
    Path target = clones.resolve("tls-clone");

    ProcessResult clone = git(clones, false, "-c", "http.proxy=" + egressd.url(),
        "-c", "http.sslCAInfo=" + TestCertificates.get().caPem(), "clone",
        https.url("allowed.test", "/repo.git"), target.toString());

    assertThat(clone.exitCode()).as("%s", clone).isZero();
    assertThat(Files.readString(target.resolve("README"))).isEqualTo(README);
  }

  @Test
  void cloneFromADeniedHostFailsWithoutContactingIt() {
    ProcessResult clone = git(clones, false, "-c", "http.proxy=" + egressd.url(), "clone",
        http.url("denied.test", "/repo.git"), clones.resolve("denied").toString());

    assertThat(clone.exitCode()).as("%s", clone).isNotZero();
    assertThat(clone.stderr()).contains("403");
    assertThat(http.connectionCount()).isZero();
  }

  @Test
  void tlsCloneFromADeniedHostFailsWithoutContactingIt() {
    ProcessResult clone = git(clones, false, "-c", "http.proxy=" + egressd.url(),
        "-c", "http.sslCAInfo=" + TestCertificates.get().caPem(), "clone",
        https.url("denied.test", "/repo.git"), clones.resolve("denied-tls").toString());

    assertThat(clone.exitCode()).as("%s", clone).isNotZero();
    assertThat(clone.stderr()).contains("403");
    assertThat(https.connectionCount()).isZero();
  }

  private static void git(Path directory, String... args) {
    ProcessResult result = git(directory, true, args);
    assertThat(result.exitCode()).as("git %s\n%s", List.of(args), result).isZero();
  }

  private static ProcessResult git(Path directory, boolean local, String... args) {
    List<String> command = new ArrayList<>(List.of("git"));
    command.addAll(List.of(args));
    Path home = dir.resolve("home");
    home.toFile().mkdirs();
    return Processes.run(command, Map.of(
        "HOME", home.toString(),
        "GIT_CONFIG_NOSYSTEM", "1",
        "GIT_TERMINAL_PROMPT", "0",
        "GIT_AUTHOR_NAME", "egressd-it", "GIT_AUTHOR_EMAIL", "it@allowed.test",
        "GIT_COMMITTER_NAME", "egressd-it", "GIT_COMMITTER_EMAIL", "it@allowed.test"),
        directory, Duration.ofSeconds(local ? 30 : 60));
  }
}
