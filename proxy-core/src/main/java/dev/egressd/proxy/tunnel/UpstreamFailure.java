package dev.egressd.proxy.tunnel;

/**
 * Why an allowed request could not reach its destination. Each front end maps this once to its own error form
 * (HTTP status plus {@code x-proxy-error}, or a SOCKS5 reply code).
 */
public enum UpstreamFailure {
  /** The name does not resolve. */
  DNS_FAILURE("dns_failure", 502, "dns-failure", "could not resolve host"),
  /** The lookup did not finish in time. */
  DNS_TIMEOUT("dns_timeout", 504, "dns-timeout", "DNS lookup timed out"),
  /** The destination actively refused the connection. */
  CONNECT_REFUSED("connect_refused", 502, "upstream-connect-refused", "connection refused by upstream"),
  /** No answer within the connect timeout. */
  CONNECT_TIMEOUT("connect_timeout", 504, "upstream-connect-timeout", "upstream connect timed out"),
  /** The destination's network cannot be reached from here. */
  NETWORK_UNREACHABLE("network_unreachable", 502, "upstream-network-unreachable", "network unreachable"),
  /** No route to the destination host, or another connect error. */
  UNREACHABLE("unreachable", 502, "upstream-unreachable", "upstream unreachable"),
  /** The upstream's TLS certificate or handshake was not acceptable (intercepted tunnels verify it). */
  UPSTREAM_TLS("upstream_tls", 502, "upstream-tls-failure", "upstream TLS verification failed"),
  /** The upstream closed or broke the connection before a complete response. */
  UPSTREAM_CLOSED("upstream_closed", 502, "upstream-closed", "upstream closed the connection"),
  /** The parent proxy cannot be connected to. */
  PARENT_UNREACHABLE("upstream_proxy_unreachable", 502, "upstream-proxy-unreachable",
      "the upstream proxy cannot be reached"),
  /** The parent proxy wants credentials (407), or refused the ones egressd sent. */
  PARENT_AUTH_REQUIRED("upstream_proxy_auth_required", 502, "upstream-proxy-auth-required",
      "the upstream proxy requires authentication"),
  /** The parent proxy refused the CONNECT (403, 503...). */
  PARENT_REFUSED("upstream_proxy_refused", 502, "upstream-proxy-refused", "the upstream proxy refused the request"),
  /** The parent proxy did not connect or answer the CONNECT in time. */
  PARENT_TIMEOUT("upstream_proxy_timeout", 504, "upstream-proxy-timeout", "the upstream proxy timed out");

  private final String code;
  private final int httpStatus;
  private final String proxyError;
  private final String message;

  UpstreamFailure(String code, int httpStatus, String proxyError, String message) {
    this.code = code;
    this.httpStatus = httpStatus;
    this.proxyError = proxyError;
    this.message = message;
  }

  /** Stable snake_case code for audit and logs. */
  public String code() {
    return code;
  }

  /** The HTTP status the HTTP front end answers with: 502, or 504 for timeouts. */
  public int httpStatus() {
    return httpStatus;
  }

  /** The {@code x-proxy-error} header value. */
  public String proxyError() {
    return proxyError;
  }

  /** A short sentence for people. */
  public String message() {
    return message;
  }
}
