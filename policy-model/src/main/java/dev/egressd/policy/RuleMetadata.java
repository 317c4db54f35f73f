package dev.egressd.policy;

import java.time.LocalDate;

/**
 * What a team wrote down about one rule (the table form of a {@code domains} entry): why it exists, who needs it,
 * when to look at it again, and whether its refusals are only reported.
 *
 * @param justification why the rule exists, or null
 * @param owner who needs it, or null
 * @param reviewBy when it should be reviewed, or null
 * @param report {@code true}: this rule's refusals are let through and audited as {@code would_deny} even in an
 *     enforced profile; {@code false}: enforced even in report mode; null: as the profile's {@code enforcement}
 */
public record RuleMetadata(String justification, String owner, LocalDate reviewBy, Boolean report) {
  /** Nothing written down. */
  public static final RuleMetadata NONE = new RuleMetadata(null, null, null, null);

  /** True when a justification was written. */
  public boolean justified() {
    return justification != null && !justification.isBlank();
  }
}
