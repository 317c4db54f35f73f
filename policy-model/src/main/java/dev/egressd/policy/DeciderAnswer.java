package dev.egressd.policy;

import dev.egressd.policy.Decision.Verdict;
import java.time.Duration;
import java.util.Objects;

/**
 * What a {@link PolicyDecider} answered.
 *
 * @param verdict allow, deny or ask
 * @param reason the decider's reason text, sanitised: control and format characters removed, at most
 *     {@link #MAX_REASON_LENGTH} characters; empty when it gave none. It reaches audit events and refusal bodies, so
 *     it can carry neither a forged log line nor a terminal escape.
 * @param cacheFor how long the same answer holds for the same host, port and protocol ({@link Duration#ZERO}: ask
 *     again every time); capped at {@link #MAX_CACHE}
 */
public record DeciderAnswer(Verdict verdict, String reason, Duration cacheFor) {
  /** The longest reason text kept. */
  public static final int MAX_REASON_LENGTH = 200;
  /** The longest an answer may be cached. */
  public static final Duration MAX_CACHE = Duration.ofDays(1);

  /** Null checks; sanitises {@code reason} and clamps {@code cacheFor} to zero .. {@link #MAX_CACHE}. */
  public DeciderAnswer {
    Objects.requireNonNull(verdict, "verdict");
    reason = sanitize(reason == null ? "" : reason);
    Objects.requireNonNull(cacheFor, "cacheFor");
    cacheFor = cacheFor.isNegative() ? Duration.ZERO : cacheFor.compareTo(MAX_CACHE) > 0 ? MAX_CACHE : cacheFor;
  }

  /** Allow, for this request only. */
  public static DeciderAnswer allow(String reason) {
    return new DeciderAnswer(Verdict.ALLOW, reason, Duration.ZERO);
  }

  /** Deny, for this request only. */
  public static DeciderAnswer deny(String reason) {
    return new DeciderAnswer(Verdict.DENY, reason, Duration.ZERO);
  }

  /** Ask a person, for this request only. */
  public static DeciderAnswer ask(String reason) {
    return new DeciderAnswer(Verdict.ASK, reason, Duration.ZERO);
  }

  /** The same answer, to be reused for {@code duration}. */
  public DeciderAnswer cachedFor(Duration duration) {
    return new DeciderAnswer(verdict, reason, duration);
  }

  /**
   * {@code text} without ISO control characters, Unicode format characters (bidirectional overrides, zero-width
   * joiners) or unpaired surrogates, and cut to {@link #MAX_REASON_LENGTH} characters without splitting a pair.
   */
  static String sanitize(String text) {
    StringBuilder kept = new StringBuilder(Math.min(text.length(), MAX_REASON_LENGTH));
    int i = 0;
    while (i < text.length()) {
      int codePoint = text.codePointAt(i);
      i += Character.charCount(codePoint);
      int type = Character.getType(codePoint);
      if (type == Character.CONTROL || type == Character.FORMAT || type == Character.SURROGATE
          || type == Character.UNASSIGNED || type == Character.PRIVATE_USE || type == Character.LINE_SEPARATOR
          || type == Character.PARAGRAPH_SEPARATOR) {
        continue;
      }
      if (kept.length() + Character.charCount(codePoint) > MAX_REASON_LENGTH) {
        break;
      }
      kept.appendCodePoint(codePoint);
    }
    return kept.toString().strip();
  }
}
