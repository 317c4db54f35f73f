package dev.egressd.policy;

import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Evaluates requests against a {@link NetworkPolicy}. Pure: no I/O, no clock, no mutable state; safe to call from
 * any thread, including event loops.
 *
 * <p>A request is decided in two steps so that DNS happens only for hosts the rules allow (the proxy is never a DNS
 * side channel) and the address that is dialled is the address that was checked (no DNS rebinding):
 * <ol>
 *   <li>{@link #decide}, in order:
 *     <ol>
 *       <li>{@code enabled = false} refuses everything ({@link Reason#PROXY_DISABLED});</li>
 *       <li>a matching deny rule refuses ({@link Reason#DENIED}); deny always wins;</li>
 *       <li>the most specific allow or ask rule decides: none refuses ({@link Reason#NOT_ALLOWED}), without any
           lookup, or with {@code default = "ask"} holds the request for a person ({@link Decision.Verdict#ASK});
           an ask rule holds it too, after the two checks below;</li>
 *       <li>with {@code allow_local_binding = false}, an IP literal that is not public, or {@code localhost}, is
 *           refused ({@link Reason#NOT_ALLOWED_LOCAL}) unless the matching allow rule names it explicitly (exact
 *           host, IP or CIDR; never a wildcard);</li>
 *       <li>the mode guard: limited mode permits only GET, HEAD and OPTIONS without upgrade, and refuses tunnels it
 *           cannot look into ({@link Reason#METHOD_NOT_ALLOWED}, {@link Reason#MITM_REQUIRED}).</li>
 *     </ol></li>
 *   <li>{@link #vet}, once the caller has the addresses it will dial ({@link #literalAddresses} or a DNS answer):
 *       an address matching a deny IP/CIDR rule refuses; with {@code allow_local_binding = false}, any address that
 *       is not public refuses the whole host unless an allow IP/CIDR rule names that address (never for a host a
 *       {@link PolicyDecider} or a person allowed that no rule names); an address that is
 *       one of the proxy's own listeners refuses ({@link Reason#PROXY_LOOP}).</li>
 * </ol>
 *
 * <p>Refusals that do not depend on the rules are made here too, so every refusal the proxy sends is an engine
 * decision with a {@link Reason}: {@link #hostMismatch}, {@link #unixSocketUnsupported}, and the
 * {@link TunnelTerms#opaqueRefusal()} fixed when a tunnel is approved ({@link #tunnelTerms}).
 *
 * <p>An allowlist miss may be referred to a {@link PolicyDecider}: {@link #consultsDecider} says whether, and
 * {@link #overrule} applies its answer; an allow from a decider then goes through {@link #vet} like any other.
 *
 * <p>"Not public" covers every non-public {@link AddressClass} and, through {@link HostAddresses}, the addresses of
 * this host's own interfaces, which reach local services however public they look.
 */
public final class PolicyEngine {
  private static final List<IpAddress> LOCALHOST = List.of(
      IpAddress.parse("127.0.0.1").orElseThrow(), IpAddress.parse("::1").orElseThrow());

  private final NetworkPolicy policy;
  private final boolean interceptionAvailable;
  private final HostAddresses hostAddresses;

  /** Creates an engine that knows no interface addresses of this host ({@link HostAddresses#NONE}). */
  public PolicyEngine(NetworkPolicy policy, boolean interceptionAvailable) {
    this(policy, interceptionAvailable, HostAddresses.NONE);
  }

  /**
   * Creates an engine.
   *
   * @param interceptionAvailable whether the proxy can terminate TLS in tunnels (and so enforce limited mode on
   *     HTTPS): true only when the MITM stage is installed and the policy has {@code mitm = true}
   * @param hostAddresses this host's interface addresses, treated as {@link AddressClass#THIS_HOST}; consulted on
   *     every decision, so a live view sees interfaces come and go
   */
  public PolicyEngine(NetworkPolicy policy, boolean interceptionAvailable, HostAddresses hostAddresses) {
    this.policy = Objects.requireNonNull(policy, "policy");
    this.interceptionAvailable = interceptionAvailable;
    this.hostAddresses = Objects.requireNonNull(hostAddresses, "hostAddresses");
  }

  /**
   * The class of {@code address} as this engine sees it: {@link AddressClassifier#classify}, except that a public
   * address of this host (or an IPv6 form embedding one) is {@link AddressClass#THIS_HOST}.
   */
  public AddressClass classify(IpAddress address) {
    AddressClass addressClass = AddressClassifier.classify(address);
    if (addressClass.isPublic() && (hostAddresses.contains(address.unmapped())
        || AddressClassifier.embeddedIpv4(address).map(hostAddresses::contains).orElse(false))) {
      return AddressClass.THIS_HOST;
    }
    return addressClass;
  }

  /**
   * Whether an allowed tunnel for {@code request} (HTTPS CONNECT or SOCKS5 TCP) is to be intercepted rather than
   * relayed opaquely: only when interception is available and {@link NetworkPolicy#intercepts} says so.
   */
  public boolean intercepts(AccessRequest request) {
    return interceptionAvailable
        && (request.protocol() == Protocol.HTTPS_CONNECT || request.protocol() == Protocol.SOCKS5_TCP)
        && policy.intercepts(request.destination().host(), request.destination().port());
  }

  /**
   * What an allowed tunnel request may carry: {@link TunnelTerms#BLIND} unless {@link #intercepts} it; an intercepted
   * tunnel in limited mode refuses bytes that are not TLS ({@link Reason#OPAQUE_TUNNEL}), in full mode relays them.
   */
  public TunnelTerms tunnelTerms(AccessRequest request) {
    if (!intercepts(request)) {
      return TunnelTerms.BLIND;
    }
    if (policy.hooks().covers(request.destination().host())) {
      return new TunnelTerms(true, Optional.of(Decision.deny(Reason.MITM_HOOK_DENIED, PolicySource.MODE_GUARD, null,
          "The client sent something other than TLS into a tunnel to " + request.destination().host().value()
              + ", which has MITM hooks: only intercepted HTTPS requests can be matched against them.")));
    }
    if (policy.mode() == AccessMode.FULL) {
      return new TunnelTerms(true, Optional.empty());
    }
    return new TunnelTerms(true, Optional.of(Decision.deny(Reason.OPAQUE_TUNNEL, PolicySource.MODE_GUARD, null,
        "The client sent something other than TLS into a tunnel that limited mode must inspect.")));
  }

  /**
   * The refusal of a request inside an intercepted tunnel that names another host than the tunnel's: in the TLS
   * server name or the HTTP {@code Host}. The certificate is only ever minted for the host the policy approved.
   *
   * @param why what the client named and where, e.g. {@code TLS server name a.example is not the tunnel's host
   *     b.example.}
   */
  public Decision hostMismatch(String why) {
    return Decision.deny(Reason.HOST_MISMATCH, PolicySource.BASELINE_POLICY, null, Objects.requireNonNull(why, "why"));
  }

  /** The refusal of a request that asks for Unix-socket proxying ({@code x-unix-socket}), which is macOS-only. */
  public Decision unixSocketUnsupported() {
    return Decision.deny(Reason.UNIX_SOCKET_UNSUPPORTED, PolicySource.PROXY_STATE, null,
        "Unix-socket proxying via x-unix-socket is only available on macOS.");
  }

  /** The policy this engine evaluates. */
  public NetworkPolicy policy() {
    return policy;
  }

  /** Step 1: everything that can be decided without a lookup. */
  public Decision decide(AccessRequest request) {
    Objects.requireNonNull(request, "request");
    HostName host = request.destination().host();
    int port = request.destination().port();
    if (!policy.enabled()) {
      return Decision.deny(Reason.PROXY_DISABLED, PolicySource.PROXY_STATE, null,
          "Set enabled = true in " + policy.scope() + ".");
    }
    Rule deny = policy.matchDeny(host, port);
    if (deny != null) {
      return Decision.deny(Reason.DENIED, PolicySource.BASELINE_POLICY, deny,
          "Rule \"" + deny.pattern().text() + "\" (" + deny.origin() + ") denies " + host.authorityForm() + ".");
    }
    Rule allow = policy.matchAllowOrAsk(host, port);
    if (allow == null) {
      Decision miss = Decision.deny(Reason.NOT_ALLOWED, PolicySource.BASELINE_POLICY, null,
          "Add \"" + host.value() + "\" to allowed_domains in " + policy.scope() + ".");
      // default = "ask" holds only a miss a decider could have overruled: never a local literal or a mode refusal.
      return policy.askOnMiss() && consultsDecider(request, miss)
          ? new Decision(Decision.Verdict.ASK, Reason.NOT_ALLOWED, PolicySource.BASELINE_POLICY, Optional.empty(),
              "default = \"ask\" in " + policy.scope() + " holds " + request.destination().authority() + " for approval. Add \""
                  + host.value() + "\" to allowed_domains to allow it without asking.")
          : miss;
    }
    if (!policy.allowLocalBinding() && isLocalLiteral(host) && !allow.pattern().isExplicit()) {
      return Decision.deny(Reason.NOT_ALLOWED_LOCAL, PolicySource.BASELINE_POLICY, allow,
          host.authorityForm() + " is not a public address (" + localLabel(host) + "); allow it with an exact rule"
              + " (\"" + host.value() + "\") or set allow_local_binding = true in " + policy.scope() + ".");
    }
    if (allow.action() == Rule.Action.ASK) {
      Decision refusal = modeRefusal(request, allow);
      return refusal != null ? refusal : new Decision(Decision.Verdict.ASK, Reason.NOT_ALLOWED,
          PolicySource.BASELINE_POLICY, Optional.of(allow), "Rule \"" + allow.pattern().text() + "\" ("
              + allow.origin() + ") holds " + request.destination().authority() + " for approval. Make it \"allow\" to allow it"
              + " without asking.");
    }
    return modeGuard(request, allow);
  }

  /**
   * Whether {@code decision} holds the request for a person: the policy's own ask (an ask rule or
   * {@code default = "ask"}), which goes to a person without asking any {@link PolicyDecider}.
   */
  public boolean asksPerson(Decision decision) {
    return decision.verdict() == Decision.Verdict.ASK && decision.source() == PolicySource.BASELINE_POLICY;
  }

  /**
   * Whether a {@link PolicyDecider} is to be asked about {@code decision}, which {@link #decide} made for
   * {@code request}: only for an allowlist miss ({@link Reason#NOT_ALLOWED}) that nothing else would refuse anyway.
   * Not for a deny rule, a disabled proxy, a local or private IP literal or {@code localhost} (unless
   * {@code allow_local_binding}), or a request the mode guard refuses: those refusals stand without a call.
   */
  public boolean consultsDecider(AccessRequest request, Decision decision) {
    Objects.requireNonNull(request, "request");
    if (decision.verdict() != Decision.Verdict.DENY || decision.reason() != Reason.NOT_ALLOWED
        || decision.source() != PolicySource.BASELINE_POLICY) {
      return false;
    }
    if (!policy.allowLocalBinding() && isLocalLiteral(request.destination().host())) {
      return false;
    }
    return modeRefusal(request, null) == null;
  }

  /**
   * Applies a decider's {@code answer} to {@code miss}, an allowlist miss for which {@link #consultsDecider} was
   * true. An allow is still subject to {@link #vet} (the caller resolves and vets as for any allow); the decision
   * carries {@link PolicySource#DECIDER}, and for an allow {@link Reason#NOT_ALLOWED} with
   * {@link Decision#overridden()}, as the reference audits an override.
   *
   * @throws IllegalArgumentException when {@code miss} is not a decision the decider may overrule
   */
  public Decision overrule(AccessRequest request, Decision miss, DeciderAnswer answer) {
    Objects.requireNonNull(answer, "answer");
    if (!consultsDecider(request, miss)) {
      throw new IllegalArgumentException("miss: " + miss + " (expected: an allowlist miss a decider may overrule)");
    }
    String host = request.destination().authority();
    String said = answer.reason().isEmpty() ? "." : ": " + answer.reason() + ".";
    return switch (answer.verdict()) {
      case ALLOW -> new Decision(Decision.Verdict.ALLOW, Reason.NOT_ALLOWED, PolicySource.DECIDER, Optional.empty(),
          "", answer.reason());
      case DENY -> new Decision(Decision.Verdict.DENY, Reason.DECIDER_DENIED, PolicySource.DECIDER, Optional.empty(),
          "The policy decider refused " + host + said, answer.reason());
      case ASK -> new Decision(Decision.Verdict.ASK, Reason.NOT_ALLOWED, PolicySource.DECIDER, Optional.empty(),
          "The policy decider asks for approval of " + host + said + " Add \"" + request.destination().host().value()
              + "\" to allowed_domains in " + policy.scope() + " to allow it without asking.", answer.reason());
    };
  }

  /**
   * A person's answer to {@code miss}: an allowlist miss a decider asked about or a standing approval covers, or the
   * policy's own ask ({@link #asksPerson}). An allow is still vetted, as a decider's is; it keeps the ask rule, if
   * one matched, so that rule's explicit local literal stays reachable.
   *
   * @param who who answered, e.g. {@code cli}; audited as the reason text
   */
  public Decision approval(AccessRequest request, Decision miss, boolean approved, String who) {
    Objects.requireNonNull(who, "who");
    if (!consultsDecider(request, miss) && !asksPerson(miss)) {
      throw new IllegalArgumentException("miss: " + miss + " (expected: an allowlist miss or the policy's ask)");
    }
    String answer = DeciderAnswer.sanitize((approved ? "approved by " : "denied by ") + who);
    return approved
        ? new Decision(Decision.Verdict.ALLOW, Reason.NOT_ALLOWED, PolicySource.APPROVAL, miss.rule(), "", answer)
        : new Decision(Decision.Verdict.DENY, Reason.APPROVAL_DENIED, PolicySource.APPROVAL, Optional.empty(),
            request.destination().authority() + " was " + answer + ".", answer);
  }

  /**
   * The refusal of a request nobody approved within {@code timeout}.
   *
   * @param how what to do next time, e.g. {@code Approve it with: egressd approve ID}
   */
  public Decision approvalTimedOut(AccessRequest request, Duration timeout, String how) {
    return Decision.deny(Reason.APPROVAL_TIMEOUT, PolicySource.APPROVAL, null, "No approval of "
        + request.destination().authority() + " within " + (timeout.toMillis() % 1000 == 0
            ? timeout.toSeconds() + " s. " : timeout.toMillis() + " ms. ") + how);
  }

  /**
   * The refusal when the decider failed: it threw, completed exceptionally or answered nothing usable.
   *
   * @param why what went wrong, for the response body and the log, e.g. {@code answered invalid JSON}
   */
  public Decision deciderFailed(String why) {
    return Decision.deny(Reason.DECIDER_FAILED, PolicySource.DECIDER, null,
        "The decider " + Objects.requireNonNull(why, "why") + ".");
  }

  /** The refusal when the decider did not answer within {@code timeout}. */
  public Decision deciderTimedOut(Duration timeout) {
    return Decision.deny(Reason.DECIDER_TIMEOUT, PolicySource.DECIDER, null,
        "No answer within " + timeout.toMillis() + " ms.");
  }

  /**
   * The addresses to dial for a host that needs no DNS: the address of an IP literal, or loopback for
   * {@code localhost}. Empty when the host must be resolved.
   */
  public Optional<List<IpAddress>> literalAddresses(HostName host) {
    if (host.isIpLiteral()) {
      return Optional.of(List.of(host.ip().orElseThrow()));
    }
    return host.isLocalhost() ? Optional.of(LOCALHOST) : Optional.empty();
  }

  /**
   * The final word on {@code decision}: a refusal for a {@link Reason#reportable() reportable} reason becomes report
   * mode's allow ({@link Decision#reported(Decision)}) when the rule that decided says {@code report = true}, or the
   * policy is in report mode and the rule does not say {@code report = false}; everything else is returned as is.
   * Called after the decision step (decider and person included) and again after {@link #vet}.
   */
  public Decision enforce(Decision decision) {
    if (decision.allowed() || !decision.reason().reportable()) {
      return decision;
    }
    Boolean ruleSays = decision.rule().map(r -> r.metadata().report()).orElse(null);
    boolean report = ruleSays != null ? ruleSays : policy.report();
    return report ? Decision.reported(decision) : decision;
  }

  /**
   * Step 2: checks the addresses the caller is about to dial, for a request {@link #decide} allowed.
   *
   * @param addresses every address of the answer; all of them are checked, not just the first
   * @return {@code allowed} unchanged when every address passes, else a denial naming the first offending address
   */
  public Decision vet(AccessRequest request, Decision allowed, List<IpAddress> addresses) {
    return vet(request, allowed, addresses, ProxyListeners.NONE);
  }

  /**
   * As {@link #vet(AccessRequest, Decision, List)}, and then refuses ({@link Reason#PROXY_LOOP}) when any address is
   * one of the proxy's own {@code listeners}: dialling it would loop through the proxy until descriptors run out.
   */
  public Decision vet(AccessRequest request, Decision allowed, List<IpAddress> addresses, ProxyListeners listeners) {
    Decision vetted = vetAddresses(request, allowed, addresses);
    if (!vetted.allowed()) {
      return vetted;
    }
    for (IpAddress address : addresses) {
      if (listeners.isListener(address, request.destination().port())) {
        return Decision.deny(Reason.PROXY_LOOP, PolicySource.PROXY_STATE, null,
            request.destination().authority() + " is egressd's own listener.");
      }
    }
    return vetted;
  }

  private Decision vetAddresses(AccessRequest request, Decision allowed, List<IpAddress> addresses) {
    Objects.requireNonNull(request, "request");
    if (!Objects.requireNonNull(allowed, "allowed").allowed()) {
      throw new IllegalArgumentException("allowed: " + allowed + " (expected: an allow decision)");
    }
    if (addresses.isEmpty()) {
      throw new IllegalArgumentException("addresses: [] (expected: at least one address)");
    }
    HostName host = request.destination().host();
    int port = request.destination().port();
    // A reported refusal has no allow rule of its own: it earns no IP-rule exemption (as for unlisted names).
    Rule allowRule = allowed.reported() ? null : allowed.rule().orElse(null);
    for (IpAddress address : addresses) {
      Rule deny = policy.matchDenyAddress(address, port);
      if (deny != null) {
        return Decision.deny(Reason.DENIED, PolicySource.BASELINE_POLICY, deny, host.authorityForm()
            + " resolved to " + address + ", which rule \"" + deny.pattern().text() + "\" (" + deny.origin()
            + ") denies.");
      }
      AddressClass addressClass = classify(address);
      // A name a decider or a person opened without a rule has no rule of its own: IP/CIDR allow rules exempt
      // addresses for the hosts the operator listed, never for a name let through beyond the list.
      boolean unlisted = (allowed.overridden() || allowed.reported()) && allowRule == null;
      if (policy.allowLocalBinding() || addressClass.isPublic()
          || !unlisted && explicitlyAllowed(host, allowRule, address, port)) {
        continue;
      }
      String resolved = host.isIpLiteral() ? host.authorityForm() + " is" : host.value() + " resolved to " + address
          + ", which is";
      return Decision.deny(Reason.NOT_ALLOWED_LOCAL, PolicySource.BASELINE_POLICY, allowRule,
          resolved + " not a public address (" + addressClass.label() + "); allow that address with an IP or CIDR"
              + " rule or set allow_local_binding = true in " + policy.scope() + ".");
    }
    return allowed;
  }

  private boolean explicitlyAllowed(HostName host, Rule allowRule, IpAddress address, int port) {
    if (allowRule != null && allowRule.pattern().isExplicit() && (host.isIpLiteral() || host.isLocalhost())) {
      return true; // decide() already required an explicit rule for this literal
    }
    return policy.matchAllowAddress(address, port) != null;
  }

  private Decision modeGuard(AccessRequest request, Rule allow) {
    Decision refusal = modeRefusal(request, allow);
    return refusal != null ? refusal : Decision.allow(allow);
  }

  /** The mode guard's refusal of {@code request} (limited mode, then hooks), or null when both permit it. */
  private Decision modeRefusal(AccessRequest request, Rule allow) {
    Decision limited = limitedModeRefusal(request, allow);
    return limited != null ? limited : hookedProtocolRefusal(request, allow);
  }

  /**
   * Hooks match requests inside intercepted tunnels only: plain HTTP to a hooked host would skip them (and put an
   * injected secret on the wire in clear), and UDP could carry HTTP/3 past them.
   */
  private Decision hookedProtocolRefusal(AccessRequest request, Rule allow) {
    HostName host = request.destination().host();
    if ((request.protocol() == Protocol.HTTP || request.protocol() == Protocol.SOCKS5_UDP)
        && policy.hooks().covers(host)) {
      return Decision.deny(Reason.MITM_HOOK_DENIED, PolicySource.MODE_GUARD, allow, host.value()
          + " has MITM hooks in " + policy.scope() + ": only HTTPS requests through TLS interception can match them"
          + (request.protocol() == Protocol.HTTP ? "; use https://" : "") + ".");
    }
    return null;
  }

  /**
   * Step 3, for a request inside an intercepted tunnel to a host with hooks that {@link MitmHooks#match} found no
   * hook for: the refusal (the reference's fail-closed {@code mitm_hook_denied}).
   */
  public Decision hookMiss(AccessRequest request, Decision allowed) {
    HostName host = request.destination().host();
    long hooks = policy.hooks().all().stream().filter(h -> h.host().equals(host)).count();
    return Decision.deny(Reason.MITM_HOOK_DENIED, PolicySource.MODE_GUARD, allowed.rule().orElse(null),
        "No MITM hook for " + host.value() + " matches this " + request.method() + " request (" + hooks
            + (hooks == 1 ? " hook" : " hooks") + " in " + policy.scope() + ").");
  }

  /**
   * The refusal of a request carrying the stand-in of {@code credential} to a host the credential does not belong
   * to: whatever sent it was reading the agent's environment, and the request says where it tried to take it.
   */
  public Decision credentialMisuse(AccessRequest request, Credential credential) {
    return new Decision(Decision.Verdict.DENY, Reason.CREDENTIAL_MISUSE, PolicySource.BASELINE_POLICY,
        Optional.empty(), "The stand-in for credential \"" + credential.name() + "\" (" + credential.origin()
            + ") belongs to " + credential.hosts().stream().map(HostPattern::text).toList() + ", not "
            + request.destination().host().value() + ".", "", null, credential.name());
  }

  /** Limited mode's refusal of {@code request}, or null when the mode permits it. */
  private Decision limitedModeRefusal(AccessRequest request, Rule allow) {
    if (policy.mode() == AccessMode.FULL) {
      return null;
    }
    String limited = "mode = \"limited\" in " + policy.scope();
    switch (request.protocol()) {
      case HTTP, HTTPS -> {
        if (!policy.mode().allowsMethod(request.method())) {
          return Decision.deny(Reason.METHOD_NOT_ALLOWED, PolicySource.MODE_GUARD, allow,
              limited + " permits only GET, HEAD and OPTIONS.");
        }
        if (request.upgrade()) {
          return Decision.deny(Reason.METHOD_NOT_ALLOWED, PolicySource.MODE_GUARD, allow,
              limited + " does not permit protocol upgrades.");
        }
      }
      case HTTPS_CONNECT -> {
        if (!interceptionAvailable) {
          return Decision.deny(Reason.MITM_REQUIRED, PolicySource.MODE_GUARD, allow,
              limited + " needs TLS interception to check methods inside tunnels, and it is not available.");
        }
      }
      case SOCKS5_TCP -> {
        if (request.destination().port() != 443) {
          return Decision.deny(Reason.METHOD_NOT_ALLOWED, PolicySource.MODE_GUARD, allow,
              limited + " permits SOCKS5 only to port 443.");
        }
        if (!interceptionAvailable) {
          return Decision.deny(Reason.MITM_REQUIRED, PolicySource.MODE_GUARD, allow,
              limited + " needs TLS interception to check methods inside tunnels, and it is not available.");
        }
      }
      case SOCKS5_UDP -> {
        return Decision.deny(Reason.METHOD_NOT_ALLOWED, PolicySource.MODE_GUARD, allow,
            limited + " does not permit UDP.");
      }
    }
    return null;
  }

  private boolean isLocalLiteral(HostName host) {
    return host.isLocalhost() || host.isIpLiteral() && !classify(host.ip().orElseThrow()).isPublic();
  }

  private String localLabel(HostName host) {
    return host.isLocalhost() ? "loopback" : classify(host.ip().orElseThrow()).label();
  }
}
