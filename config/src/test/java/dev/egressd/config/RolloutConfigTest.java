package dev.egressd.config;

import static dev.egressd.config.Fixtures.allowRuleFor;
import static dev.egressd.config.Fixtures.parse;
import static dev.egressd.config.Fixtures.problems;
import static org.assertj.core.api.Assertions.assertThat;

import dev.egressd.policy.HostName;
import dev.egressd.policy.NetworkPolicy;
import dev.egressd.policy.Rule;
import dev.egressd.policy.RuleMetadata;
import java.time.LocalDate;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code enforcement}, the table form of a domains entry with its metadata, and the warnings they raise. */
class RolloutConfigTest {
  @Test
  void enforcementDefaultsToEnforceAndReportIsReadPerTableWithAWarning() throws ConfigException {
    assertThat(parse("[network]\nallowed_domains = [\"a.test\"]\n").policy().report()).isFalse();
    assertThat(parse("[network]\nenforcement = \"enforce\"\nallowed_domains = [\"a.test\"]\n").warnings())
        .noneMatch(w -> w.contains("report"));

    DaemonConfig reported = parse("""
        [permissions.ci.network]
        enforcement = "report"
        allowed_domains = ["a.test"]
        """, "ci");

    assertThat(reported.policy().report()).isTrue();
    assertThat(reported.warnings()).anyMatch(w -> w.startsWith("config.toml:2:")
        && w.contains("enforcement = \"report\": the policy is not enforced"));
  }

  @Test
  void aProfileOverridesTheBaseEnforcement() throws ConfigException {
    String toml = """
        [network]
        enforcement = "report"
        allowed_domains = ["a.test"]

        [permissions.strict.network]
        enforcement = "enforce"
        """;

    assertThat(parse(toml).policy().report()).isTrue();
    assertThat(parse(toml, "strict").policy().report()).isFalse();
  }

  @Test
  void anUnknownOrMistypedEnforcementIsAnErrorNeverReportMode() {
    List<ConfigProblem> misspelt = problems("[network]\nallowed_domains = [\"a.test\"]\nenforcement = \"reprot\"\n");
    List<ConfigProblem> boolean_ = problems("[network]\nenforcement = true\n");

    assertThat(misspelt).singleElement().satisfies(p -> {
      assertThat(p.line()).isEqualTo(3);
      assertThat(p.key()).isEqualTo("network.enforcement");
      assertThat(p.message()).contains("\"reprot\"").contains("\"enforce\"").contains("\"report\"");
    });
    assertThat(boolean_).singleElement().satisfies(p -> assertThat(p.key()).isEqualTo("network.enforcement"));
  }

  @Test
  void tableEntriesCarryTheirMetadataIntoTheRule() throws ConfigException {
    NetworkPolicy policy = parse("""
        [network]
        allowed_domains = ["plain.test"]

        [network.domains]
        "api.test" = { action = "allow", justification = "billing", owner = "team-x", review_by = 2099-03-31 }
        "trial.test" = { action = "deny", report = true }
        """).policy();

    assertThat(allowRuleFor(policy, "api.test").metadata())
        .isEqualTo(new RuleMetadata("billing", "team-x", LocalDate.of(2099, 3, 31), null));
    assertThat(allowRuleFor(policy, "api.test").origin()).isEqualTo("config.toml:5 network.domains");
    assertThat(allowRuleFor(policy, "plain.test").metadata()).isEqualTo(RuleMetadata.NONE);
    Rule trial = policy.matchDeny(HostName.parse("trial.test"), 443);
    assertThat(trial.metadata().report()).isTrue();
    assertThat(policy.rules()).filteredOn(r -> Boolean.TRUE.equals(r.metadata().report())).hasSize(1);
  }

  @Test
  void theTableFormIsAnAskEntryToo() throws ConfigException {
    NetworkPolicy policy = parse("""
        [network]
        domains = { "ask.test" = { action = "ask", owner = "team-y" } }
        """).policy();

    Rule ask = policy.matchAllowOrAsk(HostName.parse("ask.test"), 443);
    assertThat(ask.action()).isEqualTo(Rule.Action.ASK);
    assertThat(ask.metadata().owner()).isEqualTo("team-y");
  }

  @Test
  void everyProblemOfOneEntryIsReported() {
    List<ConfigProblem> found = problems("""
        [network]
        domains = { "a.test" = { action = "allow", owner = 1, review_by = "soon", report = "yes", why = "x" } }
        """);

    assertThat(found).extracting(ConfigProblem::key).containsExactlyInAnyOrder("network.domains.\"a.test\".owner",
        "network.domains.\"a.test\".review_by", "network.domains.\"a.test\".report", "network.domains.\"a.test\".why");
    assertThat(found).allSatisfy(p -> assertThat(p.line()).isEqualTo(2));
  }

  @Test
  void broadAndOverdueRulesAreWarningsAndAJustificationSilencesTheBroadOne() throws ConfigException {
    DaemonConfig config = parse("""
        [network]
        allowed_domains = ["*.amazonaws.com", "**.io"]

        [network.domains]
        "*.github.io" = { action = "allow", justification = "our docs site" }
        "old.test" = { action = "allow", owner = "team-x", review_by = 2020-01-31 }
        """);

    assertThat(config.warnings()).anyMatch(w -> w.startsWith("config.toml:2:")
        && w.contains("\"*.amazonaws.com\" covers every tenant of amazonaws.com and has no justification"));
    assertThat(config.warnings()).anyMatch(w -> w.contains("\"**.io\" covers every name under .io"));
    assertThat(config.warnings()).noneMatch(w -> w.contains("github.io"));
    assertThat(config.warnings()).anyMatch(w -> w.startsWith("config.toml:6:")
        && w.contains("\"old.test\" was due for review on 2020-01-31 (owner team-x)"));
  }
}
