package dev.egressd.config.internal;

import java.util.Collection;
import java.util.Locale;

/** "Did you mean ...?" for unknown keys: the closest known key within edit distance 2. */
public final class Suggestions {
  private static final int MAX_DISTANCE = 2;

  private Suggestions() {}

  /** {@code " (did you mean x?)"}, or an empty string when no known key is close enough. */
  public static String didYouMean(String key, Collection<String> known) {
    String best = null;
    int bestDistance = MAX_DISTANCE + 1;
    String lower = key.toLowerCase(Locale.ROOT).replace('-', '_');
    for (String candidate : known) {
      int distance = distance(lower, candidate);
      if (distance < bestDistance) {
        best = candidate;
        bestDistance = distance;
      }
    }
    return best == null ? "" : " (did you mean " + best + "?)";
  }

  /** Levenshtein distance. */
  static int distance(String a, String b) {
    int[] previous = new int[b.length() + 1];
    int[] current = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      previous[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      current[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int substitution = previous[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
        current[j] = Math.min(substitution, Math.min(previous[j], current[j - 1]) + 1);
      }
      int[] swap = previous;
      previous = current;
      current = swap;
    }
    return previous[b.length()];
  }
}
