package dev.egressd.policy;

import java.util.Objects;

/**
 * A credential held in memory only: {@link #toString()} names where it came from and never the value, so no log
 * line, exception message or audit record can carry it by accident.
 */
public final class Secret {
  private final String value;
  private final String source;

  /**
   * @param value the secret itself
   * @param source where it came from, for messages: {@code environment variable API_TOKEN}
   */
  public Secret(String value, String source) {
    this.value = Objects.requireNonNull(value, "value");
    this.source = Objects.requireNonNull(source, "source");
  }

  /** The secret; only for the header it is injected into. */
  public String reveal() {
    return value;
  }

  /** Where the secret came from. */
  public String source() {
    return source;
  }

  @Override
  public String toString() {
    return "[secret from " + source + "]";
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Secret other && other.value.equals(value) && other.source.equals(source);
  }

  @Override
  public int hashCode() {
    return source.hashCode();
  }
}
