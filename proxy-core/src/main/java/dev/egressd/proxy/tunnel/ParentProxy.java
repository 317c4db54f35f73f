package dev.egressd.proxy.tunnel;

import io.netty.handler.ssl.SslContext;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Objects;

/**
 * A parent proxy that allowed traffic leaves through: plain HTTP in absolute form, everything else through a
 * {@code CONNECT}.
 *
 * @param address where it listens, resolved once when the configuration is loaded
 * @param username the Basic user sent to it, or null for none
 * @param password the Basic password, or null; never in {@link #toString()}
 * @param label how messages name it, e.g. {@code http://proxy.corp:3128 (HTTPS_PROXY)}
 * @param tls for an {@code https://} parent, the client TLS context its certificate is verified with (the name it is
 *     verified for is {@code address}'s host string); null for an {@code http://} one
 */
public record ParentProxy(InetSocketAddress address, String username, String password, String label, SslContext tls) {
  /** Null checks; credentials both or neither. */
  public ParentProxy {
    Objects.requireNonNull(address, "address");
    Objects.requireNonNull(label, "label");
    if (address.isUnresolved()) {
      throw new IllegalArgumentException("address: " + address + " (expected: resolved)");
    }
    if ((username == null) != (password == null)) {
      throw new IllegalArgumentException("username and password: both or neither");
    }
  }

  /** An {@code http://} parent. */
  public ParentProxy(InetSocketAddress address, String username, String password, String label) {
    this(address, username, password, label, null);
  }

  /** The {@code Proxy-Authorization} value for plain HTTP requests to it, or null without credentials. */
  public String authorization() {
    return username == null ? null : "Basic " + Base64.getEncoder().encodeToString(
        (username + ":" + password).getBytes(StandardCharsets.UTF_8));
  }

  @Override
  public String toString() {
    return label;
  }
}
