package dev.egressd.it;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code run -- CMD} stays out of the way: the child's standard output is its own, byte for byte, and wrapped
 * commands listen on free ports unless something named them, so several run at once.
 */
@Timeout(value = 120, unit = SECONDS)
class WrapperIT {
  /** No proxy_url or socks_url: nothing names a port. */
  private static final String CONFIG = """
      [network]
      allowed_domains = ["allowed.test", "127.0.0.1"]
      """;

  @RegisterExtension
  static final OriginServer http = OriginServer.http();

  @TempDir
  static Path dir;

  static Path config;

  @BeforeAll
  static void writeConfig() throws IOException {
    config = Files.writeString(dir.resolve("egressd.toml"), CONFIG);
  }

  /** Starts {@code egressd run --config CONFIG -- command}, its stdout and stderr going to files. */
  private static Process start(Path stdout, Path stderr, String... command) throws IOException {
    List<String> args = new ArrayList<>(List.of("run", "--config", config.toString(), "--"));
    args.addAll(List.of(command));
    ProcessBuilder builder = new ProcessBuilder(Egressd.command(args))
        .redirectOutput(stdout.toFile()).redirectError(stderr.toFile());
    Processes.clean(builder.environment());
    builder.environment().put("CODEX_HOME", dir.toString());
    return builder.start();
  }

  private static int await(Process process) throws InterruptedException {
    try {
      assertThat(process.waitFor(60, TimeUnit.SECONDS)).as("egressd run -- CMD finished").isTrue();
      return process.exitValue();
    } finally {
      Processes.destroy(process);
    }
  }

  @Test
  void binaryOutputOfTheChildPassesThroughUnchanged() throws Exception {
    byte[] binary = new byte[256 * 1024];
    new Random(20261206).nextBytes(binary);
    binary[0] = 0;
    binary[1] = '\r';
    binary[2] = '\n';
    Path file = Files.write(dir.resolve("binary.bin"), binary);
    Path out = dir.resolve("binary.out");
    Path err = dir.resolve("binary.err");

    int exit = await(start(out, err, "cat", file.toString()));

    assertThat(exit).as("stderr: %s", Files.readString(err)).isZero();
    assertThat(Files.readAllBytes(out)).as("standard output is the child's alone").isEqualTo(binary);
    assertThat(Files.readString(err)).contains("egressd: HTTP proxy listening on 127.0.0.1:", "export HTTP_PROXY=");
  }

  @Test
  void fiveWrappedCommandsRunAtOnceEachOnItsOwnPorts() throws Exception {
    List<Process> runs = new ArrayList<>();
    List<Path> outputs = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      Path out = dir.resolve("parallel-" + i + ".out");
      outputs.add(out);
      // Each child holds its daemon's ports for a while, so all five are up at the same time.
      runs.add(start(out, dir.resolve("parallel-" + i + ".err"), "sh", "-c",
          "echo \"$HTTP_PROXY $ALL_PROXY\"; curl -q -sS -f --max-time 20 " + http.url("allowed.test", "/p" + i)
              + " >/dev/null && sleep 3"));
    }
    for (int i = 0; i < 5; i++) {
      assertThat(await(runs.get(i))).as("run %d: %s", i, Files.readString(dir.resolve("parallel-" + i + ".err")))
          .isZero();
    }

    Set<String> proxies = new HashSet<>();
    for (Path out : outputs) {
      String line = Files.readString(out).trim();
      assertThat(line).matches("http://127\\.0\\.0\\.1:\\d+ socks5h://127\\.0\\.0\\.1:\\d+");
      assertThat(line).doesNotContain(":3128", ":8081");
      proxies.add(line);
    }
    assertThat(proxies).as("every run has its own ports").hasSize(5);
    assertThat(http.requestCount()).isEqualTo(5);
  }

  @Test
  void auditLinesToStandardOutputAreRefusedForAWrappedCommand() throws Exception {
    ProcessResult result = Egressd.cli(dir, "run", "--config", config.toString(), "--audit-file", "-", "--", "true");

    assertThat(result.exitCode()).isEqualTo(2);
    assertThat(result.stdout()).isEmpty();
    assertThat(result.stderr()).contains("--audit-file -: standard output belongs to true");
  }
}
