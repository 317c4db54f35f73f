package dev.egressd.policy;

import java.util.Locale;

/** The network access mode of a policy ({@code mode} in the config). */
public enum AccessMode {
  /** Every method and protocol, subject to the host rules. */
  FULL,
  /**
   * Read-only: {@code GET}, {@code HEAD} and {@code OPTIONS} only, no protocol upgrades, and HTTPS only where TLS is
   * intercepted so the inner method can be checked.
   */
  LIMITED;

  /** True when {@code method} (an HTTP method token, compared exactly) may be sent in this mode. */
  public boolean allowsMethod(String method) {
    return this == FULL || "GET".equals(method) || "HEAD".equals(method) || "OPTIONS".equals(method);
  }

  /** The config spelling: {@code full} or {@code limited}. */
  public String configName() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** Parses the config spelling; lower case only, as the reference does. */
  public static AccessMode fromConfigName(String name) {
    return switch (name) {
      case "full" -> FULL;
      case "limited" -> LIMITED;
      default -> throw new IllegalArgumentException("mode: " + name + " (expected: full or limited)");
    };
  }
}
