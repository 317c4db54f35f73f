package dev.egressd.config.internal;

import dev.egressd.policy.HostName;
import dev.egressd.policy.TextPattern;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import org.tomlj.Toml;
import org.tomlj.TomlArray;
import org.tomlj.TomlPosition;
import org.tomlj.TomlTable;

/**
 * Reads {@code [[network.mitm_hooks]]} (the reference's shape: {@code host}, {@code match}, {@code actions}) into
 * {@link Spec}s. Secrets are only named here; {@code ConfigAssembler} reads them, once every layer is merged.
 */
final class HookReader {
  /** Headers a hook may neither strip nor inject: they frame or route the request, or belong to the proxy. */
  static final Set<String> RESERVED_HEADERS = Set.of("host", "content-length", "transfer-encoding", "connection",
      "upgrade", "te", "trailer", "keep-alive", "expect", "proxy-authorization", "proxy-connection",
      "proxy-authenticate");

  /** A header to inject, with its secret's source. */
  record InjectSpec(String name, SecretSource secret, String prefix) {}

  /** One hook as written, positions kept for the errors only the assembler can find. */
  record Spec(HostName host, List<String> methods, List<TextPattern> pathPrefixes,
      Map<String, List<TextPattern>> query, Map<String, List<TextPattern>> headers, List<String> strip,
      List<InjectSpec> inject, TomlPosition position, String key) {}

  private final Diagnostics diagnostics;
  private boolean valid = true;

  private HookReader(Diagnostics diagnostics) {
    this.diagnostics = diagnostics;
  }

  /** The hooks of {@code array}, or null when any of them is invalid (every problem is reported). */
  static List<Spec> read(TomlArray array, String keyPath, Diagnostics diagnostics) {
    HookReader reader = new HookReader(diagnostics);
    List<Spec> specs = new ArrayList<>();
    for (int i = 0; i < array.size(); i++) {
      String path = keyPath + "[" + i + "]";
      if (!(array.get(i) instanceof TomlTable table)) {
        reader.error(array.inputPositionOf(i), path, "expected a table (host, match, actions), found "
            + TableNode.typeOf(array.get(i)));
        continue;
      }
      Spec spec = reader.hook(table, array.inputPositionOf(i), path);
      if (spec != null) {
        specs.add(spec);
      }
    }
    return reader.valid ? specs : null;
  }

  private Spec hook(TomlTable table, TomlPosition position, String path) {
    unknownKeys(table, path, Set.of("host", "match", "actions"));
    HostName host = null;
    Object hostValue = table.get(List.of("host"));
    if (hostValue == null) {
      error(position, path, "a hook needs host = \"...\"");
    } else if (!(hostValue instanceof String text)) {
      typeError(table, "host", path, "a string");
    } else if (text.isBlank()) {
      error(table.inputPositionOf(List.of("host")), sub(path, "host"), "host must not be empty");
    } else if (text.contains("*")) {
      error(table.inputPositionOf(List.of("host")), sub(path, "host"),
          "MITM hook hosts must be exact hosts and cannot contain wildcards");
    } else {
      try {
        host = HostName.parse(text.trim());
      } catch (IllegalArgumentException e) {
        error(table.inputPositionOf(List.of("host")), sub(path, "host"), e.getMessage());
      }
    }
    List<String> methods = List.of();
    List<TextPattern> paths = List.of();
    Map<String, List<TextPattern>> query = Map.of();
    Map<String, List<TextPattern>> headers = Map.of();
    TomlTable match = table(table, "match", path);
    if (match != null) {
      String matchPath = sub(path, "match");
      unknownKeys(match, matchPath, Set.of("methods", "path_prefixes", "query", "headers", "body"));
      if (match.get(List.of("body")) != null) {
        error(match.inputPositionOf(List.of("body")), sub(matchPath, "body"),
            "match.body is reserved for a future release and is not yet supported");
      }
      methods = strings(match, "methods", matchPath, false, m -> {
        if (!m.trim().matches("[!#$%&'*+.^_`|~0-9A-Za-z-]+")) {
          throw new IllegalArgumentException("\"" + m + "\" is not an HTTP method");
        }
      }).stream().map(m -> m.trim().toUpperCase(Locale.ROOT)).toList();
      paths = patterns(match, "path_prefixes", matchPath, false);
      query = patternTable(match, "query", matchPath, false);
      headers = patternTable(match, "headers", matchPath, true);
      headers.keySet().forEach(name -> headerName(name, match, "headers", matchPath, false));
    }
    List<String> strip = List.of();
    List<InjectSpec> inject = new ArrayList<>();
    TomlTable actions = table(table, "actions", path);
    if (actions != null) {
      String actionsPath = sub(path, "actions");
      unknownKeys(actions, actionsPath, Set.of("strip_request_headers", "inject_request_headers"));
      strip = strings(actions, "strip_request_headers", actionsPath, true, name -> {}).stream()
          .map(name -> name.toLowerCase(Locale.ROOT)).toList();
      strip.forEach(name -> headerName(name, actions, "strip_request_headers", actionsPath, true));
      Object injectValue = actions.get(List.of("inject_request_headers"));
      if (injectValue != null && !(injectValue instanceof TomlArray)) {
        typeError(actions, "inject_request_headers", actionsPath, "an array of tables");
      } else if (injectValue instanceof TomlArray entries) {
        for (int i = 0; i < entries.size(); i++) {
          String entryPath = sub(actionsPath, "inject_request_headers") + "[" + i + "]";
          if (entries.get(i) instanceof TomlTable entry) {
            InjectSpec spec = injection(entry, entries.inputPositionOf(i), entryPath);
            if (spec != null) {
              inject.add(spec);
            }
          } else {
            error(entries.inputPositionOf(i), entryPath, "expected a table { name, secret_env_var | secret_file,"
                + " prefix }, found " + TableNode.typeOf(entries.get(i)));
          }
        }
      }
    }
    return host == null ? null : new Spec(host, methods, paths, query, headers, strip, List.copyOf(inject), position,
        path);
  }

