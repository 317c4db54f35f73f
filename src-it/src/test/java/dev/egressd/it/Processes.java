package dev.egressd.it;

import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs child processes (curl, git, keytool, the egressd CLI) with a deadline, and never leaves one behind. */
final class Processes {
  /** Variables that would route a child's traffic somewhere other than where the test says, or change egressd. */
  private static final List<String> AMBIENT = List.of("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY",
      "http_proxy", "https_proxy", "all_proxy", "no_proxy", "EGRESSD_CONFIG", "CODEX_HOME", "JAVA_TOOL_OPTIONS",
      "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "CURL_HOME", "SSL_CERT_FILE", "CURL_CA_BUNDLE", "GIT_SSL_CAINFO",
      "EGRESSD_HOME", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS", "EGRESSD_LOG_FORMAT", "EGRESSD_LOG_LEVEL",
      "EGRESSD_CONVERSATION_ID", "EGRESSD_USER_ACCOUNT_ID");

  private Processes() {}

  /** Removes ambient proxy, egressd and OpenTelemetry settings from a child environment. */
  static void clean(Map<String, String> environment) {
    AMBIENT.forEach(environment::remove);
    environment.keySet().removeIf(name -> name.startsWith("OTEL_"));
  }

  /** Runs a command to completion (stdin closed) and returns its exit status and output. */
  static ProcessResult run(List<String> command, Map<String, String> environment, Path directory, Duration timeout) {
    ProcessBuilder builder = new ProcessBuilder(command);
    clean(builder.environment());
    builder.environment().putAll(environment);
    if (directory != null) {
      builder.directory(directory.toFile());
    }
    ChildProcess child;
    try {
      child = ChildProcess.start(builder, command.get(0));
    } catch (IOException e) {
      throw new IllegalStateException("cannot start " + command, e);
    }
    Process process = child.process();
    OutputCollector out = child.stdout();
    OutputCollector err = child.stderr();
    try {
      if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        destroy(process);
        return fail("timed out after %s: %s\n--- stdout ---\n%s--- stderr ---\n%s", timeout, command, out.text(),
            err.text());
      }
      out.awaitEnd(Duration.ofSeconds(5));
      err.awaitEnd(Duration.ofSeconds(5));
      return new ProcessResult(process.exitValue(), out.text(), err.text());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while running " + command, e);
    } finally {
      destroy(process);
    }
  }

  /** Kills a process and everything it started, and waits briefly for it to go. */
  static void destroy(Process process) {
    process.descendants().forEach(ProcessHandle::destroyForcibly);
    process.destroyForcibly();
    try {
      process.waitFor(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** The path of {@code name} on PATH or in the sbin directories (ip, sshd), or the bare name if none has it. */
  static String executable(String name) {
    List<String> directories = new java.util.ArrayList<>(List.of(System.getenv().getOrDefault("PATH", "")
        .split(java.io.File.pathSeparator)));
    directories.addAll(List.of("/usr/sbin", "/sbin", "/usr/bin", "/bin"));
    return directories.stream().filter(d -> !d.isEmpty()).map(d -> java.nio.file.Path.of(d, name))
        .filter(java.nio.file.Files::isExecutable).map(java.nio.file.Path::toString).findFirst().orElse(name);
  }
}
