package dev.egressd.it;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
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
 * starting. It sizes the heap for a sidecar (16 MiB to start, at most 256 MiB, a young generation of 8 to 16 MiB)
 * trims the C heap every 5 s and has Netty allocate unpooled buffers; {@code EGRESSD_JAVA_OPTS} overrides any of it. The running JVM's own flags are
 * read with {@code jcmd}, from a child of {@code run -- CMD}.
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

  @Test
  void theDaemonsHeapIsSizedForASidecarAndItsCHeapTrimmed() {
    ProcessResult result = runLauncher("");

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(result.stdout()).contains("-XX:InitialHeapSize=16777216", "-XX:MaxHeapSize=268435456",
        "-XX:NewSize=8388608", "-XX:MaxNewSize=16777216", "-XX:TrimNativeHeapInterval=5000");
  }

  /**
   * Netty's own start-up report (its debug lines, switched on by a logback file): the unpooled allocator, and direct
   * buffers made without a Cleaner or zeroing, which needs the jar manifest's {@code Add-Opens}.
   */
  @Test
  void nettyBuffersAreUnpooledAndCleanerFree() throws Exception {
    ProcessResult result = runLauncher("-Dlogback.configurationFile=" + nettyDebugLogging());

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(result.stderr()).contains("ByteBufUtil -Dio.netty.allocator.type: unpooled",
        "PlatformDependent0 java.nio.DirectByteBuffer.<init>(long, {int,long}): available");
  }

  @Test
  void anAllocatorInEgressdJavaOptsWins() throws Exception {
    ProcessResult result = runLauncher("-Dlogback.configurationFile=" + nettyDebugLogging()
        + " -Dio.netty.allocator.type=pooled");

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(result.stderr()).contains("ByteBufUtil -Dio.netty.allocator.type: pooled")
        .doesNotContain("allocator.type: unpooled");
  }

  private Path nettyDebugLogging() throws IOException {
    Path file = home.resolve("logback-netty.xml");
    Files.writeString(file, """
        <configuration>
          <appender name="err" class="ch.qos.logback.core.ConsoleAppender">
            <target>System.err</target><encoder><pattern>%logger{0} %msg%n</pattern></encoder>
          </appender>
          <logger name="io.netty.util.internal.PlatformDependent0" level="DEBUG"/>
          <logger name="io.netty.buffer.ByteBufUtil" level="DEBUG"/>
          <root level="WARN"><appender-ref ref="err"/></root>
        </configuration>
        """);
    return file;
  }

  @Test
  void heapFlagsInEgressdJavaOptsWin() {
    ProcessResult result = runLauncher("-Xmx512m -XX:MaxNewSize=64m");

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(result.stdout()).contains("-XX:MaxHeapSize=536870912", "-XX:MaxNewSize=67108864")
        .doesNotContain("-XX:MaxHeapSize=268435456");
  }
}