  private InjectSpec injection(TomlTable entry, TomlPosition position, String path) {
    unknownKeys(entry, path, Set.of("name", "secret_env_var", "secret_file", "prefix"));
    String name = string(entry, "name", path);
    String prefix = string(entry, "prefix", path);
    if (name == null) {
      error(position, path, "an injected header needs name = \"...\"");
      return null;
    }
    String lower = name.trim().toLowerCase(Locale.ROOT);
    if (!headerName(lower, entry, "name", path, true)) {
      return null;
    }
    SecretSource secret = SecretSource.read(entry, position, path, diagnostics);
    if (secret == null) {
      valid = false;
      return null;
    }
    if (prefix != null && !printable(prefix)) {
      error(entry.inputPositionOf(List.of("prefix")), sub(path, "prefix"),
          "prefix must not contain line breaks or control characters");
      return null;
    }
    return new InjectSpec(lower, secret, prefix == null ? "" : prefix);
  }

  /** True for printable ASCII and tabs-free text: what may go into a header value. */
  static boolean printable(String text) {
    return text.chars().allMatch(c -> c >= 0x20 && c != 0x7f);
  }

  private boolean headerName(String name, TomlTable table, String key, String path, boolean reservedMatters) {
    TomlPosition position = table.inputPositionOf(List.of(key));
    if (!name.matches("[!#$%&'*+.^_`|~0-9a-zA-Z-]+")) {
      error(position, sub(path, key), "\"" + name + "\" is not a header name");
      return false;
    }
    if (reservedMatters && RESERVED_HEADERS.contains(name.toLowerCase(Locale.ROOT))) {
      error(position, sub(path, key), "\"" + name + "\" frames or routes the request, so a hook may not change it");
      return false;
    }
    return true;
  }

  private TomlTable table(TomlTable parent, String key, String path) {
    return optional(parent, key, path, TomlTable.class, "a table");
  }

  private String string(TomlTable table, String key, String path) {
    Object value = table.get(List.of(key));
    if (value == null || value instanceof String) {
      return (String) value;
    }
    typeError(table, key, path, "a string");
    return null;
  }

