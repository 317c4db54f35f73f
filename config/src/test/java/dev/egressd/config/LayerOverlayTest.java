package dev.egressd.config;

import static dev.egressd.config.Fixtures.parse;
import static dev.egressd.config.Fixtures.verdict;
import static org.assertj.core.api.Assertions.assertThat;

import dev.egressd.policy.AccessMode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class LayerOverlayTest {
  @Test
  void higherLayerScalarsReplaceLowerOnes() throws ConfigException {
    DaemonConfig config = parse("""
        default_permissions = "p"
        [features.network_proxy]
        mode = "limited"
        allow_local_binding = true
        enable_socks5 = false
        [network]
        mode = "full"
        [permissions.p.network]
        allow_local_binding = false
        """);

    assertThat(config.policy().mode()).isEqualTo(AccessMode.FULL);
    assertThat(config.policy().allowLocalBinding()).isFalse();
    assertThat(config.listeners().socksEnabled()).isFalse();
  }

  @Test
  void enabledFalseInProfileDisablesEvenWhenLowerLayerEnables() throws ConfigException {
    DaemonConfig config = parse("""
        default_permissions = "p"
        [network]
        enabled = true
        [permissions.p.network]
        enabled = false
        """);

    assertThat(config.policy().enabled()).isFalse();
  }

  @ParameterizedTest(name = "[network] {0}, profile {1} -> {2}")
  @CsvSource({
      "allow, deny, deny",
      "deny, allow, allow",
      "allow, none, miss",
      "deny, none, miss",
  })
  void higherLayerEntryForSamePatternReplacesLowerOne(String lower, String higher, String expected)
      throws ConfigException {
    DaemonConfig config = parse("default_permissions = \"p\"\n"
        + "[network.domains]\n\"example.com\" = \"" + lower + "\"\n"
        + "[permissions.p.network.domains]\n\"EXAMPLE.com.\" = \"" + higher + "\"\n");

    assertThat(verdict(config.policy(), "example.com")).isEqualTo(expected);
  }

  @Test
  void higherLayerAllowReplacingADenyIsReportedAsAWarning() throws ConfigException {
    DaemonConfig config = parse("""
        default_permissions = "p"
        [network]
        denied_domains = ["example.com"]
        [permissions.p.network]
        allowed_domains = ["example.com"]
        """);

    assertThat(config.warnings()).anyMatch(w -> w.startsWith("config.toml:5:20: permissions.p.network.allowed_domains[0]:"
        + " replaces the deny entry \"example.com\" (config.toml:3 network.denied_domains)"));
  }

  @Test
  void arraysAndDomainsTableCombineAndDenyWins() throws ConfigException {
    DaemonConfig config = parse("""
        [network]
        allowed_domains = ["**.example.com", "both.example"]
        denied_domains = ["ads.example.com"]
        [network.domains]
        "api.openai.com" = "allow"
        "tracker.example.com" = "deny"
        "both.example" = "deny"
        """);

    assertThat(verdict(config.policy(), "example.com")).isEqualTo("allow");
    assertThat(verdict(config.policy(), "www.example.com")).isEqualTo("allow");
    assertThat(verdict(config.policy(), "api.openai.com")).isEqualTo("allow");
    assertThat(verdict(config.policy(), "ads.example.com")).isEqualTo("deny");
    assertThat(verdict(config.policy(), "tracker.example.com")).isEqualTo("deny");
    assertThat(verdict(config.policy(), "both.example")).isEqualTo("deny");
  }

  @Test
  void withinOneTableNoneCannotRemoveAnArrayAllow() throws ConfigException {
    DaemonConfig config = parse("""
        [network]
        allowed_domains = ["example.com"]
        domains = { "example.com" = "none" }
        """);

    assertThat(verdict(config.policy(), "example.com")).isEqualTo("allow");
  }

  @Test
  void rulesFromEveryLayerAccumulate() throws ConfigException {
    DaemonConfig config = parse("""
        default_permissions = "p"
        [features.network_proxy]
        denied_domains = ["bad.example"]
        [network]
        allowed_domains = ["a.example"]
        [permissions.p.network]
        allowed_domains = ["b.example"]
        """);

    assertThat(config.policy().rules()).extracting(r -> r.pattern().canonical())
        .containsExactlyInAnyOrder("bad.example", "a.example", "b.example");
  }

  @Test
  void duplicateSpellingsOfOnePatternBecomeOneRule() throws ConfigException {
    DaemonConfig config = parse("[network]\nallowed_domains = [\"Example.COM\", \"example.com.\", \"example.com\"]\n");

    assertThat(config.policy().rules()).singleElement()
        .satisfies(r -> assertThat(r.origin()).isEqualTo("config.toml:2 network.allowed_domains"));
  }
}
