package dev.egressd.it;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/** An ordered, case-insensitive list of HTTP header fields as they appeared on the wire. */
final class Headers {
  private final List<Map.Entry<String, String>> fields;

  Headers(List<Map.Entry<String, String>> fields) {
    this.fields = List.copyOf(fields);
  }

  /** Parses {@code Name: value} lines (no status or request line). */
  static Headers parse(List<String> lines) {
    List<Map.Entry<String, String>> fields = new ArrayList<>();
    for (String line : lines) {
      int colon = line.indexOf(':');
      if (colon <= 0) {
        throw new IllegalArgumentException("not a header field: " + line);
      }
      fields.add(Map.entry(line.substring(0, colon).trim(), line.substring(colon + 1).trim()));
    }
    return new Headers(fields);
  }

  /** The first value of {@code name}, or null. */
  String get(String name) {
    for (Map.Entry<String, String> field : fields) {
      if (field.getKey().equalsIgnoreCase(name)) {
        return field.getValue();
      }
    }
    return null;
  }

  /** Every value of {@code name}, in order. */
  List<String> all(String name) {
    List<String> values = new ArrayList<>();
    for (Map.Entry<String, String> field : fields) {
      if (field.getKey().equalsIgnoreCase(name)) {
        values.add(field.getValue());
      }
    }
    return values;
  }

  /** The field names, lower-cased. */
  Set<String> names() {
    Set<String> names = new TreeSet<>();
    fields.forEach(f -> names.add(f.getKey().toLowerCase(Locale.ROOT)));
    return names;
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder();
    fields.forEach(f -> sb.append(f.getKey()).append(": ").append(f.getValue()).append('\n'));
    return sb.toString();
  }
}
