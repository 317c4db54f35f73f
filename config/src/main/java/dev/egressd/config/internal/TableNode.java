package dev.egressd.config.internal;

import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.tomlj.Toml;
import org.tomlj.TomlArray;
import org.tomlj.TomlPosition;
import org.tomlj.TomlTable;

/**
 * A TOML table with its key path from the document root, for messages.
 *
 * <p>Keys are always looked up as single segments ({@code List.of(key)}): tomlj's {@code get(String)} would split
 * {@code "api.openai.com"} at the dots.
 */
public record TableNode(TomlTable table, List<String> path) {
  /** Null checks and a defensive copy. */
  public TableNode {
    Objects.requireNonNull(table, "table");
    path = List.copyOf(path);
  }

  /** The document root. */
  public static TableNode root(TomlTable table) {
    return new TableNode(table, List.of());
  }

  /** The raw value of {@code key} in this table, or null. */
  public Object get(String key) {
    return table.get(List.of(key));
  }

  /** The sub-table at {@code key}; the caller has checked that it is a table. */
  public TableNode child(String key) {
    return new TableNode((TomlTable) get(key), append(key));
  }

  /** Where {@code key} was written. */
  public TomlPosition position(String key) {
    return table.inputPositionOf(List.of(key));
  }

  /** The dotted path of {@code key}, quoted where TOML needs it: {@code network.domains."api.openai.com"}. */
  public String keyPath(String key) {
    return Toml.joinKeyPath(append(key));
  }

  /** The dotted path of this table. */
  public String keyPath() {
    return Toml.joinKeyPath(path);
  }

  /** The value of {@code key} with its position, for later checks. */
  public <T> Located<T> locate(String key, T value) {
    return new Located<>(value, position(key), keyPath(key));
  }

  /** "a string", "an array"...: the TOML type of a value, for "expected ..., found ..." messages. */
  public static String typeOf(Object value) {
    if (value instanceof String) {
      return "a string";
    } else if (value instanceof Long) {
      return "an integer";
    } else if (value instanceof Double) {
      return "a float";
    } else if (value instanceof Boolean) {
      return "a boolean";
    } else if (value instanceof OffsetDateTime || value instanceof LocalDateTime) {
      return "a date-time";
    } else if (value instanceof LocalDate) {
      return "a date";
    } else if (value instanceof LocalTime) {
      return "a time";
    } else if (value instanceof TomlArray) {
      return "an array";
    }
    return value instanceof TomlTable ? "a table" : "a " + value.getClass().getSimpleName();
  }

  private List<String> append(String key) {
    List<String> child = new ArrayList<>(path.size() + 1);
    child.addAll(path);
    child.add(key);
    return child;
  }
}
