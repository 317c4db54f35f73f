package dev.egressd.policy;

/**
 * Why a request was allowed or refused. {@link #code()} is stable and appears in audit events and JSON bodies;
 * {@link #proxyError()} is the {@code x-proxy-error} header value, as the reference sends it.
 */
public enum Reason {
  /** Allowed by an allow rule. */
  ALLOW("allow", null, "Allowed by policy."),
  /** No allow rule matches. */
  NOT_ALLOWED("not_allowed", "blocked-by-allowlist", "Domain not in allowlist."),
  /** The target is loopback, private or otherwise non-public and no explicit rule allows it. */
  NOT_ALLOWED_LOCAL("not_allowed_local", "blocked-by-allowlist",
      "Sandbox policy blocks local/private network addresses."),
  /** A deny rule matches. */
  DENIED("denied", "blocked-by-denylist", "Domain denied by the sandbox policy."),
  /** Limited mode and a method other than GET, HEAD, OPTIONS (or a protocol upgrade). */
  METHOD_NOT_ALLOWED("method_not_allowed", "blocked-by-method-policy", "Method not allowed in limited mode."),
  /** Limited mode needs TLS interception to check HTTPS methods, and it is not available. */
  MITM_REQUIRED("mitm_required", "blocked-by-mitm-required", "MITM required for limited HTTPS."),
  /** The proxy is configured with {@code enabled = false}. */
  PROXY_DISABLED("proxy_disabled", "blocked-by-policy", "network proxy is disabled"),
  /** Unix-socket proxying is not available on this platform. */
  UNIX_SOCKET_UNSUPPORTED("unix_socket_unsupported", "blocked-by-policy", "unix sockets unsupported"),
  /** Inside an intercepted tunnel: the TLS server name or the HTTP Host is not the host the tunnel was opened for. */
  HOST_MISMATCH("host_mismatch", "blocked-by-policy", "Inner host does not match the tunnel's host."),
  /** Inside an intercepted tunnel in limited mode: the client sent something other than TLS. */
  OPAQUE_TUNNEL("opaque_tunnel", "blocked-by-mitm-required", "Opaque tunnels are not allowed in limited mode."),
  /** The destination is one of the proxy's own listeners; forwarding would loop. */
  PROXY_LOOP("proxy_loop", "blocked-by-policy", "Request would loop back into the proxy."),
  /** The decision step failed or answered nothing (an egressd extension): refused, since nothing allowed it. */
  DECISION_FAILED("decision_failed", "blocked-by-policy", "The policy decision could not be made."),
  /**
   * A {@link PolicyDecider} refused an allowlist miss. The code is the reference's {@code policy_denied}, used when
   * the decider gave no reason text of its own ({@link Decision#reasonLabel()}).
   */
  DECIDER_DENIED("policy_denied", "blocked-by-policy", "Request blocked by network policy."),
  /** The decider failed: it threw, completed exceptionally, answered nothing or garbage. egressd fails closed. */
  DECIDER_FAILED("decider_failed", "blocked-by-policy",
      "The policy decider failed, so the request is refused (egressd fails closed)."),
  /** The decider did not answer within {@code timeout}. egressd fails closed. */
  DECIDER_TIMEOUT("decider_timeout", "blocked-by-policy",
      "The policy decider did not answer in time, so the request is refused (egressd fails closed)."),
  /** A person denied a request that was waiting for approval (or a standing denial covers it). */
  APPROVAL_DENIED("approval_denied", "blocked-by-policy", "Denied by a person."),
  /** Nobody approved a waiting request within {@code ask_timeout}. */
  APPROVAL_TIMEOUT("approval_timeout", "blocked-by-policy", "Nobody approved the request in time."),
  /** A host with MITM hooks, and a request no hook matches (or one hooks cannot see: plain HTTP, UDP). */
  MITM_HOOK_DENIED("mitm_hook_denied", "blocked-by-mitm-hook", "HTTPS request denied by MITM hook policy."),
  /** A credential's stand-in value was sent to a host the credential is not bound to. */
  CREDENTIAL_MISUSE("credential_misuse", "blocked-by-credential-policy",
      "A stand-in credential was sent to a host it does not belong to.");

  private final String code;
  private final String proxyError;
  private final String message;

  Reason(String code, String proxyError, String message) {
    this.code = code;
    this.proxyError = proxyError;
    this.message = message;
  }

  /** The stable snake_case code, e.g. {@code not_allowed_local}. */
  public String code() {
    return code;
  }

  /** The {@code x-proxy-error} value, e.g. {@code blocked-by-allowlist}; null for {@link #ALLOW}. */
  public String proxyError() {
    return proxyError;
  }

  /** A short sentence for people, as the reference words it. */
  public String message() {
    return message;
  }

  /**
   * Whether report mode may let a request refused for this reason through ({@code enforcement = "report"}): the
   * policy's own refusals (allowlist, deny rules, the mode guard, a decider's or a person's no). Never the local-address
   * and loop guards, a missing interception stage, a malformed or mismatched request, or a decision that failed.
   */
  public boolean reportable() {
    return switch (this) {
      case NOT_ALLOWED, DENIED, METHOD_NOT_ALLOWED, DECIDER_DENIED, APPROVAL_DENIED, APPROVAL_TIMEOUT,
          MITM_HOOK_DENIED, CREDENTIAL_MISUSE -> true;
      default -> false;
    };
  }
}
