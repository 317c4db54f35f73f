package dev.egressd.config;

import java.util.Objects;

/**
 * One problem found in a configuration file, located as precisely as the file allows.
 *
 * <p>{@link #toString()} is the form printed by {@code egressd validate} and in startup errors, one per line:
 * {@code file:line:column: key: message}, for example
 * {@code config.toml:12:1: permissions.workspace.network.alowed_domains: unknown key (did you mean allowed_domains?)}.
 * The position is left out when it is unknown ({@code line <= 0}), as for a missing {@code --profile}; the key is
 * left out when there is none, as for TOML syntax errors.
 *
 * @param file the file as the user named it
 * @param line 1-based line, or 0 when the problem has no position
 * @param column 1-based column, or 0 when the problem has no position
 * @param key the dotted TOML key path (quoted where TOML needs it) or a CLI option such as {@code --profile};
 *     null when the problem is not about one key
 * @param message what is wrong and, where possible, what to write instead
 */
public record ConfigProblem(String file, int line, int column, String key, String message) {
  /** Null checks; {@code key} may be null. */
  public ConfigProblem {
    Objects.requireNonNull(file, "file");
    Objects.requireNonNull(message, "message");
  }

  @Override
  public String toString() {
    StringBuilder s = new StringBuilder(file);
    if (line > 0) {
      s.append(':').append(line).append(':').append(column);
    }
    s.append(": ");
    if (key != null && !key.isEmpty()) {
      s.append(key).append(": ");
    }
    return s.append(message).toString();
  }
}
