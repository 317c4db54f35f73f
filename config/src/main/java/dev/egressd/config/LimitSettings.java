package dev.egressd.config;

import java.time.Duration;
import java.util.Objects;

/**
 * The {@code [limits]} table: how much the proxy takes on at once and how long it waits. Every value has a default
 * and may be set on its own.
 *
 * @param maxConnections client connections open at once over the HTTP and SOCKS5 listeners (4096); more are answered
 *     503 {@code proxy-overloaded} or SOCKS reply 0x01 and closed
 * @param maxInterceptedTunnels TLS-intercepted tunnels open at once (1024)
 * @param connectTimeout one upstream connect attempt (10 s)
 * @param dnsTimeout one DNS lookup (2 s); a timeout fails the request closed
 * @param headerTimeout how long a client may take to send a complete request head or SOCKS5 handshake (30 s)
 * @param idleTimeout how long a connection or tunnel may carry nothing in either direction (300 s)
 * @param tlsHandshakeTimeout from an intercepted tunnel's start to a finished client TLS handshake (10 s)
 * @param maxBufferedBytes the most bytes one read from a socket may take (65536, from {@value #MIN_BUFFERED_BYTES}
 *     to {@value #MAX_BUFFERED_BYTES}); the proxy reads again only once those are written on, so this caps what
 *     each direction of a connection holds in memory, and a slow reader slows its sender
 */
public record LimitSettings(int maxConnections, int maxInterceptedTunnels, Duration connectTimeout,
    Duration dnsTimeout, Duration headerTimeout, Duration idleTimeout, Duration tlsHandshakeTimeout,
    int maxBufferedBytes) {
  /** The smallest {@code max_buffered_bytes}: below it, per-read overhead dominates. */
  public static final int MIN_BUFFERED_BYTES = 1024;
  /** The largest {@code max_buffered_bytes}. */
  public static final int MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

  /** The defaults listed above. */
  public static final LimitSettings DEFAULTS = new LimitSettings(4096, 1024, Duration.ofSeconds(10),
      Duration.ofSeconds(2), Duration.ofSeconds(30), Duration.ofSeconds(300), Duration.ofSeconds(10), 65536);

  /** Null and range checks. */
  public LimitSettings {
    if (maxConnections < 1 || maxInterceptedTunnels < 1) {
      throw new IllegalArgumentException("limits must be >= 1");
    }
    if (maxBufferedBytes < MIN_BUFFERED_BYTES || maxBufferedBytes > MAX_BUFFERED_BYTES) {
      throw new IllegalArgumentException("maxBufferedBytes: " + maxBufferedBytes + " (expected: "
          + MIN_BUFFERED_BYTES + " to " + MAX_BUFFERED_BYTES + ")");
    }
    for (Duration d : new Duration[] {connectTimeout, dnsTimeout, headerTimeout, idleTimeout, tlsHandshakeTimeout}) {
      Objects.requireNonNull(d, "timeout");
      if (d.isNegative() || d.isZero()) {
        throw new IllegalArgumentException("timeouts must be > 0, got " + d);
      }
    }
  }
}
