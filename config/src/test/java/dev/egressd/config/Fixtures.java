package dev.egressd.config;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.egressd.policy.HostName;
import dev.egressd.policy.NetworkPolicy;
import dev.egressd.policy.Rule;
import java.util.List;

/** Shared helpers: parse text as {@code config.toml}, and ask the compiled policy about a host. */
final class Fixtures {
  static final String FILE = "config.toml";

  private Fixtures() {}

  static DaemonConfig parse(String toml) throws ConfigException {
    return ConfigLoader.parse(toml, FILE, null);
  }

  static DaemonConfig parse(String toml, String profile) throws ConfigException {
    return ConfigLoader.parse(toml, FILE, profile);
  }

  static List<ConfigProblem> problems(String toml) {
    return problems(toml, null);
  }

  static List<ConfigProblem> problems(String toml, String profile) {
    ConfigException[] thrown = new ConfigException[1];
    assertThatThrownBy(() -> ConfigLoader.parse(toml, FILE, profile))
        .isInstanceOfSatisfying(ConfigException.class, e -> thrown[0] = e);
    return thrown[0].problems();
  }

  /** "allow", "deny" or "miss" for {@code host} on port 443, the way the engine sees the rules. */
  static String verdict(NetworkPolicy policy, String host) {
    HostName name = HostName.parse(host);
    if (policy.matchDeny(name, 443) != null) {
      return "deny";
    }
    return policy.matchAllow(name, 443) != null ? "allow" : "miss";
  }

  static Rule allowRuleFor(NetworkPolicy policy, String host) {
    return policy.matchAllow(HostName.parse(host), 443);
  }
}
