package dev.egressd.it;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code ./egressd} launcher runs the daemon on the parallel collector (chosen by measurement, see
 * docs/performance.md), unless {@code EGRESSD_JAVA_OPTS} names another: two collectors would stop the JVM from
 * starting. The running JVM's own flags are read with {@code jcmd}, from a child of {@code run -- CMD}.
 */
@Timeout(value = 120, unit = SECONDS)
class LauncherGcIT {
  @TempDir Path home;

  private ProcessResult runLauncher(String javaOpts) {
    String launcher = DeploymentFiles.root().resolve("egressd").toString();
    return Processes.run(List.of(launcher, "run", "--listen", "127.0.0.1:0", "--socks-listen", "127.0.0.1:0",
        "--shutdown-grace", "0", "--", "sh", "-c", "jcmd $PPID VM.flags"),
        Map.of("EGRESSD_JAVA_OPTS", javaOpts, "HOME", home.toString(), "CODEX_HOME", home.toString(),
            "EGRESSD_HOME", home.resolve("egressd").toString()),
        null, Duration.ofSeconds(100));
  }

  @Test
  void theDaemonRunsOnTheParallelCollector() {
    ProcessResult result = runLauncher("");

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(result.stdout()).contains("-XX:+UseParallelGC").doesNotContain("-XX:+UseG1GC");
  }

  @Test
  void aCollectorInEgressdJavaOptsReplacesIt() {
    ProcessResult result = runLauncher("-XX:+UseG1GC");

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(result.stdout()).contains("-XX:+UseG1GC").doesNotContain("-XX:+UseParallelGC");
  }
}
