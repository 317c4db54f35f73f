package dev.egressd.config.internal;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.tomlj.TomlPosition;
import org.tomlj.TomlTable;

/**
 * Picks the network tables of a document, lowest precedence first: {@code [features.network_proxy]} (when it is a
 * table), then {@code [network]}, then {@code [permissions.<profile>.network]} for the profile named by
 * {@code --profile} or {@code default_permissions}. Later layers override earlier ones key by key, which is
 * Codex's effective precedence. Built-in profiles ({@code :workspace}...) have no network table of their own.
 */
public final class LayerSelector {
  private static final Set<String> BUILT_IN_PROFILES = Set.of(":read-only", ":workspace", ":danger-full-access");

  /**
   * One network table and how to name it in messages.
   *
   * @param label e.g. {@code profile "workspace"} or {@code [network]}
   */
  public record NetworkLayer(TableNode node, String label) {}

  /**
   * The layers to merge, lowest precedence first.
   *
   * @param profile the selected profile name, or null
   */
  public record Selection(List<NetworkLayer> layers, String profile) {
    /** Copies the list. */
    public Selection {
      layers = List.copyOf(layers);
    }

    /** The table an operator should edit: the highest layer, or {@code [network]} when there is none. */
    public String scopeLabel() {
      return layers.isEmpty() ? "[network]" : layers.get(layers.size() - 1).label();
    }
  }

  private final TableNode root;
  private final Diagnostics diagnostics;

  private LayerSelector(TableNode root, Diagnostics diagnostics) {
    this.root = root;
    this.diagnostics = diagnostics;
  }

  /** Selects the layers of {@code root}; problems go to {@code diagnostics}. */
  public static Selection select(TableNode root, String profileOverride, Diagnostics diagnostics) {
    return new LayerSelector(root, diagnostics).select(profileOverride);
  }

  private Selection select(String profileOverride) {
    List<NetworkLayer> layers = new ArrayList<>();
    featuresLayer().ifPresent(layers::add);
    tableLayer(root, "network", "[network]").ifPresent(layers::add);
    String profile = profileName(profileOverride);
    if (profile != null) {
      profileLayer(profile, profileOverride != null).ifPresent(layers::add);
    }
    if (root.get("network_proxy") instanceof TomlTable) {
      diagnostics.warn(root.position("network_proxy"), "network_proxy", "this older Codex layout is ignored; "
          + "move its keys (and those of [network_proxy.policy]) into [network]");
    }
    return new Selection(layers, profile);
  }

  private Optional<NetworkLayer> featuresLayer() {
    if (!(root.get("features") instanceof TomlTable)) {
      return Optional.empty();
    }
    TableNode features = root.child("features");
    Object value = features.get("network_proxy");
    if (value == null || value instanceof Boolean) {
      // The bool form is Codex's on/off switch for its embedded proxy; it carries no settings for egressd.
      return Optional.empty();
    }
    return tableLayer(features, "network_proxy", "[features.network_proxy]", "a boolean or a table");
  }

  private Optional<NetworkLayer> tableLayer(TableNode parent, String key, String label) {
    return tableLayer(parent, key, label, "a table");
  }

  private Optional<NetworkLayer> tableLayer(TableNode parent, String key, String label, String expected) {
    Object value = parent.get(key);
    if (value == null) {
      return Optional.empty();
    }
    if (!(value instanceof TomlTable)) {
      diagnostics.error(parent.position(key), parent.keyPath(key),
          "expected " + expected + ", found " + TableNode.typeOf(value));
      return Optional.empty();
    }
    return Optional.of(new NetworkLayer(parent.child(key), label));
  }

  private String profileName(String profileOverride) {
    if (profileOverride != null) {
      if (profileOverride.isBlank()) {
        diagnostics.error(null, "--profile", "must not be empty");
        return null;
      }
      return profileOverride;
    }
    Object value = root.get("default_permissions");
    if (value == null) {
      return null;
    }
    if (value instanceof String name && !name.isBlank()) {
      return name;
    }
    diagnostics.error(root.position("default_permissions"), "default_permissions",
        "expected a profile name, found " + (value instanceof String ? "an empty string" : TableNode.typeOf(value)));
    return null;
  }

  private Optional<NetworkLayer> profileLayer(String name, boolean fromCli) {
    TomlPosition position = fromCli ? null : root.position("default_permissions");
    String key = fromCli ? "--profile" : "default_permissions";
    if (name.startsWith(":")) {
      if (!BUILT_IN_PROFILES.contains(name)) {
        diagnostics.error(position, key, "unknown built-in profile \"" + name
            + "\" (expected: :read-only, :workspace, :danger-full-access or a [permissions.<name>] table)");
      }
      return Optional.empty();
    }
    Object permissions = root.get("permissions");
    Object profile = permissions instanceof TomlTable table ? table.get(List.of(name)) : null;
    if (profile == null) {
      diagnostics.error(position, key, "permissions profile \"" + name + "\" is not defined (" + defined() + ")");
      return Optional.empty();
    }
    TableNode permissionsNode = root.child("permissions");
    Optional<NetworkLayer> layer = tableLayer(permissionsNode, name, "profile \"" + name + "\"")
        .flatMap(p -> tableLayer(p.node(), "network", "profile \"" + name + "\""));
    if (profile instanceof TomlTable) {
      rejectInheritedNetwork(permissionsNode, permissionsNode.child(name));
    }
    return layer;
  }

  private String defined() {
    Object permissions = root.get("permissions");
    if (!(permissions instanceof TomlTable table) || table.isEmpty()) {
      return "this file has no [permissions.<name>] tables";
    }
    return "defined: " + String.join(", ", table.keySet()) + "; built-in: :read-only, :workspace, :danger-full-access";
  }

  // Codex profiles only extend built-ins in practice; inheriting from a user profile with network rules has no
  // documented merge semantics, and silently dropping its deny rules would weaken policy, so it is refused.
  private void rejectInheritedNetwork(TableNode permissions, TableNode profile) {
    Set<String> seen = new HashSet<>();
    seen.add(profile.path().get(profile.path().size() - 1));
    Object parent = profile.get("extends");
    while (parent instanceof String name && !name.startsWith(":") && seen.add(name)
        && permissions.get(name) instanceof TomlTable ancestor) {
      if (ancestor.get(List.of("network")) != null) {
        diagnostics.error(profile.position("extends"), profile.keyPath("extends"), "extends \"" + name
            + "\", which has network settings; egressd does not inherit network settings through extends, so copy "
            + "them into [" + profile.keyPath() + ".network]");
        return;
      }
      parent = ancestor.get(List.of("extends"));
    }
  }
}
