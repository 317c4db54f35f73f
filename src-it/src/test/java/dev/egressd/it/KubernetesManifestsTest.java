package dev.egressd.it;

import static dev.egressd.it.DeploymentFiles.CONFIG_PATH;
import static dev.egressd.it.DeploymentFiles.at;
import static dev.egressd.it.DeploymentFiles.containers;
import static dev.egressd.it.DeploymentFiles.environment;
import static dev.egressd.it.DeploymentFiles.map;
import static dev.egressd.it.DeploymentFiles.maps;
import static dev.egressd.it.DeploymentFiles.object;
import static dev.egressd.it.DeploymentFiles.podSpec;
import static org.assertj.core.api.Assertions.assertThat;

import dev.egressd.config.ConfigException;
import dev.egressd.config.ConfigLoader;
import dev.egressd.config.DaemonConfig;
import java.net.InetSocketAddress;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The security invariants of docker/k8s/: the sidecar's config is a watched directory and its proxy stays on the
 * pod's loopback; in the gateway set-up agent pods may reach only the gateway pods (and DNS), the gateway admits only
 * the agent namespace, and neither reaches private ranges; egressd runs as the image's uid without privileges, and
 * its probes are the image's health check.
 */
class KubernetesManifestsTest {
  private static final String SIDECAR = "docker/k8s/sidecar.yaml";
  private static final String GATEWAY = "docker/k8s/gateway.yaml";
  private static final Map<String, Object> KUBE_DNS = Map.of(
      "namespaceSelector", Map.of("matchLabels", Map.of("kubernetes.io/metadata.name", "kube-system")),
      "podSelector", Map.of("matchLabels", Map.of("k8s-app", "kube-dns")));
  private static final Set<String> PRIVATE_IPV4 = Set.of("10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8",
      "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16");

