package dev.egressd.config.internal;

import dev.egressd.policy.HostPattern;
import dev.egressd.policy.RuleMetadata;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.tomlj.TomlArray;
import org.tomlj.TomlPosition;
import org.tomlj.TomlTable;

/**
 * Reads the host and unix-socket entries of one network table, in both Codex forms: the G2 arrays
 * ({@code allowed_domains}, {@code denied_domains}, {@code allow_unix_sockets}) and the G3 tables ({@code domains},
 * {@code unix_sockets}) mapping a pattern or path to {@code "allow"}, {@code "deny"} or {@code "none"}; plus
 * egressd's ask entries for hosts ({@code asked_domains}, {@code "pattern" = "ask"}).
 */
final class RuleReader {
  private final TableNode node;
  private final int layer;
  private final MergedNetwork merged;
  private final Diagnostics diagnostics;

  RuleReader(TableNode node, int layer, MergedNetwork merged, Diagnostics diagnostics) {
    this.node = node;
    this.layer = layer;
    this.merged = merged;
    this.diagnostics = diagnostics;
  }

  void readHostArray(String key, Object value, RuleTable.Action action) {
    forEachString(key, value, (text, position, keyPath) -> addHost(text, action, position, keyPath, node.keyPath(key)));
  }

  void readHostTable(String key, Object value) {
    forEachEntry(key, value, true, (table, pattern, action, metadata) ->
        addHost(pattern, action, metadata, table.position(pattern), table.keyPath(pattern), table.keyPath()));
  }

  /**
   * Reads {@code mitm_domains} / {@code mitm_bypass}: host patterns, replacing (not extending) a lower layer's list,
   * because which tunnels are decrypted is one decision per table.
   */
  void readPatternList(String key, Object value) {
    List<RuleTable.Entry<HostPattern>> entries = new ArrayList<>();
    boolean[] valid = {true};
    forEachString(key, value, (text, position, keyPath) -> {
      try {
        HostPattern pattern = HostPattern.parse(text);
        entries.add(new RuleTable.Entry<>(pattern, RuleTable.Action.ALLOW, layer,
            diagnostics.origin(position, node.keyPath(key)), position, keyPath));
      } catch (IllegalArgumentException e) {
        diagnostics.error(position, keyPath, e.getMessage());
        valid[0] = false;
      }
    });
    if (value instanceof TomlArray && valid[0]) {
      merged.set(key, node.locate(key, List.copyOf(entries)));
    }
  }

  void readSocketArray(String key, Object value) {
    forEachString(key, value, (path, position, keyPath) ->
        addSocket(path, RuleTable.Action.ALLOW, position, keyPath));
  }

  void readSocketTable(String key, Object value) {
    // A socket connection has no approval path, so "ask" is not offered there.
    forEachEntry(key, value, false, (table, path, action, metadata) ->
        addSocket(path, action, table.position(path), table.keyPath(path)));
  }

  private void addHost(String text, RuleTable.Action action, TomlPosition position, String keyPath, String listPath) {
    addHost(text, action, RuleMetadata.NONE, position, keyPath, listPath);
  }

  private void addHost(String text, RuleTable.Action action, RuleMetadata metadata, TomlPosition position,
      String keyPath, String listPath) {
    HostPattern pattern;
    try {
      pattern = HostPattern.parse(text);
    } catch (IllegalArgumentException e) {
      diagnostics.error(position, keyPath, e.getMessage());
      return;
    }
    if (action == RuleTable.Action.DENY && pattern.isGlobal()) {
      diagnostics.error(position, keyPath, "unsupported global wildcard domain pattern \"" + text + "\" in a deny "
          + "rule; use exact hosts or scoped wildcards like *.example.com or **.example.com");
      return;
    }
    String origin = diagnostics.origin(position, listPath);
    merged.hosts().put(pattern.canonical(), new RuleTable.Entry<>(pattern, action, layer, origin, position, keyPath,
        metadata))
        .ifPresent(old -> diagnostics.warn(position, keyPath, "replaces the deny entry \"" + old.payload().text()
            + "\" (" + old.origin() + "): a higher-precedence table wins"));
  }

  private void addSocket(String path, RuleTable.Action action, TomlPosition position, String keyPath) {
    // As in the reference, only allow entries are validated: a deny entry can only narrow access.
    if (action == RuleTable.Action.ALLOW && (!path.startsWith("/") || path.indexOf('\0') >= 0)) {
      diagnostics.error(position, keyPath, "expected a NUL-free absolute path, got \""
          + path.replace("\0", "\\u0000") + "\"");
      return;
    }
    String origin = diagnostics.origin(position, keyPath);
    merged.sockets().put(path, new RuleTable.Entry<>(path, action, layer, origin, position, keyPath))
        .ifPresent(old -> diagnostics.warn(position, keyPath, "replaces the deny entry from " + old.origin()
            + ": a higher-precedence table wins"));
  }

  private interface StringElement {
    void accept(String text, TomlPosition position, String keyPath);
  }

