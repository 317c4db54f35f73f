package dev.egressd.policy;

import java.util.Objects;
import java.util.regex.Pattern;

/**
 * A value a {@link MitmHook} compares with: literal text, or {@code pattern:GLOB} where {@code *} matches any run of
 * characters except {@code /} and {@code ?} one such character; {@code literal:TEXT} forces literal text that starts
 * with {@code pattern:}. A glob matches the whole value.
 */
public final class TextPattern {
  private final String text;
  private final Pattern glob; // null for literal text
  private final String literal;

  private TextPattern(String text, Pattern glob, String literal) {
    this.text = text;
    this.glob = glob;
    this.literal = literal;
  }

  /**
   * Parses {@code text} as written in the config.
   *
   * @throws IllegalArgumentException for an empty literal or glob, or a glob with characters this syntax reserves
   */
  public static TextPattern parse(String text) {
    Objects.requireNonNull(text, "text");
    if (text.startsWith("pattern:")) {
      String body = text.substring("pattern:".length());
      if (body.isEmpty()) {
        throw new IllegalArgumentException("glob pattern must not be empty");
      }
      StringBuilder regex = new StringBuilder();
      for (char c : body.toCharArray()) {
        switch (c) {
          case '*' -> regex.append("[^/]*");
          case '?' -> regex.append("[^/]");
          case '[', ']', '{', '}', '\\' -> throw new IllegalArgumentException("invalid glob pattern \"" + body
              + "\": only * and ? are special (write literal:" + body + " for literal text)");
          default -> regex.append(Pattern.quote(String.valueOf(c)));
        }
      }
      return new TextPattern(text, Pattern.compile(regex.toString(), Pattern.DOTALL), null);
    }
    String literal = text.startsWith("literal:") ? text.substring("literal:".length()) : text;
    if (literal.isEmpty()) {
      throw new IllegalArgumentException("must not contain empty entries");
    }
    return new TextPattern(text, null, literal);
  }

  /** True when {@code value} is the literal text, or the glob matches all of it. */
  public boolean matches(String value) {
    return glob == null ? literal.equals(value) : glob.matcher(value).matches();
  }

  /** True when {@code path} starts with the literal text, or the glob matches all of it. */
  public boolean matchesPrefixOf(String path) {
    return glob == null ? path.startsWith(literal) : glob.matcher(path).matches();
  }

  /** The pattern as written. */
  @Override
  public String toString() {
    return text;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TextPattern other && other.text.equals(text);
  }

  @Override
  public int hashCode() {
    return text.hashCode();
  }
}
