package dev.egressd.it;

import static java.util.concurrent.TimeUnit.MINUTES;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer.OrderAnnotation;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

/**
 * The image docker/Dockerfile builds, built and run for real in the CI-runner topology of docker/compose.yaml, with
 * the docker CLI (Debian's Compose is 1.x, which cannot read that file's inline configs): an agent container on an
 * internal network whose only neighbour is egressd, and egressd also on a second network where the origin is. The
 * image runs as shipped (its uid, HEALTHCHECK, entrypoint) with compose's hardening (read-only root, no
 * capabilities, no-new-privileges) and the config directory mounted read-only, so that editing it reloads the policy.
 *
 * <p>Both base images come from {@code scripts/local-base-images} (Debian's packages; no registry is reachable here).
 * Nothing leaves the machine: both networks are internal (compose's "outside" has a route out; this one need not,
 * since the origin is on it), and the refused hosts are never resolved. {@code ./scripts/test} starts the engine;
 * without one this test fails rather than skips.
 */
@TestMethodOrder(OrderAnnotation.class)
@Timeout(value = 60, unit = SECONDS)
class ContainerImageIT {
  private static final String NAME = "egressd-it-" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt());
  private static final String IMAGE = NAME + ":test";
  private static final int ORIGIN_PORT = 8080;
  private static final Duration BUILD_LIMIT = Duration.ofMinutes(15);

  private static final List<String> containers = new ArrayList<>();
  private static final List<String> networks = new ArrayList<>();
  private static String runtimeBase;
  private static String egressd;
  private static String client;
  private static String proxyAddress;
  private static String originAddress;
  private static Path configDirectory;
  private static String timings = "";

  /** Base images, the image build, the two networks, the origin, egressd (until healthy) and the agent. */
  @BeforeAll
  @Timeout(value = 25, unit = MINUTES)
  static void buildAndStart() throws Exception {
    DockerCli.requireEngine();
    ProcessResult bases = Processes.run(List.of(DeploymentFiles.file("scripts/local-base-images").toString()),
        java.util.Map.of(), DeploymentFiles.root(), BUILD_LIMIT);
    assertThat(bases.exitCode()).as("scripts/local-base-images: %s", bases).isZero();
    List<String> images = bases.stdout().lines().toList();
    assertThat(images).hasSize(2);
    runtimeBase = images.get(0);

    long buildStart = System.nanoTime();
    DockerCli.check(BUILD_LIMIT, "build", "--force-rm", "-q", "-f", DeploymentFiles.file("docker/Dockerfile").toString(),
        "--build-arg", "RUNTIME_IMAGE=" + runtimeBase, "--build-arg", "BUILD_IMAGE=" + images.get(1),
        "-t", IMAGE, DeploymentFiles.root().toString());
    long buildMillis = (System.nanoTime() - buildStart) / 1_000_000;

    String[] agentNet = network("agent");
    String[] outside = network("outside");
    proxyAddress = agentNet[1] + "2";
    originAddress = outside[1] + "10";

    // The origin: a JDK HTTP server from this module's compiled test classes, on the outside network only.
    Path classes = Path.of(ContainerOrigin.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    String origin = started(DockerCli.check("run", "-d", "--name", NAME + "-origin", "--network", outside[0],
        "--ip", originAddress, "--user", "65534:65534", "-v", classes + ":/it:ro", runtimeBase,
        "java", "-cp", "/it", ContainerOrigin.class.getName(), String.valueOf(ORIGIN_PORT)));
    awaitLog(origin, "origin listening");

    configDirectory = Files.createTempDirectory(NAME);
    // The daemon (uid 10001) reads the mounted directory: world-readable, as a ConfigMap's files are.
    Files.setPosixFilePermissions(configDirectory, PosixFilePermissions.fromString("rwxr-xr-x"));
    writeConfig(originAddress);

    // compose.yaml's egressd service: read-only root, /tmp as exec tmpfs, no capabilities, no new privileges; and
    // the memory limit of a small sidecar, which the entrypoint's heap sizing follows.
    egressd = DockerCli.check("create", "--name", NAME + "-egressd", "--network", agentNet[0], "--ip", proxyAddress,
        "--memory", "256m", "--read-only", "--tmpfs", "/tmp:exec", "--cap-drop", "ALL", "--security-opt", "no-new-privileges:true",
        "-v", configDirectory + ":/etc/egressd:ro", IMAGE);
    containers.add(egressd);
    DockerCli.check("network", "connect", "--ip", outside[1] + "2", outside[0], egressd);
    long start = System.nanoTime();
    DockerCli.check("start", egressd);
    long listeningMillis = awaitLog(egressd, "HTTP proxy listening") - start / 1_000_000;
    long healthyMillis = awaitHealthy(egressd) - start / 1_000_000;

    client = started(DockerCli.check("run", "-d", "--name", NAME + "-agent", "--network", agentNet[0],
        "--cap-drop", "ALL", "--security-opt", "no-new-privileges:true", "--user", "65534:65534", runtimeBase,
        "sleep", "infinity"));
    String rss = DockerCli.check("exec", egressd, "grep", "^VmRSS", "/proc/1/status").replaceAll("\\D+", " ").strip();
    timings = "image %d MiB, built in %d ms, listening %d ms and healthy %d ms after start, RSS then %d MiB".formatted(
        Long.parseLong(DockerCli.check("image", "inspect", "-f", "{{.Size}}", IMAGE)) >> 20, buildMillis,
        listeningMillis, healthyMillis, Long.parseLong(rss) >> 10);
  }

  @AfterAll
  static void remove() throws IOException {
    System.err.println("ContainerImageIT: " + timings);
    for (int i = containers.size() - 1; i >= 0; i--) {
      DockerCli.run(Duration.ofMinutes(1), "rm", "-f", "-v", containers.get(i));
    }
    for (String network : networks) {
      DockerCli.run(Duration.ofMinutes(1), "network", "rm", network);
    }
    DockerCli.run(Duration.ofMinutes(1), "rmi", IMAGE);
    if (configDirectory != null) {
      try (var files = Files.list(configDirectory)) {
        for (Path file : files.toList()) {
          Files.delete(file);
        }
      }
      Files.delete(configDirectory);
    }
  }

  @Test
  void healthcheckReportsHealthy() {
    assertThat(DockerCli.check("inspect", "-f", "{{.State.Health.Status}} {{.State.Health.FailingStreak}}", egressd))
        .isEqualTo("healthy 0");
  }

  @Test
  void daemonRunsAsTheImagesUnprivilegedUser() {
    assertThat(DockerCli.check("exec", egressd, "cat", "/proc/1/status"))
        .containsPattern("(?m)^Uid:\\s+10001\\s+10001\\s+10001\\s+10001$")
        .containsPattern("(?m)^Gid:\\s+10001\\s").containsPattern("(?m)^CapEff:\\s+0+$");
  }

  /** The class-data archive the image build trained is what PID 1 runs with (a mismatch would be ignored silently). */
  @Test
  void daemonMapsTheImagesClassDataArchive() {
    assertThat(DockerCli.check("exec", egressd, "cat", "/proc/1/maps")).contains("/opt/egressd/egressd.jsa");
  }

  @Test
  void listenersAreTheAgentNetworkAddressAndTheContainersLoopback() {
    assertThat(logs(egressd)).contains("egressd: HTTP proxy listening on " + proxyAddress + ":3128")
        .contains("egressd: SOCKS5 proxy listening on " + proxyAddress + ":8081")
        .contains("egressd: admin listening on http://127.0.0.1:9464");
  }

  @Test
  void allowedRequestFromTheAgentReachesTheOrigin() {
    String origin = originAddress + ":" + ORIGIN_PORT;

    assertThat(viaProxy("GET http://" + origin + "/ HTTP/1.1", origin)).startsWith("HTTP/1.1 200")
        .endsWith("origin-ok\n");
    assertThat(logs(egressd)).containsPattern("decision=allow .*host=" + originAddress.replace(".", "\\."));
  }

  @Test
  void deniedRequestIsRefusedWith403AndTheReason() {
    assertThat(viaProxy("GET http://denied.test/ HTTP/1.1", "denied.test")).startsWith("HTTP/1.1 403")
        .containsPattern("(?im)^x-proxy-error: blocked-by-allowlist\\r?$");
  }

  @Test
  void deniedTunnelIsRefusedWith403() {
    assertThat(viaProxy("CONNECT denied.test:443 HTTP/1.1", "denied.test:443")).startsWith("HTTP/1.1 403")
        .containsPattern("(?im)^x-proxy-error: blocked-by-allowlist\\r?$");
  }

  @Test
  void theAgentCannotUseTheProxyToReachEgressdsOwnAdminListener() {
    assertThat(viaProxy("GET http://127.0.0.1:9464/healthz HTTP/1.1", "127.0.0.1:9464")).startsWith("HTTP/1.1 403")
        .containsPattern("(?im)^x-proxy-error: blocked-by-allowlist\\r?$");
  }

  @Test
  void theAgentHasNoRouteToTheOriginButThroughEgressd() {
    ProcessResult toProxy = connectFromTheAgent(proxyAddress, 3128);
    ProcessResult toOrigin = connectFromTheAgent(originAddress, ORIGIN_PORT);

    // The same probe reaches egressd, so its failure towards the origin is the network's doing: dropped (timeout
    // exits 124) or unreachable, depending on the engine's rules.
    assertThat(toProxy.exitCode()).as("%s", toProxy).isZero();
    assertThat(toOrigin.exitCode()).as("%s", toOrigin).isNotZero();
  }

  /** The entrypoint's JVM flags, in a container limited to 256 MiB: the heap follows the limit, not the host. */
  @Test
  void theImagesJvmFlagsSizeTheHeapFromTheContainersMemoryLimit() {
    List<String> entrypoint = List.of(DockerCli.check("image", "inspect", "-f",
        "{{range .Config.Entrypoint}}{{println .}}{{end}}", IMAGE).split("\n"));
    assertThat(entrypoint).first().isEqualTo("java");
    assertThat(entrypoint.subList(entrypoint.size() - 2, entrypoint.size())).containsExactly("-jar",
        "/opt/egressd/egressd.jar");
    List<String> command = new ArrayList<>(List.of("run", "--rm", "--memory", "256m", "--entrypoint", "java", IMAGE));
    command.addAll(entrypoint.subList(1, entrypoint.size() - 2));
    command.addAll(List.of("-XX:+PrintFlagsFinal", "-version"));

    String flags = DockerCli.check(command.toArray(String[]::new));
    long maxHeap = Long.parseLong(flags.lines().filter(l -> l.matches("\\s*size_t MaxHeapSize .*")).findFirst()
        .orElseThrow().replaceAll("\\D+", " ").strip().split(" ")[0]);

    assertThat(maxHeap).as("MaxHeapSize under a 256 MiB limit").isPositive().isLessThanOrEqualTo(256L << 20);
  }

  /** Last: it changes the policy, and puts it back. */
  @Test
  @Order(Integer.MAX_VALUE)
  void editingTheMountedConfigReloadsThePolicy() throws Exception {
    String origin = originAddress + ":" + ORIGIN_PORT;
    try {
      writeConfig("elsewhere.test");

      assertThat(poll(() -> viaProxy("GET http://" + origin + "/ HTTP/1.1", origin),
          reply -> reply.startsWith("HTTP/1.1 403"))).containsPattern("(?im)^x-proxy-error: blocked-by-allowlist\\r?$");
      assertThat(logs(egressd)).contains("reload (");
    } finally {
      writeConfig(originAddress);
    }
    assertThat(poll(() -> viaProxy("GET http://" + origin + "/ HTTP/1.1", origin),
        reply -> reply.startsWith("HTTP/1.1 200"))).endsWith("origin-ok\n");
  }

  /** One request from the agent container to egressd over bash's /dev/tcp (the base image has no curl). */
  private static String viaProxy(String requestLine, String host) {
    String request = requestLine + "\\r\\nHost: " + host + "\\r\\nConnection: close\\r\\n\\r\\n";
    ProcessResult result = DockerCli.run(Duration.ofSeconds(30), "exec", client, "bash", "-c",
        "exec 3<>/dev/tcp/" + proxyAddress + "/3128 && printf '" + request + "' >&3 && timeout 15 cat <&3");
    assertThat(result.exitCode()).as("%s", result).isZero();
    return result.stdout();
  }

  private static ProcessResult connectFromTheAgent(String address, int port) {
    return DockerCli.run(Duration.ofSeconds(30), "exec", client, "timeout", "5", "bash", "-c",
        "exec 3<>/dev/tcp/" + address + "/" + port);
  }

  private static void writeConfig(String allowed) throws IOException {
    String config = """
        [network]
        proxy_url = "http://%1$s:3128"
        socks_url = "http://%1$s:8081"
        dangerously_allow_non_loopback_proxy = true
        mode = "full"
        allow_local_binding = false
        allowed_domains = ["%2$s"]

        [admin]
        listen = "127.0.0.1:9464"
        """.formatted(proxyAddress, allowed);
    // Replaced in one rename, as an editor or a ConfigMap update does, so the daemon never reads half a file.
    Path next = Files.writeString(configDirectory.resolve(".egressd.toml.next"), config);
    Files.setPosixFilePermissions(next, PosixFilePermissions.fromString("rw-r--r--"));
    Files.move(next, configDirectory.resolve("egressd.toml"), StandardCopyOption.ATOMIC_MOVE);
  }

  /** An internal network on a random 10.x.y.0/24 (retrying where one is taken): its name and "10.x.y." prefix. */
  private static String[] network(String role) {
    for (int attempt = 0; ; attempt++) {
      String prefix = "10.%d.%d.".formatted(ThreadLocalRandom.current().nextInt(100, 200),
          ThreadLocalRandom.current().nextInt(256));
      String name = NAME + "-" + role;
      ProcessResult created = DockerCli.run(Duration.ofMinutes(1), "network", "create", "--internal",
          "--subnet", prefix + "0/24", name);
      if (created.exitCode() == 0) {
        networks.add(name);
        return new String[] {name, prefix};
      }
      assertThat(attempt).as("docker network create: %s", created).isLessThan(5);
    }
  }

  private static String started(String containerId) {
    containers.add(containerId);
    return containerId;
  }

  private static String logs(String container) {
    ProcessResult logs = DockerCli.run(Duration.ofSeconds(30), "logs", container);
    return logs.stdout() + logs.stderr();
  }

  /** Waits for a line in a container's log; returns when it was seen (milliseconds on the nanoTime clock). */
  private static long awaitLog(String container, String text) throws InterruptedException {
    poll(() -> logs(container), log -> log.contains(text));
    return System.nanoTime() / 1_000_000;
  }

  private static long awaitHealthy(String container) throws InterruptedException {
    String status = poll(() -> DockerCli.check("inspect", "-f", "{{.State.Health.Status}}", container),
        s -> !s.equals("starting"));
    assertThat(status).as("health of %s; log:\n%s", container, logs(container)).isEqualTo("healthy");
    return System.nanoTime() / 1_000_000;
  }

  /**
   * Polls every 200 ms for up to 45 s until the value passes, and returns the last value either way. Not
   * OriginServer.eventually: its 10 ms step would start a docker CLI process 100 times a second.
   */
  private static String poll(java.util.function.Supplier<String> value, Predicate<String> done)
      throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(45).toNanos();
    String last = value.get();
    while (!done.test(last) && System.nanoTime() < deadline) {
      Thread.sleep(200);
      last = value.get();
    }
    return last;
  }
}
