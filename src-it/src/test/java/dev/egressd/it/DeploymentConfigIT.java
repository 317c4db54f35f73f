package dev.egressd.it;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The deployment files against the real jar, without Docker: every config they ship passes {@code egressd validate},
 * and the image's HEALTHCHECK command (the Kubernetes probes are the same) reports healthy against a running daemon
 * and unhealthy otherwise.
 */
@Timeout(value = 60, unit = SECONDS)
class DeploymentConfigIT {
  /** The only warnings the shipped configs may cause: serving a network on purpose, or the image allowing nothing. */
  private static final List<String> EXPECTED_WARNINGS = List.of("DANGEROUS: listening on non-loopback address",
      "no allow rules in [network]; every destination is blocked");
  private static final String IMAGE_ADMIN = "/dev/tcp/127.0.0.1/9464";

  @RegisterExtension
  static final Daemon egressd = Daemon.withConfig("""
      [network]
      allowed_domains = ["allowed.test"]

      [admin]
      listen = "127.0.0.1:0"
      """);

  @TempDir
  Path dir;

  @ParameterizedTest(name = "{0}")
  @MethodSource("configs")
  void shippedConfigIsValid(String origin, String toml) throws IOException {
    Path file = Files.writeString(dir.resolve("egressd.toml"), toml);

    ProcessResult result = Egressd.cli(dir, "validate", "--config", file.toString());

    assertThat(result.exitCode()).as("%s: %s", origin, result).isZero();
    assertThat(result.stdout()).as(origin).contains("OK: [network]");
    assertThat(result.stdout().lines().filter(l -> l.startsWith("warning:")))
        .as("warnings for %s", origin)
        .allSatisfy(w -> assertThat(EXPECTED_WARNINGS).anyMatch(w::contains));
  }

  @Test
  void healthcheckReportsARunningDaemonHealthy() throws InterruptedException {
    ProcessResult result = probe(DeploymentFiles.healthcheckCommand(), egressd.adminPort());

    assertThat(result.exitCode()).as("%s", result).isZero();
  }

  @Test
  void readinessProbeReportsAnAcceptingDaemonReady() throws InterruptedException {
    Object command = DeploymentFiles.at(DeploymentFiles.containers(DeploymentFiles.podSpec(DeploymentFiles.object(
        "docker/k8s/gateway.yaml", "Deployment", "egressd-gateway"))).get("egressd"), "readinessProbe", "exec",
        "command");

    ProcessResult result = probe(DeploymentFiles.list(command, "readinessProbe").stream().map(String::valueOf)
        .toList(), egressd.adminPort());

    assertThat(result.exitCode()).as("%s", result).isZero();
  }

  @Test
  void healthcheckFailsWhenNothingListens() throws IOException {
    int closed;
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      closed = socket.getLocalPort();
    }

    ProcessResult result = probe(DeploymentFiles.healthcheckCommand(), closed);

    assertThat(result.exitCode()).as("%s", result).isNotZero();
  }

  @Test
  void healthcheckFailsWhenTheListenerIsNotAHealthyAdminListener() {
    // The HTTP proxy listener answers GET /healthz too, but not with 200 "ok": an open port alone is not health.
    ProcessResult result = probe(DeploymentFiles.healthcheckCommand(), egressd.port());

    assertThat(result.exitCode()).as("%s", result).isNotZero();
  }

  static Stream<Arguments> configs() {
    return DeploymentFiles.configs().entrySet().stream().map(e -> Arguments.of(e.getKey(), e.getValue()));
  }

  /** Runs a probe command with the image's admin address replaced by 127.0.0.1:{@code port}. */
  private static ProcessResult probe(List<String> command, int port) {
    assertThat(command).hasSize(3).startsWith("bash", "-c");
    assertThat(command.get(2)).contains(IMAGE_ADMIN);
    String script = command.get(2).replace(IMAGE_ADMIN, "/dev/tcp/127.0.0.1/" + port);
    return Processes.run(List.of(command.get(0), command.get(1), script), Map.of(), null, Duration.ofSeconds(10));
  }
}
