package dev.egressd.policy;

import dev.egressd.policy.internal.RuleIndex;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * An immutable, compiled egress policy: the host rules plus the switches that shape a decision.
 *
 * <p>Built once per configuration load with {@link #builder()}; the rule indexes are built in the constructor, so
 * evaluation never allocates per rule and costs the same at 10 or 100 000 patterns.
 */
public final class NetworkPolicy {
  /** The default {@code ask_timeout}. */
  public static final Duration DEFAULT_ASK_TIMEOUT = Duration.ofSeconds(120);

  private final boolean enabled;
  private final AccessMode mode;
  private final boolean allowLocalBinding;
  private final boolean mitm;
  private final MitmHooks hooks;
  private final Credentials credentials;
  private final boolean askOnMiss;
  private final Duration askTimeout;
  private final boolean report;
  private final List<Rule> rules;
  private final String scope;
  private final RuleIndex allowIndex;
  private final RuleIndex allowOrAskIndex;
  private final RuleIndex denyIndex;
  private final List<Rule> interceptionRules;
  private final RuleIndex interceptIndex;
  private final RuleIndex bypassIndex;

  private NetworkPolicy(Builder b) {
    this.enabled = b.enabled;
    this.mode = b.mode;
    this.allowLocalBinding = b.allowLocalBinding;
    this.mitm = b.mitm;
    this.hooks = new MitmHooks(b.hooks);
    this.credentials = new Credentials(b.credentials);
    this.askOnMiss = b.askOnMiss;
    this.askTimeout = b.askTimeout;
    this.report = b.report;
    this.rules = List.copyOf(b.rules);
    this.scope = b.scope;
    List<Rule> allows = new ArrayList<>();
    List<Rule> asks = new ArrayList<>();
    List<Rule> denies = new ArrayList<>();
    for (Rule rule : rules) {
      switch (rule.action()) {
        case ALLOW -> allows.add(rule);
        case ASK -> asks.add(rule);
        case DENY -> denies.add(rule);
      }
    }
    this.allowIndex = new RuleIndex(allows);
    // Asks first: for the same pattern and port the index keeps the first, and ask is the stronger action.
    List<Rule> allowsAndAsks = new ArrayList<>(asks);
    allowsAndAsks.addAll(allows);
    this.allowOrAskIndex = asks.isEmpty() ? allowIndex : new RuleIndex(allowsAndAsks);
    this.denyIndex = new RuleIndex(denies);
    this.interceptionRules = List.copyOf(b.interceptionRules);
    List<Rule> intercept = new ArrayList<>();
    List<Rule> bypass = new ArrayList<>();
    for (Rule rule : interceptionRules) {
      (rule.action() == Rule.Action.ALLOW ? intercept : bypass).add(rule);
    }
    this.interceptIndex = new RuleIndex(intercept);
    this.bypassIndex = new RuleIndex(bypass);
  }

  /** A builder with the reference's defaults: enabled, full mode, no local binding, no MITM, no rules. */
  public static Builder builder() {
    return new Builder();
  }

  /** A builder holding everything this policy holds, for adding command-line rules or overriding the mode. */
  public Builder toBuilder() {
    Builder b = builder().enabled(enabled).mode(mode).allowLocalBinding(allowLocalBinding).mitm(mitm).scope(scope)
        .askOnMiss(askOnMiss).askTimeout(askTimeout).report(report);
    rules.forEach(b::addRule);
    hooks.all().forEach(b::addHook);
    credentials.all().forEach(b::addCredential);
    b.interceptionRules.addAll(interceptionRules);
    return b;
  }

  /**
   * {@code enforcement = "report"}: refusals for {@link Reason#reportable() reportable} reasons are let through and
   * audited as {@code would_deny} (a rule's own {@link RuleMetadata#report()} wins).
   */
  public boolean report() {
    return report;
  }

  /** {@code enabled}: when false every request is refused with {@link Reason#PROXY_DISABLED}. */
  public boolean enabled() {
    return enabled;
  }

  /** {@code mode}. */
  public AccessMode mode() {
    return mode;
  }

  /** {@code allow_local_binding}: when true, non-public destinations need only an allow match. */
  public boolean allowLocalBinding() {
    return allowLocalBinding;
  }

  /** {@code mitm}: whether the operator asked for TLS interception. */
  public boolean mitm() {
    return mitm;
  }

  /**
   * {@code default = "ask"}: whether a host no rule matches is held for a person's approval instead of refused
   * ({@link Reason#NOT_ALLOWED}).
   */
  public boolean askOnMiss() {
    return askOnMiss;
  }

  /** {@code ask_timeout}: how long an asked request waits for a person before it is refused. */
  public Duration askTimeout() {
    return askTimeout;
  }

  /** True when some request may be held for approval: an ask rule or {@link #askOnMiss()}. */
  public boolean asks() {
    return askOnMiss || allowOrAskIndex != allowIndex;
  }

  /** Every rule, allow, ask and deny, in configuration order. */
  public List<Rule> rules() {
    return rules;
  }

  /** Where this policy came from, for messages: e.g. {@code profile "workspace" in /etc/egressd.toml}. */
  public String scope() {
    return scope;
  }

  /**
   * The most specific deny rule for the host and port, or null. For an IPv6 literal that embeds an IPv4 address
   * (NAT64, 6to4, Teredo, compatible), rules for the embedded address apply too: see {@link #matchDenyAddress}.
   */
  public Rule matchDeny(HostName host, int port) {
    Rule rule = denyIndex.match(host, port);
    if (rule == null && host.isIpLiteral()) {
      rule = matchDenyAddress(host.ip().orElseThrow(), port);
    }
    return rule;
  }

  /** The most specific allow rule for the host and port, or null; ask rules are not considered. */
  public Rule matchAllow(HostName host, int port) {
    return allowIndex.match(host, port);
  }

  /**
   * The most specific allow or ask rule for the host and port, or null: what {@link PolicyEngine#decide} goes by
   * once no deny rule matched. For the same pattern and port, the ask rule.
   */
  public Rule matchAllowOrAsk(HostName host, int port) {
    return allowOrAskIndex.match(host, port);
  }

  /**
   * The most specific deny rule naming {@code address} by IP or CIDR, or null. A rule for the address itself wins;
   * otherwise rules for the IPv4 address it embeds apply, because traffic to {@code 64:ff9b::a00:1} reaches
   * {@code 10.0.0.1} and a deny rule must not be bypassed by respelling its address.
   */
  public Rule matchDenyAddress(IpAddress address, int port) {
    Rule rule = denyIndex.matchIp(address, port);
    if (rule != null || address.isIpv4()) {
      return rule;
    }
    return AddressClassifier.embeddedIpv4(address).map(v4 -> denyIndex.matchIp(v4, port)).orElse(null);
  }

  /** The most specific allow rule naming {@code address} by IP or CIDR, or null; an ask rule never exempts one. */
  public Rule matchAllowAddress(IpAddress address, int port) {
    return allowIndex.matchIp(address, port);
  }

  /**
   * The interception rules: {@link Rule.Action#ALLOW} entries come from {@code mitm_domains} (intercept these hosts
   * in full mode), {@link Rule.Action#DENY} entries from {@code mitm_bypass} (never intercept them in full mode).
   */
  public List<Rule> interceptionRules() {
    return interceptionRules;
  }

  /**
   * Whether a tunnel to {@code host:port} is intercepted when TLS interception is on: in limited mode always (the
   * inner methods must be checked), for hosts with hooks and hosts a credential belongs to; in full mode otherwise
   * only hosts matching
   * {@code mitm_domains} and not {@code mitm_bypass}.
   */
  public boolean intercepts(HostName host, int port) {
    if (!mitm) {
      return false;
    }
    if (mode == AccessMode.LIMITED || hooks.covers(host) || credentials.covers(host, port)) {
      return true; // bypass cannot apply: a tunnel nobody inspects would escape the method policy or the hooks
    }
    return interceptIndex.match(host, port) != null && bypassIndex.match(host, port) == null;
  }

  /** True when the allow list contains {@code *}. */
  public boolean allowsEverything() {
    return rules.stream().anyMatch(r -> r.action() == Rule.Action.ALLOW && r.pattern().isGlobal());
  }

  /** {@code mitm_hooks}: hosts whose intercepted requests must match a hook, and what the hooks change. */
  public MitmHooks hooks() {
    return hooks;
  }

  /** {@code [network.credentials.*]}: secrets swapped in for their stand-ins on the hosts they belong to. */
  public Credentials credentials() {
    return credentials;
  }

  /** Builds a {@link NetworkPolicy}. Defaults live here. */
  public static final class Builder {
    private boolean enabled = true;
    private AccessMode mode = AccessMode.FULL;
    private boolean allowLocalBinding;
    private boolean mitm;
    private boolean askOnMiss;
    private Duration askTimeout = DEFAULT_ASK_TIMEOUT;
    private boolean report;
    private final List<Rule> rules = new ArrayList<>();
    private final List<Rule> interceptionRules = new ArrayList<>();
    private final List<MitmHook> hooks = new ArrayList<>();
    private final List<Credential> credentials = new ArrayList<>();
    private String scope = "the configuration";

    private Builder() {}

    /** Sets {@code enabled}. */
    public Builder enabled(boolean enabled) {
      this.enabled = enabled;
      return this;
    }

    /** Sets {@code mode}. */
    public Builder mode(AccessMode mode) {
      this.mode = Objects.requireNonNull(mode, "mode");
      return this;
    }

    /** Sets {@code allow_local_binding}. */
    public Builder allowLocalBinding(boolean allowLocalBinding) {
      this.allowLocalBinding = allowLocalBinding;
      return this;
    }

    /** Sets {@code mitm}. */
    public Builder mitm(boolean mitm) {
      this.mitm = mitm;
      return this;
    }

    /**
     * Adds a rule. A global {@code *} deny rule is refused, as the reference refuses it: it would make every other
     * rule pointless and is almost always a typo for an allow. A port-scoped {@code *:25} deny is accepted.
     */
    public Builder addRule(Rule rule) {
      Objects.requireNonNull(rule, "rule");
      if (rule.action() == Rule.Action.DENY && rule.pattern().isGlobal()) {
        throw new IllegalArgumentException("unsupported global wildcard domain pattern \"" + rule.pattern().text()
            + "\" in a deny rule (" + rule.origin() + "); use exact hosts or scoped wildcards like *.example.com or"
            + " **.example.com");
      }
      rules.add(rule);
      return this;
    }

    /** Adds a {@code mitm_domains} entry: tunnels to matching hosts are intercepted in full mode. */
    public Builder addInterceptedHost(HostPattern pattern, String origin) {
      interceptionRules.add(new Rule(pattern, Rule.Action.ALLOW, origin));
      return this;
    }

    /** Adds a {@code mitm_bypass} entry: tunnels to matching hosts stay opaque in full mode (certificate pinning). */
    public Builder addInterceptionBypass(HostPattern pattern, String origin) {
      interceptionRules.add(new Rule(pattern, Rule.Action.DENY, origin));
      return this;
    }

    /** Adds a {@code mitm_hooks} entry, after those added before it (the first matching hook wins). */
    public Builder addHook(MitmHook hook) {
      hooks.add(Objects.requireNonNull(hook, "hook"));
      return this;
    }

    /** Adds a {@code [network.credentials.NAME]}. */
    public Builder addCredential(Credential credential) {
      credentials.add(Objects.requireNonNull(credential, "credential"));
      return this;
    }

    /** Sets {@code default = "ask"} ({@code true}) or {@code "deny"}. */
    public Builder askOnMiss(boolean askOnMiss) {
      this.askOnMiss = askOnMiss;
      return this;
    }

    /** Sets {@code ask_timeout}; must be positive. */
    public Builder askTimeout(Duration askTimeout) {
      if (askTimeout.isNegative() || askTimeout.isZero()) {
        throw new IllegalArgumentException("askTimeout: " + askTimeout + " (expected: > 0)");
      }
      this.askTimeout = askTimeout;
      return this;
    }

    /** Sets {@code enforcement}: {@code "report"} ({@code true}) or {@code "enforce"}. */
    public Builder report(boolean report) {
      this.report = report;
      return this;
    }

    /** Describes where the policy came from, for messages. */
    public Builder scope(String scope) {
      this.scope = Objects.requireNonNull(scope, "scope");
      return this;
    }

    /** Compiles the policy. */
    public NetworkPolicy build() {
      return new NetworkPolicy(this);
    }
  }
}
