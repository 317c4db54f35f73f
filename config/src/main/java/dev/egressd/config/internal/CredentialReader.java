package dev.egressd.config.internal;

import dev.egressd.policy.HostPattern;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.tomlj.Toml;
import org.tomlj.TomlArray;
import org.tomlj.TomlPosition;
import org.tomlj.TomlTable;

/**
 * Reads {@code [network.credentials.NAME]} tables into {@link Spec}s; {@code ConfigAssembler} reads the secrets and
 * makes the stand-ins once every layer is merged.
 */
final class CredentialReader {
  private static final Set<String> KEYS = Set.of("secret_env_var", "secret_file", "hosts", "child_env_var",
      "header");

  /** One credential as written. */
  record Spec(String name, SecretSource secret, List<HostPattern> hosts, String childVariable, String header,
      TomlPosition position, String key) {}

  private final Diagnostics diagnostics;
  private boolean valid = true;

  private CredentialReader(Diagnostics diagnostics) {
    this.diagnostics = diagnostics;
  }

  /** The credentials of {@code table}, or null when any is invalid (every problem is reported). */
  static List<Spec> read(TomlTable table, String keyPath, Diagnostics diagnostics) {
    CredentialReader reader = new CredentialReader(diagnostics);
    List<Spec> specs = new ArrayList<>();
    for (String name : table.keySet()) {
      String path = keyPath + "." + Toml.joinKeyPath(List.of(name));
      TomlPosition position = table.inputPositionOf(List.of(name));
      if (!(table.get(List.of(name)) instanceof TomlTable credential)) {
        reader.error(position, path, "expected a table (secret_env_var or secret_file, hosts, child_env_var), found "
            + TableNode.typeOf(table.get(List.of(name))));
        continue;
      }
      Spec spec = reader.credential(name, credential, position, path);
      if (spec != null) {
        specs.add(spec);
      }
    }
    return reader.valid ? specs : null;
  }

  private Spec credential(String name, TomlTable table, TomlPosition position, String path) {
    for (String key : table.keySet()) {
      if (!KEYS.contains(key)) {
        error(table.inputPositionOf(List.of(key)), sub(path, key), "unknown key"
            + Suggestions.didYouMean(key, new java.util.TreeSet<>(KEYS)));
      }
    }
    String child = string(table, "child_env_var", path);
    String header = string(table, "header", path);
    SecretSource secret = SecretSource.read(table, position, path, diagnostics);
    if (secret == null) {
      valid = false;
      return null;
    }
    if (child == null) {
      error(position, path, "a credential needs child_env_var, the variable that gives the agent its stand-in");
      return null;
    }
    if (!child.matches("[A-Za-z_][A-Za-z0-9_]*")) {
      error(table.inputPositionOf(List.of("child_env_var")), sub(path, "child_env_var"), "\"" + child
          + "\" is not an environment variable name");
      return null;
    }
    String headerName = header == null ? "authorization" : header.trim().toLowerCase(Locale.ROOT);
    if (!headerName.matches("[!#$%&'*+.^_`|~0-9a-z-]+") || HookReader.RESERVED_HEADERS.contains(headerName)) {
      error(table.inputPositionOf(List.of("header")), sub(path, "header"), "\"" + header
          + "\" cannot carry a credential (not a header name, or one that frames or routes the request)");
      return null;
    }
    List<HostPattern> hosts = hosts(table, position, path);
    if (hosts == null) {
      return null;
    }
    return new Spec(name, secret, hosts, child, headerName, position, path);
  }

  private List<HostPattern> hosts(TomlTable table, TomlPosition position, String path) {
    Object value = table.get(List.of("hosts"));
    if (value == null) {
      error(position, path, "a credential needs hosts, the hosts its secret belongs to");
      return null;
    }
    if (!(value instanceof TomlArray array) || array.isEmpty()) {
      error(table.inputPositionOf(List.of("hosts")), sub(path, "hosts"), "expected a non-empty array of host"
          + " patterns");
      return null;
    }
    List<HostPattern> hosts = new ArrayList<>();
    for (int i = 0; i < array.size(); i++) {
      String elementPath = sub(path, "hosts") + "[" + i + "]";
      if (!(array.get(i) instanceof String text)) {
        error(array.inputPositionOf(i), elementPath, "expected a string, found " + TableNode.typeOf(array.get(i)));
        continue;
      }
      try {
        HostPattern pattern = HostPattern.parse(text);
        if (pattern.isGlobal()) {
          error(array.inputPositionOf(i), elementPath, "a secret cannot belong to every host; name the hosts");
          continue;
        }
        hosts.add(pattern);
      } catch (IllegalArgumentException e) {
        error(array.inputPositionOf(i), elementPath, e.getMessage());
      }
    }
    return hosts.size() == array.size() ? hosts : null;
  }

  private String string(TomlTable table, String key, String path) {
    Object value = table.get(List.of(key));
    if (value == null || value instanceof String) {
      return (String) value;
    }
    error(table.inputPositionOf(List.of(key)), sub(path, key), "expected a string, found " + TableNode.typeOf(value));
    return null;
  }

  private void error(TomlPosition position, String key, String message) {
    valid = false;
    diagnostics.error(position, key, message);
  }

  private static String sub(String path, String key) {
    return path + "." + Toml.joinKeyPath(List.of(key));
  }
}