  @ParameterizedTest(name = "{0}")
  @MethodSource("egressdContainers")
  void egressdReadsItsConfigMapAsAWatchedDirectory(String file, Map<String, Object> podSpec,
      Map<String, Object> egressd) {
    List<Map<String, Object>> configMounts = maps(egressd.get("volumeMounts"), "volumeMounts").stream()
        .filter(m -> configMapVolume(podSpec, String.valueOf(m.get("name"))) != null).toList();

    assertThat(egressd.get("args")).isEqualTo(List.of("run", "--config", CONFIG_PATH));
    assertThat(configMounts).as("ConfigMap mounts of egressd in %s", file).singleElement().satisfies(mount -> {
      // The daemon watches the config's directory; a subPath mount never sees ConfigMap updates.
      assertThat(mount).doesNotContainKey("subPath").containsEntry("mountPath", "/etc/egressd")
          .containsEntry("readOnly", true);
    });
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("egressdContainers")
  void egressdRunsAsTheImagesUidWithoutPrivileges(String file, Map<String, Object> podSpec,
      Map<String, Object> egressd) {
    Map<String, Object> pod = map(podSpec.getOrDefault("securityContext", Map.of()), "pod securityContext");
    Map<String, Object> container = map(egressd.getOrDefault("securityContext", Map.of()), "securityContext");

    assertThat(container.getOrDefault("runAsUser", pod.get("runAsUser"))).isEqualTo(DeploymentFiles.imageUid());
    assertThat(container.getOrDefault("runAsNonRoot", pod.get("runAsNonRoot"))).isEqualTo(true);
    assertThat(container).containsEntry("allowPrivilegeEscalation", false)
        .containsEntry("readOnlyRootFilesystem", true);
    assertThat(at(container, "capabilities", "drop")).isEqualTo(List.of("ALL"));
    assertThat(container).doesNotContainKey("privileged");
    assertThat(at(container, "capabilities", "add")).isNull();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("egressdContainers")
  void probesAreTheImagesHealthCheck(String file, Map<String, Object> podSpec, Map<String, Object> egressd) {
    List<String> healthz = DeploymentFiles.healthcheckCommand();
    List<String> readyz = List.of(healthz.get(0), healthz.get(1),
        healthz.get(2).replace("GET /healthz ", "GET /readyz ").replace("ok' ]]", "ready' ]]"));

    // The admin listener is loopback-only, so only an exec probe inside the container can reach it.
    assertThat(at(egressd, "startupProbe", "exec", "command")).isEqualTo(healthz);
    assertThat(at(egressd, "livenessProbe", "exec", "command")).isEqualTo(healthz);
    assertThat(at(egressd, "readinessProbe", "exec", "command")).isIn(null, readyz);
  }

  @Test
  void sidecarProxyListensOnThePodsLoopbackAndTheAgentUsesIt() throws ConfigException {
    DaemonConfig config = config(SIDECAR, "agent-egressd");
    Map<String, String> env = environment(containers(podSpec(object(SIDECAR, "Deployment", "agent"))).get("agent"));

    assertThat(config.listeners().nonLoopbackAllowed()).isFalse();
    assertThat(config.listeners().http().getAddress().isLoopbackAddress()).isTrue();
    assertThat(config.listeners().socks().getAddress().isLoopbackAddress()).isTrue();
    assertThat(config.telemetry().adminListen()).isEqualTo(new InetSocketAddress("127.0.0.1", 9464));
    assertThat(config.policy().allowLocalBinding()).isFalse();
    assertProxyVariables(env, "127.0.0.1", config);
  }

  @Test
  void sidecarStartsBeforeTheAgentAsANativeSidecar() {
    Map<String, Object> spec = podSpec(object(SIDECAR, "Deployment", "agent"));

    assertThat(maps(spec.get("initContainers"), "initContainers")).singleElement()
        .satisfies(c -> assertThat(c).containsEntry("name", "egressd").containsEntry("restartPolicy", "Always"));
  }

  @Test
  void sidecarNetworkPolicyCoversThePodAndKeepsItOffPrivateRanges() {
    Map<String, Object> policy = object(SIDECAR, "NetworkPolicy", "agent-egress");
    Map<String, Object> podLabels = map(at(object(SIDECAR, "Deployment", "agent"), "spec", "template", "metadata",
        "labels"), "pod labels");

    assertThat(map(at(policy, "spec", "podSelector", "matchLabels"), "podSelector")).isNotEmpty()
        .allSatisfy((k, v) -> assertThat(podLabels).containsEntry(k, v));
    assertThat(at(policy, "spec", "policyTypes")).isEqualTo(List.of("Ingress", "Egress"));
    assertThat(at(policy, "spec", "ingress")).isEqualTo(List.of());
    assertPublicOrDnsOnly(policy);
  }

  @Test
  void agentNamespaceMayConnectOnlyToTheGatewayPodsAndDns() throws ConfigException {
    Map<String, Object> policy = object(GATEWAY, "NetworkPolicy", "egress-only-via-gateway");
    DaemonConfig config = config(GATEWAY, "egressd-gateway");
    Map<String, Object> gatewayPeer = Map.of(
        "namespaceSelector", Map.of("matchLabels", Map.of("kubernetes.io/metadata.name", "egressd")),
        "podSelector", Map.of("matchLabels", gatewayPodLabels()));
    List<Map<String, Object>> rules = maps(at(policy, "spec", "egress"), "egress");

    assertThat(at(policy, "metadata", "namespace")).isEqualTo("agents");
    // An empty selector: every pod in the namespace, including ones created later.
    assertThat(at(policy, "spec", "podSelector")).isEqualTo(Map.of());
    assertThat(at(policy, "spec", "policyTypes")).isEqualTo(List.of("Egress"));
    assertThat(rules).hasSize(2).allSatisfy(rule -> assertThat(rule).containsOnlyKeys("to", "ports"));
    assertThat(rules.get(0)).isEqualTo(Map.of("to", List.of(gatewayPeer), "ports", List.of(
        tcp(config.listeners().http().getPort()), tcp(config.listeners().socks().getPort()))));
    assertThat(rules.get(1)).isEqualTo(Map.of("to", List.of(KUBE_DNS), "ports", List.of(
        Map.of("protocol", "UDP", "port", 53), tcp(53))));
    assertThat(object(GATEWAY, "Namespace", "agents")).extracting(n -> at(n, "metadata", "labels",
        "pod-security.kubernetes.io/enforce")).as("hostNetwork forbidden in agents").isEqualTo("restricted");
  }

  @Test
  void gatewayAdmitsOnlyTheAgentNamespaceAndReachesOnlyPublicAddresses() throws ConfigException {
    Map<String, Object> policy = object(GATEWAY, "NetworkPolicy", "egressd-gateway");
    DaemonConfig config = config(GATEWAY, "egressd-gateway");

    assertThat(at(policy, "spec", "podSelector", "matchLabels")).isEqualTo(gatewayPodLabels());
    assertThat(at(policy, "spec", "policyTypes")).isEqualTo(List.of("Ingress", "Egress"));
    assertThat(at(policy, "spec", "ingress")).isEqualTo(List.of(Map.of(
        "from", List.of(Map.of("namespaceSelector", Map.of("matchLabels",
            Map.of("kubernetes.io/metadata.name", "agents")))),
        "ports", List.of(tcp(config.listeners().http().getPort()), tcp(config.listeners().socks().getPort())))));
    assertPublicOrDnsOnly(policy);
  }

  @Test
  void gatewayServesThePodNetworkButNeverPrivateDestinations() throws ConfigException {
    DaemonConfig config = config(GATEWAY, "egressd-gateway");

    assertThat(config.listeners().nonLoopbackAllowed()).isTrue();
    assertThat(config.listeners().http()).isEqualTo(new InetSocketAddress("0.0.0.0", 3128));
    assertThat(config.listeners().socks()).isEqualTo(new InetSocketAddress("0.0.0.0", 8081));
    // UDP relay ports are per association on the pod address; neither the Service nor the policies carry them.
    assertThat(config.listeners().socksUdpEnabled()).isFalse();
    assertThat(config.policy().allowLocalBinding()).isFalse();
    assertThat(config.telemetry().adminListen()).isEqualTo(new InetSocketAddress("127.0.0.1", 9464));
  }

  @Test
  void gatewayServiceRoutesToTheGatewayPodsListeners() throws ConfigException {
    Map<String, Object> service = object(GATEWAY, "Service", "egressd-gateway");
    DaemonConfig config = config(GATEWAY, "egressd-gateway");
    Map<String, Object> egressd = containers(podSpec(object(GATEWAY, "Deployment", "egressd-gateway")))
        .get("egressd");
    List<Integer> targets = new ArrayList<>();
    for (Map<String, Object> port : maps(at(service, "spec", "ports"), "ports")) {
      Object target = port.get("targetPort");
      maps(egressd.get("ports"), "container ports").stream().filter(p -> target.equals(p.get("name")))
          .forEach(p -> targets.add((Integer) p.get("containerPort")));
    }

    assertThat(at(service, "spec", "selector")).isEqualTo(gatewayPodLabels());
    assertThat(at(service, "spec", "type")).isEqualTo("ClusterIP");
    assertThat(targets).containsExactly(config.listeners().http().getPort(), config.listeners().socks().getPort());
  }

  @Test
  void gatewayAgentsUseTheGatewayService() throws ConfigException {
    Map<String, Object> agent = object(GATEWAY, "Deployment", "agent");
    Map<String, Object> service = object(GATEWAY, "Service", "egressd-gateway");
    String host = at(service, "metadata", "name") + "." + at(service, "metadata", "namespace") + ".svc";

    assertThat(at(agent, "metadata", "namespace")).isEqualTo("agents");
    assertProxyVariables(environment(containers(podSpec(agent)).get("agent")), host, config(GATEWAY,
        "egressd-gateway"));
  }

  static Stream<Arguments> egressdContainers() {
    return Stream.of(Arguments.of(SIDECAR, "agent"), Arguments.of(GATEWAY, "egressd-gateway")).map(a -> {
      String file = (String) a.get()[0];
      Map<String, Object> spec = podSpec(object(file, "Deployment", (String) a.get()[1]));
      Map<String, Object> egressd = containers(spec).get("egressd");
      assertThat(egressd).as("container egressd in %s", file).isNotNull();
      return Arguments.of(file, spec, egressd);
    });
  }

  private static DaemonConfig config(String file, String configMap) throws ConfigException {
    return ConfigLoader.parse(DeploymentFiles.configMapToml(file, configMap), file, null);
  }

  private static Map<String, Object> gatewayPodLabels() {
    return map(at(object(GATEWAY, "Deployment", "egressd-gateway"), "spec", "template", "metadata", "labels"),
        "gateway pod labels");
  }

  private static Object configMapVolume(Map<String, Object> podSpec, String volume) {
    return maps(podSpec.get("volumes"), "volumes").stream().filter(v -> volume.equals(v.get("name")))
        .map(v -> v.get("configMap")).filter(c -> c != null).findFirst().orElse(null);
  }

  private static Map<String, Object> tcp(int port) {
    return Map.of("protocol", "TCP", "port", port);
  }

  /** Every egress rule goes to the cluster DNS on port 53, or to 0.0.0.0/0 with every private range excepted. */
  private static void assertPublicOrDnsOnly(Map<String, Object> policy) {
    List<Map<String, Object>> rules = maps(at(policy, "spec", "egress"), "egress");

    assertThat(rules).isNotEmpty().allSatisfy(rule -> {
      assertThat(rule).containsKey("to");
      for (Map<String, Object> peer : maps(rule.get("to"), "to")) {
        if (peer.containsKey("ipBlock")) {
          assertThat(at(peer, "ipBlock", "cidr")).isEqualTo("0.0.0.0/0");
          assertThat(DeploymentFiles.list(at(peer, "ipBlock", "except"), "except")).containsAll(PRIVATE_IPV4);
        } else {
          assertThat(peer).isEqualTo(KUBE_DNS);
          assertThat(maps(rule.get("ports"), "ports")).extracting(p -> p.get("port")).containsOnly(53);
        }
      }
    });
  }

  private static void assertProxyVariables(Map<String, String> env, String host, DaemonConfig config) {
    for (String name : List.of("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")) {
      assertThat(URI.create(String.valueOf(env.get(name)))).as(name)
          .isEqualTo(URI.create("http://" + host + ":" + config.listeners().http().getPort()));
    }
    for (String name : List.of("ALL_PROXY", "all_proxy")) {
      assertThat(URI.create(String.valueOf(env.get(name)))).as(name)
          .isEqualTo(URI.create("socks5h://" + host + ":" + config.listeners().socks().getPort()));
    }
    assertThat(env).containsEntry("NO_PROXY", "").containsEntry("no_proxy", "");
  }
}
