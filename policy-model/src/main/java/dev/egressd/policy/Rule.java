package dev.egressd.policy;

import java.util.Objects;

/**
 * One allow, ask or deny entry of a policy.
 *
 * @param pattern what it matches
 * @param action allow, ask or deny
 * @param origin where it came from, for people: {@code "egressd.toml:12 network.domains"} or {@code "--allow"}
 * @param metadata what was written down about it ({@link RuleMetadata#NONE} for the plain string form)
 */
public record Rule(HostPattern pattern, Action action, String origin, RuleMetadata metadata) {
  /** What a matching rule does. */
  public enum Action {
    /** Permit the destination (subject to the local-address and mode checks). */
    ALLOW,
    /**
     * Hold the request until a person approves it ({@code "pattern" = "ask"}, {@code asked_domains}). Between an
     * allow and an ask rule the more specific one wins; for the same pattern, ask.
     */
    ASK,
    /** Refuse the destination; deny always wins over allow and ask. */
    DENY
  }

  /** Null checks only. */
  public Rule {
    Objects.requireNonNull(pattern, "pattern");
    Objects.requireNonNull(action, "action");
    Objects.requireNonNull(origin, "origin");
    Objects.requireNonNull(metadata, "metadata");
  }

  /** A rule with nothing written down about it. */
  public Rule(HostPattern pattern, Action action, String origin) {
    this(pattern, action, origin, RuleMetadata.NONE);
  }

  /** Shorthand used by the CLI and tests. */
  public static Rule allow(String pattern, String origin) {
    return new Rule(HostPattern.parse(pattern), Action.ALLOW, origin);
  }

  /** Shorthand used by the CLI and tests. */
  public static Rule deny(String pattern, String origin) {
    return new Rule(HostPattern.parse(pattern), Action.DENY, origin);
  }

  /** Shorthand used by tests. */
  public static Rule ask(String pattern, String origin) {
    return new Rule(HostPattern.parse(pattern), Action.ASK, origin);
  }

  @Override
  public String toString() {
    return action.name().toLowerCase(java.util.Locale.ROOT) + " " + pattern.canonical() + " (" + origin + ")";
  }
}
