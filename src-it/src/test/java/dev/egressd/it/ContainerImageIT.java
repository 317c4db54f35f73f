package dev.egressd.it;

import static java.util.concurrent.TimeUnit.MINUTES;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import com.github.dockerjava.api.command.InspectContainerResponse;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.testcontainers.containers.Container.ExecResult;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.wait.strategy.Wait;
import org.testcontainers.images.builder.ImageFromDockerfile;
import org.testcontainers.images.builder.Transferable;
import org.testcontainers.junit.jupiter.Testcontainers;
import org.testcontainers.utility.DockerImageName;

/**
 * The image docker/Dockerfile builds, run as shipped with a config allowing one host: the HEALTHCHECK reports healthy,
 * the daemon runs as the image's unprivileged uid on the container's loopback, an allowed request reaches its origin
 * and a denied one is refused with 403 and {@code x-proxy-error}. Skipped where no Docker engine is reachable.
 *
 * <p>Nothing leaves the machine, and every request goes to loopback: the origin (busybox httpd) and the client (curl)
 * run in egressd's network namespace ({@code --network container:<egressd>}), as a Kubernetes sidecar's neighbours do,
 * and the refused host is never resolved.
 */
@Testcontainers(disabledWithoutDocker = true)
@Timeout(value = 60, unit = SECONDS)
class ContainerImageIT {
  private static final String ORIGIN = "127.0.0.1:8080";
  private static final String PROXY = "http://127.0.0.1:3128";
  private static final String CONFIG = """
      [network]
      allowed_domains = ["%s"]

      [admin]
      listen = "127.0.0.1:9464"
      """.formatted(ORIGIN);

  private static GenericContainer<?> egressd;
  private static GenericContainer<?> origin;
  private static GenericContainer<?> client;

  /** Builds the image (the first build downloads Maven's dependencies, hence the long limit) and starts all three. */
  @BeforeAll
  @Timeout(value = 30, unit = MINUTES)
  static void startContainers() throws Exception {
    egressd = new GenericContainer<>(DockerImageName.parse(image().get(25, MINUTES)))
        .withCopyToContainer(Transferable.of(CONFIG), DeploymentFiles.CONFIG_PATH)
        .waitingFor(Wait.forHealthcheck().withStartupTimeout(Duration.ofMinutes(2)));
    egressd.start();
    String namespace = "container:" + egressd.getContainerId();
    origin = new GenericContainer<>(DockerImageName.parse("busybox:1.37"))
        .withNetworkMode(namespace)
        .withCommand("sh", "-c", "mkdir -p /www && echo origin-ok > /www/index.html"
            + " && exec httpd -f -p " + ORIGIN + " -h /www")
        .waitingFor(Wait.forSuccessfulCommand("wget -q -O /dev/null http://" + ORIGIN + "/"));
    origin.start();
    client = new GenericContainer<>(DockerImageName.parse("curlimages/curl:8.11.1"))
        .withNetworkMode(namespace)
        .withCommand("sleep", "3600")
        .waitingFor(Wait.forSuccessfulCommand("true"));
    client.start();
  }

  @AfterAll
  static void stopContainers() {
    for (GenericContainer<?> container : new GenericContainer<?>[] {client, origin, egressd}) {
      if (container != null) {
        container.stop();
      }
    }
  }

  @Test
  void healthcheckReportsHealthy() {
    InspectContainerResponse.ContainerState state = egressd.getCurrentContainerInfo().getState();

    assertThat(state.getHealth()).as("the image declares a HEALTHCHECK").isNotNull();
    assertThat(state.getHealth().getStatus()).isEqualTo("healthy");
  }

  @Test
  void daemonRunsAsTheImagesUnprivilegedUser() throws Exception {
    ExecResult status = egressd.execInContainer("cat", "/proc/1/status");

    assertThat(status.getStdout()).containsPattern("(?m)^Uid:\\s+10001\\s+10001\\s+10001\\s+10001$")
        .containsPattern("(?m)^Gid:\\s+10001\\s");
  }

  @Test
  void proxyListensOnTheContainersLoopback() {
    assertThat(egressd.getLogs()).contains("egressd: HTTP proxy listening on 127.0.0.1:3128")
        .contains("egressd: SOCKS5 proxy listening on 127.0.0.1:8081")
        .contains("egressd: admin listening on http://127.0.0.1:9464");
  }

  @Test
  void allowedRequestReachesTheOrigin() throws Exception {
    ExecResult result = curl("-sS", "-i", "-x", PROXY, "http://" + ORIGIN + "/");

    assertThat(result.getExitCode()).as("%s", result).isZero();
    assertThat(result.getStdout()).startsWith("HTTP/1.1 200").contains("origin-ok");
  }

  @Test
  void deniedRequestIsRefusedWith403AndTheReason() throws Exception {
    ExecResult result = curl("-sS", "-i", "-x", PROXY, "http://denied.test/");

    assertThat(result.getExitCode()).as("%s", result).isZero();
    assertThat(result.getStdout()).startsWith("HTTP/1.1 403")
        .containsPattern("(?im)^x-proxy-error: blocked-by-allowlist\\r?$");
  }

  @Test
  void deniedTunnelIsRefusedWith403() throws Exception {
    ExecResult result = curl("-sS", "-o", "/dev/null", "-w", "%{http_connect}", "-p", "-x", PROXY,
        "https://denied.test/");

    // curl exits 56 when the proxy refuses the CONNECT; the proxy's status is what matters.
    assertThat(result.getStdout()).as("%s", result).isEqualTo("403");
  }

  private static ExecResult curl(String... args) throws Exception {
    String[] command = new String[args.length + 3];
    command[0] = "curl";
    command[1] = "--max-time";
    command[2] = "20";
    System.arraycopy(args, 0, command, 3, args.length);
    return client.execInContainer(command);
  }

  /**
   * The image, built from the repository root with docker/Dockerfile. Testcontainers does not read .dockerignore, so
   * the context is exactly the paths its allowlist names (as {@code docker build} would send), never .git or target/.
   * {@code withDockerfilePath} is deprecated in favour of {@code withDockerfile(Path)}, which instead lets docker-java
   * pack the Dockerfile's own directory (docker/) as the context: the wrong root for this Dockerfile.
   */
  @SuppressWarnings("deprecation")
  private static ImageFromDockerfile image() {
    ImageFromDockerfile image = new ImageFromDockerfile().withDockerfilePath("docker/Dockerfile")
        .withFileFromPath("docker/Dockerfile", DeploymentFiles.file("docker/Dockerfile"));
    List<String> allowlist = DeploymentFiles.read(".dockerignore").lines().map(String::strip)
        .filter(line -> line.startsWith("!")).map(line -> line.substring(1)).toList();
    assertThat(allowlist).isNotEmpty();
    for (String path : allowlist) {
      image.withFileFromPath(path, DeploymentFiles.root().resolve(path));
    }
    return image;
  }
}