  private interface TableEntry {
    void accept(TableNode table, String key, RuleTable.Action action, RuleMetadata metadata);
  }

  /** The keys of the table form of a host entry ({@code "h" = { action = "allow", owner = "..." }}). */
  private static final java.util.Set<String> METADATA_KEYS = java.util.Set.of("action", "justification", "owner",
      "review_by", "report");

  private void forEachString(String key, Object value, StringElement consumer) {
    if (!(value instanceof TomlArray array)) {
      typeError(node.position(key), node.keyPath(key), "an array of strings", value);
      return;
    }
    for (int i = 0; i < array.size(); i++) {
      Object element = array.get(i);
      String elementPath = node.keyPath(key) + "[" + i + "]";
      if (element instanceof String text) {
        consumer.accept(text, array.inputPositionOf(i), elementPath);
      } else {
        typeError(array.inputPositionOf(i), elementPath, "a string", element);
      }
    }
  }

  private void forEachEntry(String key, Object value, boolean asks, TableEntry consumer) {
    if (!(value instanceof TomlTable)) {
      typeError(node.position(key), node.keyPath(key), "a table", value);
      return;
    }
    TableNode table = node.child(key);
    for (String entryKey : table.table().keySet()) {
      Object entryValue = table.get(entryKey);
      Optional<RuleTable.Action> action = entryValue instanceof String name
          ? RuleTable.Action.fromConfigName(name).filter(a -> asks || a != RuleTable.Action.ASK) : Optional.empty();
      if (action.isPresent()) {
        consumer.accept(table, entryKey, action.get(), RuleMetadata.NONE);
      } else if (asks && entryValue instanceof TomlTable) {
        readEntryTable(table.child(entryKey), consumer, table, entryKey);
      } else if (entryValue instanceof String name) {
        diagnostics.error(table.position(entryKey), table.keyPath(entryKey), "\"" + name + "\" is not one of "
            + (asks ? "\"allow\", \"ask\", \"deny\", \"none\"" : "\"allow\", \"deny\", \"none\""));
      } else {
        typeError(table.position(entryKey), table.keyPath(entryKey),
            asks ? "\"allow\", \"ask\", \"deny\", \"none\" or a table with action" : "\"allow\", \"deny\" or \"none\"",
            entryValue);
      }
    }
  }

  /**
   * The table form: {@code action} (required) plus what a team writes down about the rule; an unknown key is an
   * error, as everywhere else, so a misspelt {@code reviw_by} never silently drops a review date.
   */
  private void readEntryTable(TableNode entry, TableEntry consumer, TableNode parent, String entryKey) {
    boolean valid = true;
    for (String key : entry.table().keySet()) {
      if (!METADATA_KEYS.contains(key)) {
        diagnostics.error(entry.position(key), entry.keyPath(key), "unknown key (expected one of action,"
            + " justification, owner, review_by, report)");
        valid = false;
      }
    }
    Object actionValue = entry.get("action");
    Optional<RuleTable.Action> action = actionValue instanceof String name ? RuleTable.Action.fromConfigName(name)
        : Optional.empty();
    if (actionValue == null) {
      diagnostics.error(parent.position(entryKey), parent.keyPath(entryKey), "a rule table needs action = \"allow\","
          + " \"ask\", \"deny\" or \"none\"");
      return;
    }
    if (action.isEmpty()) {
      diagnostics.error(entry.position("action"), entry.keyPath("action"), actionValue instanceof String name
          ? "\"" + name + "\" is not one of \"allow\", \"ask\", \"deny\", \"none\""
          : "expected a string, found " + TableNode.typeOf(actionValue));
      return;
    }
    String justification = text(entry, "justification");
    String owner = text(entry, "owner");
    Object reviewBy = entry.get("review_by");
    if (reviewBy != null && !(reviewBy instanceof java.time.LocalDate)) {
      typeError(entry.position("review_by"), entry.keyPath("review_by"), "a date (review_by = 2027-03-31)",
          reviewBy);
      valid = false;
    }
    Object report = entry.get("report");
    if (report != null && !(report instanceof Boolean)) {
      typeError(entry.position("report"), entry.keyPath("report"), "a boolean", report);
      valid = false;
    }
    if (justification == null && entry.get("justification") != null || owner == null && entry.get("owner") != null) {
      valid = false;
    }
    if (valid) {
      consumer.accept(parent, entryKey, action.get(), new RuleMetadata(justification, owner,
          (java.time.LocalDate) reviewBy, (Boolean) report));
    }
  }

  private String text(TableNode entry, String key) {
    Object value = entry.get(key);
    if (value == null || value instanceof String) {
      return (String) value;
    }
    typeError(entry.position(key), entry.keyPath(key), "a string", value);
    return null;
  }

  private void typeError(TomlPosition position, String keyPath, String expected, Object value) {
    diagnostics.error(position, keyPath, "expected " + expected + ", found " + TableNode.typeOf(value));
  }
}
