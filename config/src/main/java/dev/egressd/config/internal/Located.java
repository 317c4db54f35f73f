package dev.egressd.config.internal;

import java.util.Objects;
import org.tomlj.TomlPosition;

/**
 * A configuration value with where it was written, so that checks made after merging the layers can still point
 * at the line that set the value.
 *
 * @param value the validated value
 * @param position where the key was written; null for values that did not come from the file
 * @param key the dotted key path, e.g. {@code network.proxy_url}
 */
public record Located<T>(T value, TomlPosition position, String key) {
  /** Null checks on value and key. */
  public Located {
    Objects.requireNonNull(value, "value");
    Objects.requireNonNull(key, "key");
  }
}
