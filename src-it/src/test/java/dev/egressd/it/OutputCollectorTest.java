package dev.egressd.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

/** The harness keeps every line a child prints right up to its exit, which shutdown tests depend on. */
class OutputCollectorTest {
  private static final int LINES = 3000;
  private static final String PRINT_LINES = "i=0; while [ $i -lt " + LINES + " ]; do echo out-$i; echo err-$i >&2;"
      + " i=$((i+1)); done;";

  @RepeatedTest(3)
  void linesPrintedWhileStoppingSurviveProcessDestroy() throws Exception {
    // Process.destroy() closes the child's pipes at once; a daemon's shutdown lines used to be lost to that.
    ProcessBuilder builder = new ProcessBuilder("sh", "-c",
        "trap '" + PRINT_LINES + " exit 0' TERM; echo ready; while :; do sleep 0.05; done");
    ChildProcess child = ChildProcess.start(builder, "sh");
    Process process = child.process();
    OutputCollector out = child.stdout();
    OutputCollector err = child.stderr();
    assertThat(out.await(0, "ready"::equals, Duration.ofSeconds(10))).isPresent();

    process.destroy();
    assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
    out.awaitEnd(Duration.ofSeconds(10));
    err.awaitEnd(Duration.ofSeconds(10));

    assertThat(out.lines()).hasSize(LINES + 1).endsWith("out-" + (LINES - 1));
    assertThat(err.lines()).hasSize(LINES).endsWith("err-" + (LINES - 1));
  }

  @Test
  void aLastLineWithoutNewlineAndCrlfEndingsAreCollected() {
    String script = PRINT_LINES + " printf 'out-last'; printf 'err-last\\r\\n' >&2";

    ProcessResult result = Processes.run(List.of("sh", "-c", script), Map.of(), null, Duration.ofSeconds(30));

    assertThat(result.exitCode()).isZero();
    assertThat(result.stdout().lines().toList()).hasSize(LINES + 1).startsWith("out-0")
        .endsWith("out-" + (LINES - 1), "out-last");
    assertThat(result.stderr().lines().toList()).hasSize(LINES + 1).endsWith("err-" + (LINES - 1), "err-last");
  }
}
