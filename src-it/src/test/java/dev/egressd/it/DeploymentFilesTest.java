package dev.egressd.it;

import static dev.egressd.it.DeploymentFiles.CONFIG_PATH;
import static dev.egressd.it.DeploymentFiles.at;
import static dev.egressd.it.DeploymentFiles.execForm;
import static dev.egressd.it.DeploymentFiles.healthcheckCommand;
import static dev.egressd.it.DeploymentFiles.lastInRuntimeStage;
import static dev.egressd.it.DeploymentFiles.list;
import static dev.egressd.it.DeploymentFiles.map;
import static dev.egressd.it.DeploymentFiles.maps;
import static dev.egressd.it.DeploymentFiles.runtimeStage;
import static org.assertj.core.api.Assertions.assertThat;

import dev.egressd.config.ConfigException;
import dev.egressd.config.ConfigLoader;
import dev.egressd.config.DaemonConfig;
import dev.egressd.it.DeploymentFiles.Instruction;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The security invariants of docker/Dockerfile, .dockerignore, the image's default config and docker/compose.yaml,
 * checked without Docker: the image runs as a fixed non-root uid with a health check on the admin listener, and in
 * the compose set-up the agent's only network is internal, egressd alone reaches outside, and egressd listens on its
 * internal address only. (The Kubernetes manifests: {@link KubernetesManifestsTest}; the configs through the real
 * jar and the health check command against a real daemon: {@code DeploymentConfigIT}.)
 */
class DeploymentFilesTest {
  private static final Pattern PROBE_TARGET = Pattern.compile("/dev/tcp/([0-9.]+)/(\\d+)");
  private static final String AGENT_NETWORK = "agent-net";
  /** The uid/gid docs/deployment.md and the Kubernetes manifests name. */
  static final int IMAGE_UID = 10001;

  @Test
  void runtimeStageRunsAsAFixedNonRootUid() {
    List<Instruction> users = runtimeStage().stream().filter(i -> i.keyword().equals("USER")).toList();

    assertThat(users).as("USER in the runtime stage").isNotEmpty();
    String last = users.get(users.size() - 1).arguments();
    // Numeric, so that Kubernetes runAsNonRoot can verify it without reading /etc/passwd; the documented uid.
    assertThat(last).isEqualTo(IMAGE_UID + ":" + IMAGE_UID);
  }

  @Test
  void runtimeStageChecksHealthOnTheAdminListenersHealthz() throws ConfigException {
    InetSocketAddress admin = ConfigLoader.parse(DeploymentFiles.read("docker/egressd.toml"), "docker/egressd.toml",
        null).telemetry().adminListen();
    List<String> command = healthcheckCommand();

    assertThat(command).hasSize(3).startsWith("bash", "-c");
    Matcher target = PROBE_TARGET.matcher(command.get(2));
    assertThat(target.find()).as("a /dev/tcp/HOST/PORT target in %s", command).isTrue();
    assertThat(admin).as("[admin] listen of the image's config").isNotNull();
    assertThat(new InetSocketAddress(target.group(1), Integer.parseInt(target.group(2)))).isEqualTo(admin);
    assertThat(command.get(2)).contains("GET /healthz HTTP/1.1").contains("HTTP/1.1 200 ").endsWith("ok' ]]");
  }

  @Test
  void buildStageRunsTheDocumentedMavenBuildAndTheRuntimeStageIsAJava17Jre() {
    List<Instruction> instructions = DeploymentFiles.dockerfile();
    List<Instruction> froms = instructions.stream().filter(i -> i.keyword().equals("FROM")).toList();

    // Both bases are build arguments (scripts/local-base-images makes both from Debian's packages); the defaults
    // stay the public images.
    assertThat(froms).extracting(Instruction::arguments).containsExactly("${BUILD_IMAGE} AS build",
        "${RUNTIME_IMAGE}");
    assertThat(DeploymentFiles.defaultFromImages()).containsExactly("maven:3.9-eclipse-temurin-17",
        "eclipse-temurin:17-jre-noble");
    assertThat(instructions).filteredOn(i -> i.stage() == 0 && i.keyword().equals("RUN"))
        .extracting(Instruction::arguments)
        .anyMatch(run -> run.startsWith("mvn -B -DskipTests -pl daemon -am package"));
    assertThat(runtimeStage()).filteredOn(i -> i.keyword().equals("COPY")).extracting(Instruction::arguments)
        .contains("--from=build /src/daemon/target/egressd.jar /opt/egressd/egressd.jar");
  }

  @Test
  void buildStageCopiesThePomOfEveryReactorModule() {
    String pom = DeploymentFiles.read("pom.xml");
    // The default build's <modules>, not a profile's: Maven refuses to start when one of their poms is missing.
    Matcher modules = Pattern.compile("<module>([^<]+)</module>")
        .matcher(pom.substring(pom.indexOf("<modules>"), pom.indexOf("</modules>")));
    List<String> copied = DeploymentFiles.dockerfile().stream()
        .filter(i -> i.stage() == 0 && i.keyword().equals("COPY")).map(Instruction::arguments).toList();

    assertThat(modules.results().map(m -> m.group(1))).isNotEmpty()
        .allSatisfy(module -> assertThat(copied).contains(module + "/pom.xml " + module + "/"));
    assertThat(copied).contains("pom.xml ./");
  }

