package dev.egressd.config;

import java.util.List;
import java.util.Objects;

/**
 * Which unix sockets clients may reach through the proxy's {@code x-unix-socket} header.
 *
 * <p>Built from {@code allow_unix_sockets}, the {@code unix_sockets} table and
 * {@code dangerously_allow_all_unix_sockets}. A {@code "deny"} (or {@code "none"}) entry removes a path that a lower
 * layer or the array form allowed. When any socket is allowed, the listeners are kept on loopback whatever
 * {@code dangerously_allow_non_loopback_proxy} says, as the reference does.
 *
 * @param allowed absolute, NUL-free paths, in configuration order
 * @param allowAll {@code dangerously_allow_all_unix_sockets}: any absolute path is allowed
 */
public record UnixSocketSettings(List<String> allowed, boolean allowAll) {
  /** No unix socket is reachable. */
  public static final UnixSocketSettings NONE = new UnixSocketSettings(List.of(), false);

  /** Copies {@code allowed}. */
  public UnixSocketSettings {
    allowed = List.copyOf(Objects.requireNonNull(allowed, "allowed"));
  }

  /** True when at least one socket path may be reached. */
  public boolean anyAllowed() {
    return allowAll || !allowed.isEmpty();
  }

  /** True when {@code path} may be reached; paths are compared exactly. */
  public boolean allows(String path) {
    return path.startsWith("/") && (allowAll || allowed.contains(path));
  }
}
