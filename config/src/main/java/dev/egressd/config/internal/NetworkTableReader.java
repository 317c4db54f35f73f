package dev.egressd.config.internal;

import dev.egressd.policy.AccessMode;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.tomlj.TomlArray;
import org.tomlj.TomlTable;

/**
 * Validates one network table and overlays it onto a {@link MergedNetwork}. Every key must be known: a typo such as
 * {@code alowed_domains} must never silently weaken policy. Keys for features egressd does not implement are
 * accepted only while they leave the feature off, because ignoring them would change what is enforced.
 */
public final class NetworkTableReader {
  private interface Handler {
    void read(NetworkTableReader reader, String key, Object value);
  }

  private static final Set<String> FLAGS = Set.of("enabled", "enable_socks5", "enable_socks5_udp",
      "allow_upstream_proxy", "dangerously_allow_non_loopback_proxy", "dangerously_allow_all_unix_sockets",
      "allow_local_binding");
  private static final Map<String, Handler> HANDLERS = handlers();
  private static final Set<String> MITM_KEYS = Set.of("enabled", "hooks", "actions", "inspect", "max_body_bytes",
      "ca_cert_path", "ca_key_path");
  /** {@code [network.decider]} (an egressd extension): each key is merged as {@code decider.KEY}. */
  private static final Map<String, Class<?>> DECIDER_KEYS = Map.of("url", String.class, "unix_socket", String.class,
      "path", String.class, "timeout", Number.class, "token_env", String.class);

  private final TableNode node;
  private final MergedNetwork merged;
  private final Diagnostics diagnostics;
  private final RuleReader rules;

  private NetworkTableReader(TableNode node, int layer, MergedNetwork merged, Diagnostics diagnostics) {
    this.node = node;
    this.merged = merged;
    this.diagnostics = diagnostics;
    this.rules = new RuleReader(node, layer, merged, diagnostics);
  }

  /** Reads {@code node}, the layer with index {@code layer}, into {@code merged}. */
  public static void read(TableNode node, int layer, MergedNetwork merged, Diagnostics diagnostics) {
    NetworkTableReader reader = new NetworkTableReader(node, layer, merged, diagnostics);
    for (String key : node.table().keySet()) {
      Handler handler = HANDLERS.get(key);
      if (handler == null) {
        reader.unknownKey(node, key, HANDLERS.keySet());
      } else {
        handler.read(reader, key, node.get(key));
      }
    }
  }

  private static Map<String, Handler> handlers() {
    Map<String, Handler> handlers = new HashMap<>();
    FLAGS.forEach(flag -> handlers.put(flag, NetworkTableReader::readFlag));
    handlers.put("proxy_url", NetworkTableReader::readListenUrl);
    handlers.put("socks_url", NetworkTableReader::readListenUrl);
    handlers.put("mode", NetworkTableReader::readMode);
    handlers.put("socks_username", NetworkTableReader::readString);
    handlers.put("mitm_domains", (r, k, v) -> r.rules.readPatternList(k, v));
    handlers.put("mitm_bypass", (r, k, v) -> r.rules.readPatternList(k, v));
    handlers.put("mitm_ca_cert_path", NetworkTableReader::readString);
    handlers.put("mitm_ca_key_path", NetworkTableReader::readString);
    handlers.put("mitm_upstream_ca_bundle", NetworkTableReader::readString);
    handlers.put("socks_password_env", NetworkTableReader::readString);
    handlers.put("upstream_proxy", NetworkTableReader::readString);
    handlers.put("upstream_proxy_username", NetworkTableReader::readString);
    handlers.put("upstream_proxy_password_env", NetworkTableReader::readString);
    handlers.put("upstream_proxy_ca_bundle", NetworkTableReader::readString);
    handlers.put("upstream_resolution", (r, k, v) -> r.readChoice(k, v, "a resolution", "local", "parent"));
    handlers.put("enforcement", (r, k, v) -> r.readChoice(k, v, "an enforcement", "enforce", "report"));
    handlers.put("mitm", NetworkTableReader::readMitm);
    handlers.put("decider", NetworkTableReader::readDecider);
    handlers.put("allowed_domains", (r, k, v) -> r.rules.readHostArray(k, v, RuleTable.Action.ALLOW));
    handlers.put("denied_domains", (r, k, v) -> r.rules.readHostArray(k, v, RuleTable.Action.DENY));
    handlers.put("asked_domains", (r, k, v) -> r.rules.readHostArray(k, v, RuleTable.Action.ASK));
    handlers.put("default", NetworkTableReader::readDefault);
    handlers.put("ask_timeout", NetworkTableReader::readSeconds);
    handlers.put("domains", (r, k, v) -> r.rules.readHostTable(k, v));
    handlers.put("allow_unix_sockets", (r, k, v) -> r.rules.readSocketArray(k, v));
    handlers.put("unix_sockets", (r, k, v) -> r.rules.readSocketTable(k, v));
    handlers.put("admin_url", (r, k, v) -> r.readIgnored(k, v, String.class, "a string"));
    handlers.put("dangerously_allow_non_loopback_admin", (r, k, v) -> r.readIgnored(k, v, Boolean.class,
        "a boolean"));
    handlers.put("credential_broker", NetworkTableReader::readUnsupportedFlag);
    handlers.put("dangerously_allow_plaintext_credential_injection", NetworkTableReader::readUnsupportedFlag);
    handlers.put("mitm_hooks", NetworkTableReader::readHooks);
    handlers.put("credentials", NetworkTableReader::readCredentials);
    handlers.put("credential_providers", NetworkTableReader::readUnsupportedTable);
    return Map.copyOf(handlers);
  }

