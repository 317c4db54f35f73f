package dev.egressd.policy;

import java.util.Objects;
import java.util.Optional;

/**
 * The outcome of evaluating one request.
 *
 * @param verdict allow, deny or ask
 * @param reason why, with a stable code
 * @param source which part of the policy decided
 * @param rule the rule that decided, if a rule did
 * @param hint what the operator can change, e.g. {@code add "example.com" to allowed_domains in profile
 *     "workspace"}; empty for allows
 * @param reasonText the reason text a {@link PolicyDecider} gave (already sanitised by {@link DeciderAnswer}), which
 *     audit events and refusal bodies show instead of the code; empty otherwise
 * @param wouldDeny for an allow that report mode let through, the refusal it stands in for (whose reason, source,
 *     rule and hint this decision carries); null otherwise
 * @param credential for a {@link Reason#CREDENTIAL_MISUSE} refusal, the name of the credential whose stand-in was
 *     sent (never a value); null otherwise
 */
public record Decision(Verdict verdict, Reason reason, PolicySource source, Optional<Rule> rule, String hint,
    String reasonText, Decision wouldDeny, String credential) {
  /** The three outcomes, with the reference's wire labels. */
  public enum Verdict {
    /** Proceed. */
    ALLOW("allow"),
    /** Refuse. */
    DENY("deny"),
    /** Refuse unless a person approves: an ask rule, {@code default = "ask"} or a decider asked for approval. */
    ASK("ask");

    private final String label;

    Verdict(String label) {
      this.label = label;
    }

    /** The wire label. */
    public String label() {
      return label;
    }
  }

  /** Null checks only. */
  public Decision {
    Objects.requireNonNull(verdict, "verdict");
    Objects.requireNonNull(reason, "reason");
    Objects.requireNonNull(source, "source");
    Objects.requireNonNull(rule, "rule");
    Objects.requireNonNull(hint, "hint");
    Objects.requireNonNull(reasonText, "reasonText");
    if (wouldDeny != null && (verdict != Verdict.ALLOW || wouldDeny.allowed())) {
      throw new IllegalArgumentException("wouldDeny: only an allow stands in for a refusal");
    }
  }

  /** A decision that names no credential. */
  public Decision(Verdict verdict, Reason reason, PolicySource source, Optional<Rule> rule, String hint,
      String reasonText, Decision wouldDeny) {
    this(verdict, reason, source, rule, hint, reasonText, wouldDeny, null);
  }

  /** A decision as the policy or a decider made it. */
  public Decision(Verdict verdict, Reason reason, PolicySource source, Optional<Rule> rule, String hint,
      String reasonText) {
    this(verdict, reason, source, rule, hint, reasonText, null, null);
  }

  /** A decision of the static policy, with no decider reason text. */
  public Decision(Verdict verdict, Reason reason, PolicySource source, Optional<Rule> rule, String hint) {
    this(verdict, reason, source, rule, hint, "");
  }

  /**
   * Report mode's allow for {@code refusal}: the request proceeds, and the audit says it would have been refused
   * and why ({@code egressd.would_deny}).
   */
  public static Decision reported(Decision refusal) {
    if (refusal.allowed()) {
      throw new IllegalArgumentException("refusal: " + refusal + " (expected: a deny or an ask)");
    }
    return new Decision(Verdict.ALLOW, refusal.reason, refusal.source, refusal.rule, refusal.hint,
        refusal.reasonText, refusal, refusal.credential);
  }

  /** True for report mode's allow of a request the policy refuses. */
  public boolean reported() {
    return wouldDeny != null;
  }

  /** An allow by {@code rule}. */
  public static Decision allow(Rule rule) {
    return new Decision(Verdict.ALLOW, Reason.ALLOW, PolicySource.BASELINE_POLICY, Optional.of(rule), "");
  }

  /** A denial. */
  public static Decision deny(Reason reason, PolicySource source, Rule rule, String hint) {
    return new Decision(Verdict.DENY, reason, source, Optional.ofNullable(rule), hint);
  }

  /**
   * The reason as audit events and JSON bodies carry it: the decider's text where it gave one, else
   * {@link Reason#code()}. Metrics use {@link Reason#code()} alone, whose values are bounded.
   */
  public String reasonLabel() {
    return reasonText.isEmpty() ? reason.code() : reasonText;
  }

  /**
   * True when a decider or a person turned an allowlist miss into an allow ({@code network.policy.override}).
   */
  public boolean overridden() {
    return allowed() && wouldDeny == null && (source == PolicySource.DECIDER || source == PolicySource.APPROVAL);
  }

  /** True for {@link Verdict#ALLOW}. */
  public boolean allowed() {
    return verdict == Verdict.ALLOW;
  }

  /** The reason's sentence followed by the hint, for response bodies and logs. */
  public String message() {
    return hint.isEmpty() ? reason.message() : reason.message() + " " + hint;
  }
}
