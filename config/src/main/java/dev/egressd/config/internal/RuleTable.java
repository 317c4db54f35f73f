package dev.egressd.config.internal;

import dev.egressd.policy.RuleMetadata;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.tomlj.TomlPosition;

/**
 * Entries keyed by a normalised name (a canonical host pattern or a socket path), merged the way Codex merges its
 * tables: an entry from a higher layer replaces the one from a lower layer ({@code "none"} removes it), while within
 * one layer the strongest entry wins (none &lt; allow &lt; ask &lt; deny), so {@code allowed_domains} and a {@code domains}
 * table in the same table can never let an allow undo a deny.
 *
 * @param <P> what is stored with each entry
 */
public final class RuleTable<P> {
  /** What an entry says. Declared weakest first: the order is the strength. */
  public enum Action {
    /** {@code "none"}: remove whatever a lower layer said. */
    NONE,
    /** {@code "allow"}. */
    ALLOW,
    /** {@code "ask"}: hold the request until a person approves it (hosts only). */
    ASK,
    /** {@code "deny"}. */
    DENY;

    /** Parses {@code "allow"}, {@code "ask"}, {@code "deny"} or {@code "none"}; empty for anything else. */
    public static Optional<Action> fromConfigName(String name) {
      return switch (name) {
        case "allow" -> Optional.of(ALLOW);
        case "ask" -> Optional.of(ASK);
        case "deny" -> Optional.of(DENY);
        case "none" -> Optional.of(NONE);
        default -> Optional.empty();
      };
    }
  }

  /**
   * One entry.
   *
   * @param layer index of the layer it came from, lowest precedence first
   * @param origin where it was written, for {@code Rule.origin}: {@code config.toml:12 network.domains}
   * @param position where it was written, for warnings
   * @param key its dotted key path, for warnings
   */
  public record Entry<P>(P payload, Action action, int layer, String origin, TomlPosition position, String key,
      RuleMetadata metadata) {
    /** An entry in the plain string form: nothing written down about it. */
    public Entry(P payload, Action action, int layer, String origin, TomlPosition position, String key) {
      this(payload, action, layer, origin, position, key, RuleMetadata.NONE);
    }
  }

  private final Map<String, Entry<P>> entries = new LinkedHashMap<>();

  /**
   * Adds or replaces the entry for {@code key}.
   *
   * @return the entry that was replaced when a higher layer turned a deny into an allow or removed it, so the
   *     caller can warn; empty otherwise
   */
  public Optional<Entry<P>> put(String key, Entry<P> entry) {
    Entry<P> old = entries.get(key);
    if (old != null && old.layer() == entry.layer() && old.action().compareTo(entry.action()) > 0) {
      return Optional.empty();
    }
    entries.put(key, entry);
    boolean weakened = old != null && old.layer() != entry.layer() && old.action() == Action.DENY
        && entry.action() != Action.DENY;
    return weakened ? Optional.of(old) : Optional.empty();
  }

  /** The entries that allow, ask or deny (not {@code "none"}), in the order their keys first appeared. */
  public List<Entry<P>> effective() {
    return entries.values().stream().filter(e -> e.action() != Action.NONE).toList();
  }

  /** The entries with {@code action}, in the order their keys first appeared. */
  public List<Entry<P>> entries(Action action) {
    return entries.values().stream().filter(e -> e.action() == action).toList();
  }
}