  private void readFlag(String key, Object value) {
    if (expect(node, key, value, Boolean.class, "a boolean")) {
      merged.set(key, node.locate(key, value));
    }
  }

  private void readString(String key, Object value) {
    if (expect(node, key, value, String.class, "a string")) {
      merged.set(key, node.locate(key, value));
    }
  }

  private void readSeconds(String key, Object value) {
    if (value instanceof Number) {
      merged.set(key, node.locate(key, value));
    } else {
      typeError(node, key, "seconds (e.g. 120 or 0.5)", value);
    }
  }

  /** {@code default}: what a host no rule matches gets, {@code "deny"} (the reference's only behaviour) or ask. */
  private void readDefault(String key, Object value) {
    if (!expect(node, key, value, String.class, "a string")) {
      return;
    }
    if (value.equals("deny") || value.equals("ask")) {
      merged.set(key, node.locate(key, value));
    } else {
      diagnostics.error(node.position(key), node.keyPath(key), "\"" + value + "\" is not one of \"deny\", \"ask\"; "
          + "to allow every host, add \"*\" to allowed_domains");
    }
  }

  private void readListenUrl(String key, Object value) {
    if (!expect(node, key, value, String.class, "a string")) {
      return;
    }
    try {
      // Syntax only here; clamping needs the merged flags and happens once all layers are read.
      ListenAddresses.parse((String) value, 0, true, new ArrayList<>());
      merged.set(key, node.locate(key, value));
    } catch (IllegalArgumentException e) {
      diagnostics.error(node.position(key), node.keyPath(key), e.getMessage());
    }
  }

  private void readMode(String key, Object value) {
    if (!expect(node, key, value, String.class, "a string")) {
      return;
    }
    switch ((String) value) {
      case "full" -> merged.set(key, node.locate(key, AccessMode.FULL));
      case "limited" -> merged.set(key, node.locate(key, AccessMode.LIMITED));
      default -> diagnostics.error(node.position(key), node.keyPath(key),
          "\"" + value + "\" is not a mode (expected: \"full\" or \"limited\", in lower case)");
    }
  }

  /** A string that must be one of {@code choices}, e.g. {@code enforcement} or {@code upstream_resolution}. */
  private void readChoice(String key, Object value, String noun, String... choices) {
    if (!expect(node, key, value, String.class, "a string")) {
      return;
    }
    if (List.of(choices).contains(value)) {
      merged.set(key, node.locate(key, value));
    } else {
      diagnostics.error(node.position(key), node.keyPath(key), "\"" + value + "\" is not " + noun + " (expected: \""
          + String.join("\" or \"", choices) + "\", in lower case)");
    }
  }

  private void readMitm(String key, Object value) {
    if (value instanceof Boolean) {
      merged.set(key, node.locate(key, value));
    } else if (value instanceof TomlTable) {
      readMitmTable(node.child(key));
    } else {
      typeError(node, key, "a boolean or a table", value);
    }
  }

