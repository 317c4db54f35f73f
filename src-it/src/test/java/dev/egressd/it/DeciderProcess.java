package dev.egressd.it;

import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The example decider ({@code examples/decider.py}) as a process: on a free loopback port or a Unix socket, with a
 * rules file, optionally misbehaving. What it printed on stderr is one line per decision it made.
 */
final class DeciderProcess implements AutoCloseable {
  private final ChildProcess child;
  private final String where;
  private final Path directory;

  private DeciderProcess(ChildProcess child, String where, Path directory) {
    this.child = child;
    this.where = where;
    this.directory = directory;
  }

  /**
   * Starts the decider.
   *
   * @param rules the rules file's JSON
   * @param unixSocket listen on a socket in a new temporary directory instead of a loopback port
   * @param extra more arguments ({@code --misbehave slow}, {@code --token-env NAME})
   * @param environment extra environment (the token)
   */
  static DeciderProcess start(String rules, boolean unixSocket, List<String> extra, Map<String, String> environment)
      throws IOException, InterruptedException {
    Path directory = Files.createTempDirectory("egressd-it-decider");
    Path rulesFile = Files.writeString(directory.resolve("rules.json"), rules);
    List<String> command = new ArrayList<>(List.of("python3", DeploymentFiles.file("examples/decider.py").toString(),
        "--rules", rulesFile.toString()));
    command.addAll(unixSocket ? List.of("--unix", directory.resolve("decider.sock").toString())
        : List.of("--listen", "127.0.0.1:0"));
    command.addAll(extra);
    ProcessBuilder builder = new ProcessBuilder(command);
    Processes.clean(builder.environment());
    builder.environment().putAll(environment);
    ChildProcess child = ChildProcess.start(builder, "decider");
    Optional<String> line = child.stdout().await(0, l -> l.startsWith("listening on "), Duration.ofSeconds(20));
    if (line.isEmpty()) {
      child.process().destroyForcibly();
      fail("the example decider did not start\n--- stderr ---\n%s", child.stderr().text());
    }
    return new DeciderProcess(child, line.get().substring("listening on ".length()), directory);
  }

  /** A decider on a loopback port that answers from {@code rules}. */
  static DeciderProcess start(String rules, String... extra) throws IOException, InterruptedException {
    return start(rules, false, List.of(extra), Map.of());
  }

  /** The {@code [network.decider]} table that points egressd at this decider. */
  String configTable(String... extraLines) {
    StringBuilder table = new StringBuilder("[network.decider]\n");
    if (where.startsWith("/")) {
      table.append("unix_socket = \"").append(where).append("\"\npath = \"/decide\"\n");
    } else {
      table.append("url = \"http://").append(where).append("/decide\"\n");
    }
    for (String line : extraLines) {
      table.append(line).append('\n');
    }
    return table.toString();
  }

  /** The lines the decider printed, one per decision ({@code decider: PROTOCOL HOST:PORT -> VERDICT}). */
  List<String> decisions() {
    return child.stderr().lines().stream().filter(l -> l.startsWith("decider: ") && l.contains(" -> ")).toList();
  }

  /** Whether the process is still running (a crashing decider is not). */
  boolean alive() {
    return child.process().isAlive();
  }

  /** Rewrites the rules file; the decider reads it on every request. */
  void rules(String json) throws IOException {
    Path next = directory.resolve("rules.json.next");
    Files.writeString(next, json);
    Files.move(next, directory.resolve("rules.json"), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
  }

  @Override
  public void close() throws Exception {
    child.process().destroy();
    child.process().waitFor();
    try (var paths = Files.walk(directory)) {
      paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }
}
