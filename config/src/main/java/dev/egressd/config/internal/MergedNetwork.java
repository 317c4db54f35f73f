package dev.egressd.config.internal;

import dev.egressd.policy.HostPattern;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The network settings of every selected layer, overlaid: a scalar from a higher layer replaces the lower one,
 * host and socket entries are merged by {@link RuleTable}. Holds only values that already passed validation.
 */
public final class MergedNetwork {
  private final Map<String, Located<?>> settings = new HashMap<>();
  private final RuleTable<HostPattern> hosts = new RuleTable<>();
  private final RuleTable<String> sockets = new RuleTable<>();

  /** Sets the scalar {@code name} (a key of the network table, e.g. {@code enabled}). */
  public void set(String name, Located<?> value) {
    settings.put(name, value);
  }

  /** The scalar {@code name} if any layer set it. */
  public <T> Optional<Located<T>> setting(String name, Class<T> type) {
    Located<?> value = settings.get(name);
    if (value == null) {
      return Optional.empty();
    }
    return Optional.of(new Located<>(type.cast(value.value()), value.position(), value.key()));
  }

  /** The boolean {@code name}, or {@code defaultValue} when no layer set it. */
  public boolean flag(String name, boolean defaultValue) {
    return setting(name, Boolean.class).map(Located::value).orElse(defaultValue);
  }

  /** Host rules keyed by canonical pattern. */
  public RuleTable<HostPattern> hosts() {
    return hosts;
  }

  /** Unix socket entries keyed by path. */
  public RuleTable<String> sockets() {
    return sockets;
  }
}
