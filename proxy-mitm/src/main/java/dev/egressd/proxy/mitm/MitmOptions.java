package dev.egressd.proxy.mitm;

import java.time.Duration;
import java.util.Objects;

/**
 * Limits of the interception stage.
 *
 * @param handshakeTimeout how long a client may take from the tunnel's start to a finished TLS handshake
 * @param maxTunnels how many intercepted tunnels may be open at once; more are closed at once and logged
 */
public record MitmOptions(Duration handshakeTimeout, int maxTunnels) {
  /** 10 seconds and 1024 tunnels. */
  public static final MitmOptions DEFAULTS = new MitmOptions(Duration.ofSeconds(10), 1024);

  /** Validates both values. */
  public MitmOptions {
    Objects.requireNonNull(handshakeTimeout, "handshakeTimeout");
    if (handshakeTimeout.isNegative() || handshakeTimeout.isZero()) {
      throw new IllegalArgumentException("handshakeTimeout: " + handshakeTimeout + " (expected: > 0)");
    }
    if (maxTunnels < 1) {
      throw new IllegalArgumentException("maxTunnels: " + maxTunnels + " (expected: >= 1)");
    }
  }
}
