package dev.egressd.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/**
 * The deployment files under {@code docker/} (Dockerfile, compose file, Kubernetes manifests, the image's default
 * config), read the way their tools read them, for the tests that keep them honest.
 */
final class DeploymentFiles {
  /** Where the image, compose and Kubernetes files expect the config. */
  static final String CONFIG_PATH = "/etc/egressd/egressd.toml";

  private DeploymentFiles() {}

  /** The repository root: the nearest directory up from the working directory with docker/Dockerfile in it. */
  static Path root() {
    for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
      if (Files.isRegularFile(dir.resolve("docker/Dockerfile")) && Files.isRegularFile(dir.resolve("pom.xml"))) {
        return dir;
      }
    }
    return fail("no docker/Dockerfile above %s", Path.of("").toAbsolutePath());
  }

  static Path file(String relative) {
    Path path = root().resolve(relative);
    assertThat(path).as(relative).isRegularFile();
    return path;
  }

  static String read(String relative) {
    try {
      return Files.readString(file(relative));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Every document of a YAML file, as maps (SnakeYAML's safe constructor: no custom tags). */
  static List<Map<String, Object>> yamlDocuments(String relative) {
    List<Map<String, Object>> documents = new ArrayList<>();
    for (Object document : new Yaml(new SafeConstructor(new LoaderOptions())).loadAll(read(relative))) {
      if (document != null) {
        documents.add(map(document, relative));
      }
    }
    return documents;
  }

  /** The only document of a YAML file. */
  static Map<String, Object> yaml(String relative) {
    List<Map<String, Object>> documents = yamlDocuments(relative);
    assertThat(documents).as("documents in %s", relative).hasSize(1);
    return documents.get(0);
  }

  /** The one Kubernetes object of {@code kind} named {@code name} in a manifest file. */
  static Map<String, Object> object(String relative, String kind, String name) {
    List<Map<String, Object>> found = yamlDocuments(relative).stream()
        .filter(d -> kind.equals(d.get("kind")) && name.equals(at(d, "metadata", "name")))
        .toList();
    assertThat(found).as("%s %s in %s", kind, name, relative).hasSize(1);
    return found.get(0);
  }

  /** Every Kubernetes object of {@code kind} in a manifest file. */
  static List<Map<String, Object>> objects(String relative, String kind) {
    return yamlDocuments(relative).stream().filter(d -> kind.equals(d.get("kind"))).toList();
  }

  /** The value at a path of map keys, or null where any step is missing. */
  static Object at(Object node, String... keys) {
    Object current = node;
    for (String key : keys) {
      if (!(current instanceof Map<?, ?> map)) {
        return null;
      }
      current = map.get(key);
    }
    return current;
  }

  @SuppressWarnings("unchecked")
  static Map<String, Object> map(Object node, String what) {
    assertThat(node).as(what).isInstanceOf(Map.class);
    return (Map<String, Object>) node;
  }

  @SuppressWarnings("unchecked")
  static List<Object> list(Object node, String what) {
    assertThat(node).as(what).isInstanceOf(List.class);
    return (List<Object>) node;
  }

  /** The maps of a list node; a missing node is an empty list. */
  static List<Map<String, Object>> maps(Object node, String what) {
    if (node == null) {
      return List.of();
    }
    return list(node, what).stream().map(item -> map(item, what)).toList();
  }

  /** A Deployment's pod spec. */
  static Map<String, Object> podSpec(Map<String, Object> deployment) {
    return map(at(deployment, "spec", "template", "spec"), "spec.template.spec");
  }

  /** A pod's containers, init containers (native sidecars among them) first, by name. */
  static Map<String, Map<String, Object>> containers(Map<String, Object> podSpec) {
    Map<String, Map<String, Object>> byName = new LinkedHashMap<>();
    for (String key : List.of("initContainers", "containers")) {
      for (Map<String, Object> container : maps(podSpec.get(key), key)) {
        byName.put(String.valueOf(container.get("name")), container);
      }
    }
    return byName;
  }

  /** A container's environment variables with literal values. */
  static Map<String, String> environment(Map<String, Object> container) {
    Map<String, String> env = new LinkedHashMap<>();
    for (Map<String, Object> variable : maps(container.get("env"), "env")) {
      env.put(String.valueOf(variable.get("name")), Objects.toString(variable.get("value"), null));
    }
    return env;
  }

  /** The config file text of the ConfigMap a manifest file declares for egressd. */
  static String configMapToml(String relative, String configMapName) {
    Object toml = at(object(relative, "ConfigMap", configMapName), "data", "egressd.toml");
    assertThat(toml).as("data.egressd.toml of ConfigMap %s in %s", configMapName, relative).isInstanceOf(String.class);
    return (String) toml;
  }

  /** The config file text compose mounts into egressd, from the inline {@code configs} entry. */
  static String composeToml() {
    Map<String, Object> compose = yaml("docker/compose.yaml");
    List<Map<String, Object>> mounts = maps(at(compose, "services", "egressd", "configs"), "services.egressd.configs");
    List<Object> sources = mounts.stream().filter(m -> CONFIG_PATH.equals(m.get("target"))).map(m -> m.get("source"))
        .toList();
    assertThat(sources).as("configs of egressd mounted at %s", CONFIG_PATH).hasSize(1);
    Object content = at(compose, "configs", String.valueOf(sources.get(0)), "content");
    assertThat(content).as("inline content of config %s", sources.get(0)).isInstanceOf(String.class);
    return (String) content;
  }

  /** Every config the deployment files give egressd, by where it comes from. */
  static Map<String, String> configs() {
    Map<String, String> configs = new LinkedHashMap<>();
    configs.put("docker/egressd.toml", read("docker/egressd.toml"));
    configs.put("docker/compose.yaml", composeToml());
    configs.put("docker/k8s/sidecar.yaml", configMapToml("docker/k8s/sidecar.yaml", "agent-egressd"));
    configs.put("docker/k8s/gateway.yaml", configMapToml("docker/k8s/gateway.yaml", "egressd-gateway"));
    return configs;
  }

  /**
   * One Dockerfile instruction, continuation lines joined and comments dropped.
   *
   * @param stage 0 for the first {@code FROM}'s stage, 1 for the next, ...
   */
  record Instruction(int stage, String keyword, String arguments) {}

  /** The instructions of docker/Dockerfile in order. */
  static List<Instruction> dockerfile() {
    List<Instruction> instructions = new ArrayList<>();
    StringBuilder pending = new StringBuilder();
    int stage = -1;
    for (String line : read("docker/Dockerfile").split("\n", -1)) {
      String trimmed = line.strip();
      if (trimmed.startsWith("#") || (trimmed.isEmpty() && pending.isEmpty())) {
        continue;
      }
      if (trimmed.endsWith("\\")) {
        pending.append(trimmed, 0, trimmed.length() - 1).append(' ');
        continue;
      }
      pending.append(trimmed);
      String text = pending.toString().strip();
      pending.setLength(0);
      if (text.isEmpty()) {
        continue;
      }
      int space = text.indexOf(' ');
      String keyword = (space < 0 ? text : text.substring(0, space)).toUpperCase(Locale.ROOT);
      if (keyword.equals("FROM")) {
        stage++;
      }
      instructions.add(new Instruction(stage, keyword, space < 0 ? "" : text.substring(space + 1).strip()));
    }
    return instructions;
  }

  /** The Dockerfile's ARGs declared before the first FROM (the ones a FROM may use), with their defaults. */
  static Map<String, String> globalArgs() {
    Map<String, String> args = new LinkedHashMap<>();
    dockerfile().stream().filter(i -> i.stage() < 0 && i.keyword().equals("ARG")).map(Instruction::arguments)
        .forEach(arg -> {
          int equals = arg.indexOf('=');
          args.put(equals < 0 ? arg : arg.substring(0, equals), equals < 0 ? "" : arg.substring(equals + 1));
        });
    return args;
  }

  /** Each FROM's image as a build without --build-arg uses it: {@code ${NAME}} replaced by the ARG's default. */
  static List<String> defaultFromImages() {
    Map<String, String> args = globalArgs();
    return dockerfile().stream().filter(i -> i.keyword().equals("FROM")).map(i -> i.arguments().split(" ")[0])
        .map(image -> image.startsWith("${") && image.endsWith("}")
            ? Objects.requireNonNull(args.get(image.substring(2, image.length() - 1)), image) : image)
        .toList();
  }

  /** The instructions of the Dockerfile's last stage, the runtime image. */
  static List<Instruction> runtimeStage() {
    List<Instruction> instructions = dockerfile();
    int last = instructions.get(instructions.size() - 1).stage();
    return instructions.stream().filter(i -> i.stage() == last).toList();
  }

  /** The runtime stage's last instruction with this keyword (the one in force). */
  static Instruction lastInRuntimeStage(String keyword) {
    List<Instruction> found = runtimeStage().stream().filter(i -> i.keyword().equals(keyword)).toList();
    assertThat(found).as("%s in the runtime stage", keyword).isNotEmpty();
    return found.get(found.size() - 1);
  }

  /** The exec-form command of the runtime stage's HEALTHCHECK. */
  static List<String> healthcheckCommand() {
    String arguments = lastInRuntimeStage("HEALTHCHECK").arguments();
    int cmd = arguments.indexOf("CMD [");
    assertThat(cmd).as("exec-form CMD in HEALTHCHECK %s", arguments).isNotNegative();
    return execForm(arguments.substring(cmd + "CMD ".length()));
  }

  /** The numeric uid of the runtime stage's USER. */
  static int imageUid() {
    String user = lastInRuntimeStage("USER").arguments();
    return Integer.parseInt(user.contains(":") ? user.substring(0, user.indexOf(':')) : user);
  }

  /** The JSON array of an exec-form instruction argument, e.g. {@code ["run", "--config", "F"]}. */
  static List<String> execForm(String json) {
    Object parsed = new Yaml(new SafeConstructor(new LoaderOptions())).load(json); // JSON is YAML
    return list(parsed, json).stream().map(String::valueOf).toList();
  }
}
