package dev.egressd.policy;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** A policy's {@link MitmHook}s, grouped by host in the order they were written. */
public final class MitmHooks {
  /** No hooks. */
  public static final MitmHooks NONE = new MitmHooks(List.of());

  private final List<MitmHook> all;
  private final Map<HostName, List<MitmHook>> byHost = new LinkedHashMap<>();

  /** Groups {@code hooks} by host, keeping their order. */
  public MitmHooks(List<MitmHook> hooks) {
    this.all = List.copyOf(hooks);
    for (MitmHook hook : all) {
      byHost.computeIfAbsent(hook.host(), h -> new ArrayList<>()).add(hook);
    }
    byHost.replaceAll((h, list) -> List.copyOf(list));
  }

  /** Every hook, in order. */
  public List<MitmHook> all() {
    return all;
  }

  /** True when {@code host} has hooks: its requests must match one, and its tunnels are always intercepted. */
  public boolean covers(HostName host) {
    return byHost.containsKey(host);
  }

  /** The first of {@code host}'s hooks that matches {@code request}, or null. */
  public MitmHook match(HostName host, InnerRequest request) {
    for (MitmHook hook : byHost.getOrDefault(host, List.of())) {
      if (hook.matches(request)) {
        return hook;
      }
    }
    return null;
  }

  /** True when there are no hooks. */
  public boolean isEmpty() {
    return all.isEmpty();
  }
}