  @Test
  void imageRunsTheDaemonWithTheConfigAtTheDocumentedPath() {
    assertThat(runtimeStage()).filteredOn(i -> i.keyword().equals("COPY")).extracting(Instruction::arguments)
        .contains("docker/egressd.toml " + CONFIG_PATH);
    assertThat(execForm(lastInRuntimeStage("ENTRYPOINT").arguments())).startsWith("java").endsWith("-jar",
        "/opt/egressd/egressd.jar");
    assertThat(execForm(lastInRuntimeStage("CMD").arguments())).containsExactly("run", "--config", CONFIG_PATH);
  }

  @Test
  void everyPathTheBuildCopiesIsInTheDockerignoreAllowlist() {
    List<String> lines = DeploymentFiles.read(".dockerignore").lines().map(String::strip)
        .filter(l -> !l.isEmpty() && !l.startsWith("#")).toList();
    List<String> allowed = lines.stream().filter(l -> l.startsWith("!")).map(l -> l.substring(1)).toList();
    List<String> copied = DeploymentFiles.dockerfile().stream()
        .filter(i -> i.keyword().equals("COPY") && !i.arguments().startsWith("--from"))
        .flatMap(i -> sources(i.arguments()).stream()).toList();

    // Deny by default: .git, target/ and stray files never enter the build context.
    assertThat(lines).first().isEqualTo("*");
    assertThat(copied).isNotEmpty().allSatisfy(source -> assertThat(allowed)
        .as("allowlist entries covering %s", source)
        .anyMatch(entry -> source.equals(entry) || source.startsWith(entry + "/")));
    assertThat(allowed).allSatisfy(entry -> assertThat(DeploymentFiles.root().resolve(entry)).exists());
  }

