package dev.egressd.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The docker CLI, run as a child process: what {@link ContainerImageIT} drives, so that every step is a command a
 * reader can repeat by hand. The legacy builder is asked for explicitly ({@code DOCKER_BUILDKIT=0}), since a CLI
 * without the buildx plugin has nothing else.
 */
final class DockerCli {
  private static final Map<String, String> ENVIRONMENT = Map.of("DOCKER_BUILDKIT", "0");

  private DockerCli() {}

  /** Fails the test, with what to do, when no engine answers: ./scripts/test installs and starts one. */
  static void requireEngine() {
    ProcessResult info = run(Duration.ofSeconds(30), "info", "--format", "{{.ServerVersion}}");
    assertThat(info.exitCode()).as("a Docker engine must answer `docker info` (./scripts/test installs docker.io"
        + " and starts dockerd when none does): %s", info).isZero();
  }

  /** Runs {@code docker ARGS} and returns how it ended, whatever that was. */
  static ProcessResult run(Duration timeout, String... args) {
    List<String> command = new ArrayList<>();
    command.add(Processes.executable("docker"));
    command.addAll(List.of(args));
    return Processes.run(command, ENVIRONMENT, null, timeout);
  }

  /** Runs {@code docker ARGS}, fails the test unless it exits 0, and returns its standard output, stripped. */
  static String check(Duration timeout, String... args) {
    ProcessResult result = run(timeout, args);
    assertThat(result.exitCode()).as("docker %s: %s", String.join(" ", args), result).isZero();
    return result.stdout().strip();
  }

  /** {@link #check} with a one-minute deadline: every step but the image build. */
  static String check(String... args) {
    return check(Duration.ofMinutes(1), args);
  }
}