  private void readMitmTable(TableNode mitm) {
    for (String key : mitm.table().keySet()) {
      Object value = mitm.get(key);
      switch (key) {
        case "enabled" -> {
          if (expect(mitm, key, value, Boolean.class, "a boolean")) {
            merged.set("mitm", mitm.locate(key, value));
          }
        }
        case "hooks", "actions" -> {
          if (expect(mitm, key, value, TomlTable.class, "a table") && !((TomlTable) value).isEmpty()) {
            unsupported(mitm, key, "the named mitm." + key + " form is not supported; ignoring it would change what"
                + " is enforced, so write each hook as [[network.mitm_hooks]] with host, match and actions");
          }
        }
        case "ca_cert_path", "ca_key_path" -> {
          if (expect(mitm, key, value, String.class, "a string")) {
            merged.set("mitm_" + key, mitm.locate(key, value)); // Codex G1 spelling of mitm_ca_cert_path etc.
          }
        }
        case "inspect", "max_body_bytes" -> diagnostics.warn(mitm.position(key),
            mitm.keyPath(key), "ignored (egressd does not log bodies)");
        default -> unknownKey(mitm, key, MITM_KEYS);
      }
    }
  }

  private void readDecider(String key, Object value) {
    if (!expect(node, key, value, TomlTable.class, "a table")) {
      return;
    }
    TableNode decider = node.child(key);
    for (String name : decider.table().keySet()) {
      Class<?> type = DECIDER_KEYS.get(name);
      Object setting = decider.get(name);
      if (name.equals("ask_timeout")) {
        diagnostics.error(decider.position(name), decider.keyPath(name), "moved to the network table: set"
            + " ask_timeout next to allowed_domains (it bounds every ask, the decider's and the rules')");
      } else if (type == null) {
        unknownKey(decider, name, DECIDER_KEYS.keySet());
      } else if (type.isInstance(setting)) {
        merged.set("decider." + name, decider.locate(name, setting));
      } else {
        typeError(decider, name, type == Number.class ? "seconds (e.g. 5 or 0.5)" : "a string", setting);
      }
    }
  }

  private void readIgnored(String key, Object value, Class<?> type, String expected) {
    if (expect(node, key, value, type, expected)) {
      diagnostics.warn(node.position(key), node.keyPath(key), "ignored (egressd has no Codex-style admin API)");
    }
  }

  private void readUnsupportedFlag(String key, Object value) {
    if (expect(node, key, value, Boolean.class, "a boolean") && (Boolean) value) {
      unsupported(node, key, "not supported by egressd; ignoring it would change what is enforced, so set it to"
          + " false or remove it");
    }
  }

  private void readCredentials(String key, Object value) {
    if (expect(node, key, value, TomlTable.class, "a table of [network.credentials.NAME] tables")) {
      List<CredentialReader.Spec> credentials = CredentialReader.read((TomlTable) value, node.keyPath(key),
          diagnostics);
      if (credentials != null) {
        merged.set(key, node.locate(key, credentials));
      }
    }
  }

  private void readHooks(String key, Object value) {
    if (expect(node, key, value, TomlArray.class, "an array of tables ([[network.mitm_hooks]])")) {
      List<HookReader.Spec> hooks = HookReader.read((TomlArray) value, node.keyPath(key), diagnostics);
      if (hooks != null) {
        merged.set(key, node.locate(key, hooks));
      }
    }
  }

  private void readUnsupportedTable(String key, Object value) {
    if (expect(node, key, value, TomlTable.class, "a table") && !((TomlTable) value).isEmpty()) {
      unsupported(node, key, "credential providers are not supported by egressd; remove them");
    }
  }

  private void unsupported(TableNode table, String key, String message) {
    diagnostics.error(table.position(key), table.keyPath(key), message);
  }

  private void unknownKey(TableNode table, String key, Set<String> known) {
    diagnostics.error(table.position(key), table.keyPath(key),
        "unknown key" + Suggestions.didYouMean(key, new TreeSet<>(known)));
  }

  private boolean expect(TableNode table, String key, Object value, Class<?> type, String expected) {
    if (type.isInstance(value)) {
      return true;
    }
    typeError(table, key, expected, value);
    return false;
  }

  private void typeError(TableNode table, String key, String expected, Object value) {
    diagnostics.error(table.position(key), table.keyPath(key),
        "expected " + expected + ", found " + TableNode.typeOf(value));
  }

  /** The keys a network table may contain, for documentation and tests. */
  public static List<String> knownKeys() {
    return HANDLERS.keySet().stream().sorted().toList();
  }
}
