package dev.egressd.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class NetworkPolicyTest {

  @ParameterizedTest(name = "deny \"{0}\" is refused")
  @ValueSource(strings = {"*", " * "})
  void builderRefusesAGlobalDeny(String pattern) {
    Rule rule = Rule.deny(pattern, "egressd.toml:7 network.denied_domains");

    assertThatThrownBy(() -> NetworkPolicy.builder().addRule(rule))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("unsupported global wildcard domain pattern \"" + pattern + "\" in a deny rule"
            + " (egressd.toml:7 network.denied_domains); use exact hosts or scoped wildcards like *.example.com or"
            + " **.example.com");
  }

  @Test
  void portScopedWildcardDenyBlocksOnlyThatPort() {
    NetworkPolicy policy = NetworkPolicy.builder()
        .addRule(Rule.allow("*", "--allow"))
        .addRule(Rule.deny("*:25", "--deny"))
        .build();

    assertThat(policy.matchDeny(HostName.parse("mail.example"), 25)).isNotNull();
    assertThat(policy.matchDeny(HostName.parse("mail.example"), 443)).isNull();
    assertThat(policy.matchDeny(HostName.parse("10.0.0.1"), 25)).isNotNull();
  }

  @Test
  void portScopedWildcardAllowDoesNotAllowEverything() {
    assertThat(NetworkPolicy.builder().addRule(Rule.allow("*:443", "--allow")).build().allowsEverything()).isFalse();
  }

  @Test
  void toBuilderKeepsEverything() {
    NetworkPolicy original = NetworkPolicy.builder().enabled(false).mode(AccessMode.LIMITED).allowLocalBinding(true)
        .mitm(true).scope("somewhere").addRule(Rule.allow("a.test", "x")).addRule(Rule.deny("b.test", "y"))
        .addInterceptedHost(HostPattern.parse("c.test"), "z").addInterceptionBypass(HostPattern.parse("d.test"), "w")
        .build();

    NetworkPolicy copy = original.toBuilder().build();

    assertThat(copy.enabled()).isFalse();
    assertThat(copy.mode()).isEqualTo(AccessMode.LIMITED);
    assertThat(copy.allowLocalBinding()).isTrue();
    assertThat(copy.mitm()).isTrue();
    assertThat(copy.scope()).isEqualTo("somewhere");
    assertThat(copy.rules()).isEqualTo(original.rules());
    assertThat(copy.interceptionRules()).isEqualTo(original.interceptionRules());
  }

  @Test
  void builderAcceptsAGlobalAllow() {
    NetworkPolicy policy = NetworkPolicy.builder().addRule(Rule.allow("*", "--allow")).build();

    assertThat(policy.allowsEverything()).isTrue();
  }

  @Test
  void builderDefaultsMatchTheReference() {
    NetworkPolicy policy = NetworkPolicy.builder().build();

    assertThat(policy.enabled()).isTrue();
    assertThat(policy.mode()).isEqualTo(AccessMode.FULL);
    assertThat(policy.allowLocalBinding()).isFalse();
    assertThat(policy.mitm()).isFalse();
    assertThat(policy.rules()).isEmpty();
    assertThat(policy.scope()).isEqualTo("the configuration");
    assertThat(policy.allowsEverything()).isFalse();
  }

  @Test
  void keepsRulesInConfigurationOrderAndIsImmutable() {
    Rule first = Rule.deny("evil.test", "a");
    Rule second = Rule.allow("*.example.com", "b");
    Rule third = Rule.allow("10.0.0.0/8", "c");

    NetworkPolicy policy = NetworkPolicy.builder().addRule(first).addRule(second).addRule(third)
        .mode(AccessMode.LIMITED).allowLocalBinding(true).mitm(true).enabled(false).scope("profile \"w\"")
        .build();

    assertThat(policy.rules()).containsExactly(first, second, third);
    assertThatThrownBy(() -> policy.rules().add(first)).isInstanceOf(UnsupportedOperationException.class);
    assertThat(policy.mode()).isEqualTo(AccessMode.LIMITED);
    assertThat(policy.allowLocalBinding()).isTrue();
    assertThat(policy.mitm()).isTrue();
    assertThat(policy.enabled()).isFalse();
    assertThat(policy.scope()).isEqualTo("profile \"w\"");
    assertThat(policy.allowsEverything()).isFalse();
  }

  @Test
  void ruleToStringNamesActionPatternAndOrigin() {
    assertThat(Rule.allow("Example.COM:443", "--allow")).hasToString("allow example.com:443 (--allow)");
    assertThat(Rule.deny("*.evil.test", "cfg:3")).hasToString("deny *.evil.test (cfg:3)");
  }
}