  private List<String> strings(TomlTable table, String key, String path, boolean emptyAllowed,
      Consumer<String> check) {
    TomlArray array = array(table, key, path);
    if (array == null) {
      return List.of();
    }
    if (array.isEmpty() && !emptyAllowed) {
      error(table.inputPositionOf(List.of(key)), sub(path, key), key + " must not be empty (leave it out to match"
          + " any)");
    }
    List<String> strings = new ArrayList<>();
    for (int i = 0; i < array.size(); i++) {
      String elementPath = sub(path, key) + "[" + i + "]";
      if (!(array.get(i) instanceof String text)) {
        error(array.inputPositionOf(i), elementPath, "expected a string, found " + TableNode.typeOf(array.get(i)));
      } else if (text.isBlank()) {
        error(array.inputPositionOf(i), elementPath, key + " must not contain empty entries");
      } else {
        try {
          check.accept(text);
          strings.add(text);
        } catch (IllegalArgumentException e) {
          error(array.inputPositionOf(i), elementPath, e.getMessage());
        }
      }
    }
    return strings;
  }

  private List<TextPattern> patterns(TomlTable table, String key, String path, boolean emptyAllowed) {
    TomlArray array = array(table, key, path);
    return array == null ? List.of()
        : patternList(array, table.inputPositionOf(List.of(key)), sub(path, key), key, emptyAllowed);
  }

  private List<TextPattern> patternList(TomlArray array, TomlPosition position, String path, String what,
      boolean emptyAllowed) {
    if (array.isEmpty() && !emptyAllowed) {
      error(position, path, what + " must not be empty");
    }
    List<TextPattern> patterns = new ArrayList<>();
    for (int i = 0; i < array.size(); i++) {
      String elementPath = path + "[" + i + "]";
      if (!(array.get(i) instanceof String text)) {
        error(array.inputPositionOf(i), elementPath, "expected a string, found " + TableNode.typeOf(array.get(i)));
        continue;
      }
      try {
        patterns.add(TextPattern.parse(text));
      } catch (IllegalArgumentException e) {
        error(array.inputPositionOf(i), elementPath, (e.getMessage().startsWith("must not") ? what + " " : "")
            + e.getMessage());
      }
    }
    return patterns;
  }

  /** {@code query} or {@code headers}: a table of name to values. */
  private Map<String, List<TextPattern>> patternTable(TomlTable table, String key, String path,
      boolean emptyListsAllowed) {
    TomlTable entries = table(table, key, path);
    if (entries == null) {
      return Map.of();
    }
    Map<String, List<TextPattern>> result = new LinkedHashMap<>();
    for (String name : entries.keySet()) {
      Object value = entries.get(List.of(name));
      String entryPath = sub(sub(path, key), name);
      if (!(value instanceof TomlArray array)) {
        error(entries.inputPositionOf(List.of(name)), entryPath, "expected an array of strings, found "
            + TableNode.typeOf(value));
        continue;
      }
      result.put(name, patternList(array, entries.inputPositionOf(List.of(name)), entryPath,
          emptyListsAllowed ? key + " values" : "query values", emptyListsAllowed));
    }
    return result;
  }

  private TomlArray array(TomlTable table, String key, String path) {
    return optional(table, key, path, TomlArray.class, "an array of strings");
  }

  /** The value at {@code key}, or null when it is absent or (reported) not a {@code type}. */
  private <T> T optional(TomlTable table, String key, String path, Class<T> type, String expected) {
    Object value = table.get(List.of(key));
    if (value == null) {
      return null;
    }
    if (type.isInstance(value)) {
      return type.cast(value);
    }
    typeError(table, key, path, expected);
    return null;
  }

  private void unknownKeys(TomlTable table, String path, Set<String> known) {
    for (String key : table.keySet()) {
      if (!known.contains(key)) {
        error(table.inputPositionOf(List.of(key)), sub(path, key), "unknown key" + Suggestions.didYouMean(key,
            new java.util.TreeSet<>(known)));
      }
    }
  }

  private void typeError(TomlTable table, String key, String path, String expected) {
    error(table.inputPositionOf(List.of(key)), sub(path, key), "expected " + expected + ", found "
        + TableNode.typeOf(table.get(List.of(key))));
  }

  private void error(TomlPosition position, String key, String message) {
    valid = false;
    diagnostics.error(position, key, message);
  }

  private static String sub(String path, String key) {
    return path + "." + Toml.joinKeyPath(List.of(key));
  }
}
