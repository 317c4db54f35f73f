package dev.egressd.policy;

import java.util.Objects;

/**
 * What a client asked for, as the policy engine sees it.
 *
 * @param destination the canonical host and port
 * @param protocol how the client reached the proxy
 * @param method the HTTP method, or {@code null} where there is none (SOCKS)
 * @param upgrade true when an HTTP request asks for a protocol upgrade ({@code Upgrade} header)
 * @param client the client's {@code ip:port} ({@code [v6]:port} for IPv6), {@code unix-socket}, or {@code unknown}
 * @param connectionId the client connection this request came on, shared by every audit event of that connection
 *     (the tunnel, each request inside it, upstream failures); {@link #NO_CONNECTION} when there is none (the
 *     {@code check} command)
 * @param executionId the {@code egressd run} execution the client connection is known to belong to (for now: it
 *     came over that run's isolation bridge), or null when egressd cannot tell
 */
public record AccessRequest(Destination destination, Protocol protocol, String method, boolean upgrade,
    String client, long connectionId, String executionId) {
  /** The connection id of a request that did not arrive on a client connection. */
  public static final long NO_CONNECTION = 0;

  /** Null checks; {@code method} may be null. */
  public AccessRequest {
    Objects.requireNonNull(destination, "destination");
    Objects.requireNonNull(protocol, "protocol");
    Objects.requireNonNull(client, "client");
    if (connectionId < 0) {
      throw new IllegalArgumentException("connectionId: " + connectionId + " (expected: 0 or more)");
    }
    if (executionId != null && !validExecutionId(executionId)) {
      throw new IllegalArgumentException("executionId: \"" + executionId + "\" (expected: " + EXECUTION_ID_FORM + ")");
    }
  }

  /** A request on a connection no execution is known for. */
  public AccessRequest(Destination destination, Protocol protocol, String method, boolean upgrade, String client,
      long connectionId) {
    this(destination, protocol, method, upgrade, client, connectionId, null);
  }

  /** What an execution id may be, for messages. */
  public static final String EXECUTION_ID_FORM = "1 to 64 of A-Z a-z 0-9 . _ : -";

  /** True for an execution id egressd accepts: 1 to 64 letters, digits, {@code .}, {@code _}, {@code :} or {@code -}. */
  public static boolean validExecutionId(String id) {
    return id.matches("[A-Za-z0-9._:-]{1,64}");
  }

  /** A request that did not arrive on a client connection. */
  public AccessRequest(Destination destination, Protocol protocol, String method, boolean upgrade, String client) {
    this(destination, protocol, method, upgrade, client, NO_CONNECTION);
  }

  /** A request without upgrade that did not arrive on a client connection. */
  public static AccessRequest of(Destination destination, Protocol protocol, String method, String client) {
    return new AccessRequest(destination, protocol, method, false, client, NO_CONNECTION);
  }

  /** The same request for another destination, protocol and method, on the same connection. */
  public AccessRequest inner(Destination destination, Protocol protocol, String method, boolean upgrade) {
    return new AccessRequest(destination, protocol, method, upgrade, client, connectionId, executionId);
  }
}
