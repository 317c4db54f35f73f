package dev.egressd.it;

import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** How the tests start the real daemon jar: the same JVM, the test hosts file, paranoid leak detection. */
final class Egressd {
  private static Path hostsFile;

  private Egressd() {}

  /** The jar under test, from {@code -Degressd.jar} (set by failsafe). */
  static Path jar() {
    String property = System.getProperty("egressd.jar");
    if (property == null || !Files.isRegularFile(Path.of(property))) {
      return fail("egressd jar not found (egressd.jar=%s); build it with: mvn -B -DskipTests -pl daemon -am install",
          property);
    }
    return Path.of(property);
  }

  /**
   * The hosts file every process uses instead of DNS: the one the test JVM was started with, or else the test
   * resource copied to a temporary file.
   */
  static synchronized Path hostsFile() {
    if (hostsFile == null) {
      String property = System.getProperty("jdk.net.hosts.file");
      if (property != null && Files.isRegularFile(Path.of(property))) {
        hostsFile = Path.of(property);
      } else {
        try (InputStream in = Egressd.class.getResourceAsStream("/egressd-it.hosts")) {
          Path copy = Files.createTempFile("egressd-it", ".hosts");
          Files.write(copy, in.readAllBytes());
          copy.toFile().deleteOnExit();
          hostsFile = copy;
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      }
    }
    return hostsFile;
  }

  /** {@code java ... -jar egressd.jar ARGS}, resolving names through the test hosts file. */
  static List<String> command(List<String> args) {
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.add("-Djdk.net.hosts.file=" + hostsFile());
    command.add("-Dio.netty.leakDetection.level=paranoid");
    // A small heap: a proxy that buffered whole bodies would run out of memory in the streaming tests.
    command.add("-Xmx96m");
    command.add("-XX:+UseSerialGC");
    command.add("-jar");
    command.add(jar().toString());
    command.addAll(args);
    return command;
  }

  /** Runs a one-shot CLI command (check, validate, --version, run -- CMD) and returns how it ended. */
  static ProcessResult cli(Map<String, String> environment, String... args) {
    return Processes.run(command(List.of(args)), environment, null, Duration.ofSeconds(60));
  }

  /** Runs a one-shot CLI command with an empty CODEX_HOME, so no user configuration can leak in. */
  static ProcessResult cli(Path emptyCodexHome, String... args) {
    return cli(Map.of("CODEX_HOME", emptyCodexHome.toString(), "HOME", emptyCodexHome.toString()), args);
  }
}
