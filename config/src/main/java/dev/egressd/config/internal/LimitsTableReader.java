package dev.egressd.config.internal;

import dev.egressd.config.LimitSettings;
import java.time.Duration;
import java.util.Set;
import java.util.TreeSet;
import org.tomlj.TomlTable;

/**
 * Reads {@code [limits]}. Counts are integers; timeouts are seconds, as an integer or a float
 * ({@code dns_timeout = 0.5}). Unknown keys are errors: a misspelt limit silently left at its default would be a
 * limit the operator believes in and does not have.
 */
public final class LimitsTableReader {
  private static final int MAX_COUNT = 1_000_000;
  private static final double MAX_SECONDS = 86_400;
  private static final Set<String> KEYS = Set.of("max_connections", "max_intercepted_tunnels", "connect_timeout",
      "dns_timeout", "header_timeout", "idle_timeout", "tls_handshake_timeout", "max_buffered_bytes");

  private LimitsTableReader() {}

  /** Reads the table from the document root; absent keys keep their defaults. */
  public static LimitSettings read(TableNode root, Diagnostics diagnostics) {
    LimitSettings d = LimitSettings.DEFAULTS;
    Object value = root.get("limits");
    if (value == null) {
      return d;
    }
    if (!(value instanceof TomlTable)) {
      diagnostics.error(root.position("limits"), root.keyPath("limits"),
          "expected a table, found " + TableNode.typeOf(value));
      return d;
    }
    TableNode limits = root.child("limits");
    for (String key : limits.table().keySet()) {
      if (!KEYS.contains(key)) {
        diagnostics.error(limits.position(key), limits.keyPath(key),
            "unknown key" + Suggestions.didYouMean(key, new TreeSet<>(KEYS)));
      }
    }
    return new LimitSettings(
        count(limits, "max_connections", d.maxConnections(), diagnostics),
        count(limits, "max_intercepted_tunnels", d.maxInterceptedTunnels(), diagnostics),
        seconds(limits, "connect_timeout", d.connectTimeout(), diagnostics),
        seconds(limits, "dns_timeout", d.dnsTimeout(), diagnostics),
        seconds(limits, "header_timeout", d.headerTimeout(), diagnostics),
        seconds(limits, "idle_timeout", d.idleTimeout(), diagnostics),
        seconds(limits, "tls_handshake_timeout", d.tlsHandshakeTimeout(), diagnostics),
        bytes(limits, "max_buffered_bytes", d.maxBufferedBytes(), diagnostics));
  }

  private static int count(TableNode table, String key, int fallback, Diagnostics diagnostics) {
    Object value = table.get(key);
    if (value == null) {
      return fallback;
    }
    if (!(value instanceof Long n) || n < 1 || n > MAX_COUNT) {
      diagnostics.error(table.position(key), table.keyPath(key), "expected an integer from 1 to " + MAX_COUNT
          + ", found " + (value instanceof Long ? value : TableNode.typeOf(value)));
      return fallback;
    }
    return (int) (long) n;
  }

  private static int bytes(TableNode table, String key, int fallback, Diagnostics diagnostics) {
    Object value = table.get(key);
    if (value == null) {
      return fallback;
    }
    if (!(value instanceof Long n) || n < LimitSettings.MIN_BUFFERED_BYTES || n > LimitSettings.MAX_BUFFERED_BYTES) {
      diagnostics.error(table.position(key), table.keyPath(key), "expected a byte count from "
          + LimitSettings.MIN_BUFFERED_BYTES + " to " + LimitSettings.MAX_BUFFERED_BYTES + ", found "
          + (value instanceof Long ? value : TableNode.typeOf(value)));
      return fallback;
    }
    return (int) (long) n;
  }

  private static Duration seconds(TableNode table, String key, Duration fallback, Diagnostics diagnostics) {
    Object value = table.get(key);
    if (value == null) {
      return fallback;
    }
    double seconds;
    if (value instanceof Long n) {
      seconds = n;
    } else if (value instanceof Double f) {
      seconds = f;
    } else {
      diagnostics.error(table.position(key), table.keyPath(key),
          "expected seconds (e.g. 10 or 0.5), found " + TableNode.typeOf(value));
      return fallback;
    }
    if (!(seconds >= 0.001 && seconds <= MAX_SECONDS)) {
      diagnostics.error(table.position(key), table.keyPath(key),
          "expected seconds from 0.001 to " + (long) MAX_SECONDS + ", found " + value);
      return fallback;
    }
    return Duration.ofNanos(Math.round(seconds * 1e9));
  }
}
