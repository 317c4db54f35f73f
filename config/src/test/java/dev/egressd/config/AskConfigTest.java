package dev.egressd.config;

import static dev.egressd.config.Fixtures.parse;
import static org.assertj.core.api.Assertions.assertThat;

import dev.egressd.policy.HostName;
import dev.egressd.policy.NetworkPolicy;
import dev.egressd.policy.Rule;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Ask entries ({@code asked_domains}, {@code "pattern" = "ask"}), {@code default = "ask"} and {@code ask_timeout}. */
class AskConfigTest {
  private static Rule.Action action(NetworkPolicy policy, String host) {
    HostName name = HostName.parse(host);
    if (policy.matchDeny(name, 443) != null) {
      return Rule.Action.DENY;
    }
    Rule rule = policy.matchAllowOrAsk(name, 443);
    return rule == null ? null : rule.action();
  }

  @Test
  void bothFormsMakeAskRulesWithTheirOrigin() throws ConfigException {
    NetworkPolicy policy = parse("""
        [network]
        allowed_domains = ["*.a.test"]
        asked_domains = ["x.a.test"]
        domains = { "**.b.test" = "ask", "ok.b.test" = "allow" }
        """).policy();
    assertThat(action(policy, "x.a.test")).isEqualTo(Rule.Action.ASK);
    assertThat(action(policy, "y.a.test")).isEqualTo(Rule.Action.ALLOW);
    assertThat(action(policy, "b.test")).isEqualTo(Rule.Action.ASK);
    assertThat(action(policy, "ok.b.test")).isEqualTo(Rule.Action.ALLOW);
    assertThat(policy.matchAllowOrAsk(HostName.parse("x.a.test"), 443).origin())
        .isEqualTo("config.toml:3 network.asked_domains");
    assertThat(policy.asks()).isTrue();
    assertThat(policy.askOnMiss()).isFalse();
  }

  @Test
  void inOneTableAskBeatsAllowAndDenyBeatsAsk() throws ConfigException {
    NetworkPolicy policy = parse("""
        [network]
        allowed_domains = ["a.test", "b.test"]
        asked_domains = ["a.test", "b.test"]
        denied_domains = ["b.test"]
        """).policy();
    assertThat(action(policy, "a.test")).isEqualTo(Rule.Action.ASK);
    assertThat(action(policy, "b.test")).isEqualTo(Rule.Action.DENY);
  }

  @Test
  void aProfileCanTurnAnAllowIntoAnAskAndMakeMissesAsk() throws ConfigException {
    String toml = """
        default_permissions = "agent"
        [network]
        allowed_domains = ["a.test", "c.test"]
        [permissions.agent.network]
        domains = { "a.test" = "ask" }
        default = "ask"
        ask_timeout = 30
        """;
    NetworkPolicy policy = parse(toml).policy();
    assertThat(action(policy, "a.test")).isEqualTo(Rule.Action.ASK);
    assertThat(action(policy, "c.test")).isEqualTo(Rule.Action.ALLOW);
    assertThat(policy.askOnMiss()).isTrue();
    assertThat(policy.askTimeout()).isEqualTo(Duration.ofSeconds(30));

    NetworkPolicy plain = parse(toml, ":workspace").policy();
    assertThat(action(plain, "a.test")).isEqualTo(Rule.Action.ALLOW);
    assertThat(plain.askOnMiss()).isFalse();
    assertThat(plain.askTimeout()).isEqualTo(NetworkPolicy.DEFAULT_ASK_TIMEOUT);
  }

  @Test
  void aHigherLayerCanSetTheDefaultBackToDeny() throws ConfigException {
    NetworkPolicy policy = parse("""
        default_permissions = "strict"
        [network]
        default = "ask"
        allowed_domains = ["a.test"]
        [permissions.strict.network]
        default = "deny"
        """).policy();
    assertThat(policy.askOnMiss()).isFalse();
  }

  @Test
  void asksAloneAreNotTheNothingAllowedWarning() throws ConfigException {
    assertThat(parse("[network]\nasked_domains = [\"a.test\"]\n").warnings()).isEmpty();
    assertThat(parse("[network]\ndefault = \"ask\"\n").warnings()).isEmpty();
    assertThat(parse("[network]\ndefault = \"deny\"\n").warnings())
        .singleElement().asString().contains("every destination is blocked");
  }

  @Test
  void aDefaultAskWithADeciderWarnsThatTheDeciderSeesNoMiss() throws ConfigException {
    DaemonConfig config = parse("""
        [network]
        default = "ask"
        allowed_domains = ["a.test"]
        [network.decider]
        url = "http://127.0.0.1:9/"
        """);
    assertThat(config.warnings()).singleElement().asString()
        .isEqualTo("config.toml:2:1: network.default: \"ask\" holds every allowlist miss for a person, so"
            + " [network.decider] is never consulted; remove one of them");
  }
}
