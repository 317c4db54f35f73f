package dev.egressd.it;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A strict reader of the Prometheus text exposition format 0.0.4, enough to check what the admin listener serves:
 * every line is blank, a {@code # HELP}/{@code # TYPE} comment, or {@code name{labels} value}; a malformed line
 * fails the parse instead of being skipped.
 */
final class PrometheusText {
  private static final Pattern SAMPLE =
      Pattern.compile("([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\\{(.*)\\})? (\\S+)(?: (-?\\d+))?");
  private static final Pattern LABEL = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\\\n]|\\\\.)*)\"");
  private static final Pattern COMMENT =
      Pattern.compile("# (?:HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*|TYPE [a-zA-Z_:][a-zA-Z0-9_:]* "
          + "(?:counter|gauge|histogram|summary|untyped))|#.*");

  private final List<Sample> samples;

  private PrometheusText(List<Sample> samples) {
    this.samples = List.copyOf(samples);
  }

  /** Parses a whole scrape; throws {@link IllegalArgumentException} naming the first malformed line. */
  static PrometheusText parse(String text) {
    List<Sample> samples = new ArrayList<>();
    String[] lines = text.split("\n", -1);
    for (int i = 0; i < lines.length; i++) {
      String line = lines[i];
      if (line.isEmpty() || COMMENT.matcher(line).matches()) {
        continue;
      }
      Matcher m = SAMPLE.matcher(line);
      if (!m.matches()) {
        throw new IllegalArgumentException("line " + (i + 1) + " is not name{labels} value: " + line);
      }
      samples.add(new Sample(m.group(1), labels(m.group(2), line), value(m.group(3), line)));
    }
    return new PrometheusText(samples);
  }

  private static Map<String, String> labels(String text, String line) {
    Map<String, String> labels = new LinkedHashMap<>();
    if (text == null || text.isEmpty()) {
      return labels;
    }
    Matcher m = LABEL.matcher(text);
    int pos = 0;
    while (m.find() && m.start() == pos) {
      if (labels.put(m.group(1), m.group(2)) != null) {
        throw new IllegalArgumentException("label " + m.group(1) + " repeated: " + line);
      }
      pos = m.end();
      if (pos < text.length() && text.charAt(pos) == ',') {
        pos++;
      }
    }
    if (pos != text.length()) {
      throw new IllegalArgumentException("malformed labels at offset " + pos + ": " + line);
    }
    return labels;
  }

  private static double value(String text, String line) {
    switch (text) {
      case "+Inf":
        return Double.POSITIVE_INFINITY;
      case "-Inf":
        return Double.NEGATIVE_INFINITY;
      case "NaN":
        return Double.NaN;
      default:
        try {
          return Double.parseDouble(text);
        } catch (NumberFormatException e) {
          throw new IllegalArgumentException("value " + text + " is not a number: " + line);
        }
    }
  }

  /** Every sample, in the order served. */
  List<Sample> samples() {
    return samples;
  }

  /** The samples named {@code name}. */
  List<Sample> named(String name) {
    return samples.stream().filter(s -> s.name().equals(name)).toList();
  }

  /**
   * The sum of the samples named {@code name} whose labels include every given pair ({@code "key", "value", ...});
   * 0 when there is none, as for a counter that was never incremented.
   */
  double sum(String name, String... labelPairs) {
    return select(name, labelPairs).stream().mapToDouble(Sample::value).sum();
  }

  /** The samples named {@code name} whose labels include every given pair. */
  List<Sample> select(String name, String... labelPairs) {
    if (labelPairs.length % 2 != 0) {
      throw new IllegalArgumentException("labelPairs: " + labelPairs.length + " (expected: key, value pairs)");
    }
    return named(name).stream().filter(s -> {
      for (int i = 0; i < labelPairs.length; i += 2) {
        if (!labelPairs[i + 1].equals(s.labels().get(labelPairs[i]))) {
          return false;
        }
      }
      return true;
    }).toList();
  }

  /**
   * One sample line.
   *
   * @param name the metric name (with a {@code _total}, {@code _bucket}... suffix where the format adds one)
   * @param labels the labels in order
   * @param value the value
   */
  record Sample(String name, Map<String, String> labels, double value) {}
}
