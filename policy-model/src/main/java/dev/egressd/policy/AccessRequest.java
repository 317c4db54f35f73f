package dev.egressd.policy;

import java.util.Objects;

/**
 * What a client asked for, as the policy engine sees it.
 *
 * @param destination the canonical host and port
 * @param protocol how the client reached the proxy
 * @param method the HTTP method, or {@code null} where there is none (SOCKS)
 * @param upgrade true when an HTTP request asks for a protocol upgrade ({@code Upgrade} header)
 * @param client the client's {@code ip:port}, or {@code unknown}
 */
public record AccessRequest(Destination destination, Protocol protocol, String method, boolean upgrade,
    String client) {
  /** Null checks; {@code method} may be null. */
  public AccessRequest {
    Objects.requireNonNull(destination, "destination");
    Objects.requireNonNull(protocol, "protocol");
    Objects.requireNonNull(client, "client");
  }

  /** A request without upgrade. */
  public static AccessRequest of(Destination destination, Protocol protocol, String method, String client) {
    return new AccessRequest(destination, protocol, method, false, client);
  }
}