  @Test
  void imagesDefaultConfigListensOnTheContainersLoopbackOnly() throws ConfigException {
    DaemonConfig config = ConfigLoader.parse(DeploymentFiles.read("docker/egressd.toml"), "docker/egressd.toml",
        null);

    assertThat(config.listeners().nonLoopbackAllowed()).isFalse();
    assertThat(config.listeners().http()).isEqualTo(new InetSocketAddress("127.0.0.1", 3128));
    assertThat(config.listeners().socks()).isEqualTo(new InetSocketAddress("127.0.0.1", 8081));
    assertThat(config.telemetry().adminListen()).isEqualTo(new InetSocketAddress("127.0.0.1", 9464));
    assertThat(config.policy().allowLocalBinding()).isFalse();
    assertThat(config.policy().rules()).as("the default image allows nothing").isEmpty();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("composeServicesOtherThanEgressd")
  void everyServiceButEgressdIsOnInternalNetworksOnly(String service, Map<String, Object> definition) {
    // network_mode (host, container:..., bridge) would bypass the networks below; no networks key means "default".
    assertThat(definition).doesNotContainKey("network_mode").doesNotContainKey("ports");
    List<String> networks = networkNames(definition.get("networks"), service);

    assertThat(networks).as("networks of %s", service).isNotEmpty()
        .allSatisfy(network -> assertThat(at(compose(), "networks", network, "internal"))
            .as("networks.%s.internal", network).isEqualTo(true));
  }

  @Test
  void agentsOnlyNetworkIsTheInternalOneEgressdServes() {
    assertThat(networkNames(at(compose(), "services", "agent", "networks"), "agent")).containsExactly(AGENT_NETWORK);
    List<String> egressdNetworks = networkNames(at(compose(), "services", "egressd", "networks"), "egressd");

    assertThat(egressdNetworks).contains(AGENT_NETWORK);
    assertThat(egressdNetworks).as("egressd's networks with a route out")
        .anyMatch(network -> !Boolean.TRUE.equals(at(compose(), "networks", network, "internal")));
  }

  @Test
  void composeEgressdListensOnItsInternalAddressOnly() throws ConfigException, UnknownHostException {
    DaemonConfig config = ConfigLoader.parse(DeploymentFiles.composeToml(), "compose.yaml", null);
    String address = String.valueOf(at(compose(), "services", "egressd", "networks", AGENT_NETWORK,
        "ipv4_address"));
    List<Map<String, Object>> subnets = maps(at(compose(), "networks", AGENT_NETWORK, "ipam", "config"), "ipam");

    assertThat(config.listeners().nonLoopbackAllowed()).isTrue();
    assertThat(config.listeners().http().getAddress()).isEqualTo(InetAddress.getByName(address));
    assertThat(config.listeners().socks().getAddress()).isEqualTo(InetAddress.getByName(address));
    assertThat(subnets).as("subnets of %s", AGENT_NETWORK).isNotEmpty()
        .anyMatch(s -> inSubnet(address, String.valueOf(s.get("subnet"))));
    // The image's HEALTHCHECK probes exactly this; other containers cannot reach it.
    assertThat(config.telemetry().adminListen()).isEqualTo(new InetSocketAddress("127.0.0.1", 9464));
    assertThat(config.policy().allowLocalBinding()).isFalse();
  }

  @Test
  void agentsProxyVariablesPointAtEgressdsListeners() throws ConfigException {
    DaemonConfig config = ConfigLoader.parse(DeploymentFiles.composeToml(), "compose.yaml", null);
    Map<String, Object> env = map(at(compose(), "services", "agent", "environment"), "agent environment");

    for (String name : List.of("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")) {
      URI uri = URI.create(String.valueOf(env.get(name)));
      assertThat(uri.getScheme()).as(name).isEqualTo("http");
      assertThat(uri.getHost()).as(name).isEqualTo("egressd");
      assertThat(uri.getPort()).as(name).isEqualTo(config.listeners().http().getPort());
    }
    for (String name : List.of("ALL_PROXY", "all_proxy")) {
      URI uri = URI.create(String.valueOf(env.get(name)));
      // socks5h: egressd resolves names, so host rules apply and the agent needs no DNS of its own.
      assertThat(uri.getScheme()).as(name).isEqualTo("socks5h");
      assertThat(uri.getHost()).as(name).isEqualTo("egressd");
      assertThat(uri.getPort()).as(name).isEqualTo(config.listeners().socks().getPort());
    }
  }

  @Test
  void agentStartsOnlyOnceEgressdIsHealthy() {
    assertThat(at(compose(), "services", "agent", "depends_on", "egressd", "condition"))
        .isEqualTo("service_healthy");
  }

  @Test
  void composeBuildsTheImageFromTheRepositoryRoot() {
    Map<String, Object> build = map(at(compose(), "services", "egressd", "build"), "services.egressd.build");

    assertThat(DeploymentFiles.root().resolve("docker").resolve(String.valueOf(build.get("context"))).normalize())
        .isEqualTo(DeploymentFiles.root());
    assertThat(build.get("dockerfile")).isEqualTo("docker/Dockerfile");
  }

  @Test
  void noImageReferenceNamesARegistryHost() {
    List<String> images = Stream.of(
        DeploymentFiles.defaultFromImages().stream(),
        Stream.of("agent", "egressd").map(s -> at(compose(), "services", s, "image")).map(String::valueOf),
        Stream.of("docker/k8s/sidecar.yaml", "docker/k8s/gateway.yaml")
            .flatMap(f -> DeploymentFiles.objects(f, "Deployment").stream())
            .flatMap(d -> DeploymentFiles.containers(DeploymentFiles.podSpec(d)).values().stream())
            .map(c -> String.valueOf(c.get("image"))))
        .flatMap(s -> s).toList();

    assertThat(images).hasSizeGreaterThanOrEqualTo(7).allSatisfy(image -> {
      int slash = image.indexOf('/');
      String first = slash < 0 ? "" : image.substring(0, slash);
      // Docker's rule: a first path component with a dot or a colon, or "localhost", is a registry host.
      assertThat(first).as("registry part of %s", image).doesNotContain(".").doesNotContain(":")
          .isNotEqualTo("localhost");
    });
  }

  static Stream<Arguments> composeServicesOtherThanEgressd() {
    Map<String, Object> services = map(compose().get("services"), "services");
    assertThat(services).containsKeys("egressd", "agent");
    return services.entrySet().stream().filter(e -> !e.getKey().equals("egressd"))
        .map(e -> Arguments.of(e.getKey(), map(e.getValue(), e.getKey())));
  }

  private static Map<String, Object> compose() {
    return DeploymentFiles.yaml("docker/compose.yaml");
  }

  /** Compose's two forms: a list of names, or a map from name to settings. */
  private static List<String> networkNames(Object networks, String service) {
    if (networks instanceof Map<?, ?> byName) {
      return byName.keySet().stream().map(String::valueOf).toList();
    }
    return list(networks, "networks of " + service).stream().map(String::valueOf).toList();
  }

  private static boolean inSubnet(String address, String cidr) {
    int slash = cidr.indexOf('/');
    try {
      byte[] a = InetAddress.getByName(address).getAddress();
      byte[] net = InetAddress.getByName(cidr.substring(0, slash)).getAddress();
      int bits = Integer.parseInt(cidr.substring(slash + 1));
      if (a.length != net.length) {
        return false;
      }
      for (int i = 0; i < bits; i++) {
        int mask = 0x80 >>> (i % 8);
        if ((a[i / 8] & mask) != (net[i / 8] & mask)) {
          return false;
        }
      }
      return true;
    } catch (UnknownHostException | RuntimeException e) {
      return false;
    }
  }

  /** COPY sources: every argument but the destination and flags. */
  private static List<String> sources(String arguments) {
    List<String> parts = Stream.of(arguments.split("\\s+")).filter(p -> !p.startsWith("--")).toList();
    return parts.subList(0, parts.size() - 1).stream().map(p -> p.endsWith("/") ? p.substring(0, p.length() - 1) : p)
        .map(p -> p.equals(".") ? "" : p).toList();
  }
}
