package dev.egressd.config;

import static dev.egressd.config.Fixtures.parse;
import static dev.egressd.config.Fixtures.problems;
import static dev.egressd.config.Fixtures.verdict;
import static org.assertj.core.api.Assertions.assertThat;

import dev.egressd.policy.AccessMode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class NetworkTableSelectionTest {
  private static final String ALL_THREE = """
      default_permissions = "dev"

      [features.network_proxy]
      allowed_domains = ["features.example"]

      [network]
      allowed_domains = ["network.example"]

      [permissions.dev.network]
      allowed_domains = ["dev.example"]

      [permissions.ci.network]
      allowed_domains = ["ci.example"]
      """;

  @Test
  void defaultPermissionsSelectsItsProfileOnTopOfLowerTables() throws ConfigException {
    DaemonConfig config = parse(ALL_THREE);

    assertThat(config.profile()).isEqualTo("dev");
    assertThat(config.policy().scope()).isEqualTo("profile \"dev\" in config.toml");
    assertThat(verdict(config.policy(), "dev.example")).isEqualTo("allow");
    assertThat(verdict(config.policy(), "network.example")).isEqualTo("allow");
    assertThat(verdict(config.policy(), "features.example")).isEqualTo("allow");
    assertThat(verdict(config.policy(), "ci.example")).isEqualTo("miss");
  }

  @Test
  void profileOverrideWinsOverDefaultPermissions() throws ConfigException {
    DaemonConfig config = parse(ALL_THREE, "ci");

    assertThat(config.profile()).isEqualTo("ci");
    assertThat(verdict(config.policy(), "ci.example")).isEqualTo("allow");
    assertThat(verdict(config.policy(), "dev.example")).isEqualTo("miss");
  }

  @Test
  void networkTableAloneIsUsedWithoutProfile() throws ConfigException {
    DaemonConfig config = parse("[network]\nallowed_domains = [\"example.com\"]\n");

    assertThat(config.profile()).isNull();
    assertThat(config.policy().scope()).isEqualTo("[network] in config.toml");
    assertThat(verdict(config.policy(), "example.com")).isEqualTo("allow");
  }

  @Test
  void featuresTableAloneIsUsed() throws ConfigException {
    DaemonConfig config = parse("[features.network_proxy]\ndomains = { \"example.com\" = \"allow\" }\n");

    assertThat(config.policy().scope()).isEqualTo("[features.network_proxy] in config.toml");
    assertThat(verdict(config.policy(), "example.com")).isEqualTo("allow");
  }

  @Test
  void featuresBooleanCarriesNoSettings() throws ConfigException {
    DaemonConfig config = parse("[features]\nnetwork_proxy = true\n");

    assertThat(config.policy().rules()).isEmpty();
    assertThat(config.warnings()).anyMatch(w -> w.contains("no network settings found"));
  }

  @ParameterizedTest
  @ValueSource(strings = {":read-only", ":workspace", ":danger-full-access"})
  void builtInProfileUsesTheLowerTables(String profile) throws ConfigException {
    DaemonConfig config = parse("default_permissions = \"" + profile + "\"\n"
        + "[network]\nallowed_domains = [\"example.com\"]\n");

    assertThat(config.profile()).isEqualTo(profile);
    assertThat(config.policy().scope()).isEqualTo("[network] in config.toml");
    assertThat(verdict(config.policy(), "example.com")).isEqualTo("allow");
  }

  @Test
  void profileWithoutNetworkTableUsesTheLowerTables() throws ConfigException {
    DaemonConfig config = parse("""
        default_permissions = "fs-only"
        [permissions.fs-only.filesystem]
        "/tmp" = "write"
        [network]
        mode = "limited"
        """);

    assertThat(config.profile()).isEqualTo("fs-only");
    assertThat(config.policy().mode()).isEqualTo(AccessMode.LIMITED);
  }

  @Test
  void missingProfileFromDefaultPermissionsIsAnErrorAtThatKey() {
    assertThat(problems("default_permissions = \"nope\"\n[permissions.dev.network]\nenabled = true\n"))
        .singleElement()
        .hasToString("config.toml:1:1: default_permissions: permissions profile \"nope\" is not defined (defined: "
            + "dev; built-in: :read-only, :workspace, :danger-full-access)");
  }

  @Test
  void missingProfileFromCommandLineNamesTheOption() {
    assertThat(problems("[network]\nenabled = true\n", "nope"))
        .singleElement()
        .hasToString("config.toml: --profile: permissions profile \"nope\" is not defined "
            + "(this file has no [permissions.<name>] tables)");
  }

  @Test
  void unknownBuiltInProfileIsAnError() {
    assertThat(problems("default_permissions = \":root\"\n"))
        .singleElement()
        .satisfies(p -> assertThat(p.message()).startsWith("unknown built-in profile \":root\""));
  }

  @Test
  void networkThatIsNotATableIsAnError() {
    assertThat(problems("network = true\n"))
        .singleElement()
        .hasToString("config.toml:1:1: network: expected a table, found a boolean");
  }

  @Test
  void extendingAUserProfileWithNetworkSettingsIsRefused() {
    assertThat(problems("""
        default_permissions = "child"
        [permissions.base.network]
        denied_domains = ["evil.example"]
        [permissions.child]
        extends = "base"
        """))
        .singleElement()
        .satisfies(p -> {
          assertThat(p.key()).isEqualTo("permissions.child.extends");
          assertThat(p.message()).contains("does not inherit network settings");
        });
  }

  @Test
  void oldNetworkProxyLayoutIsIgnoredWithAWarning() throws ConfigException {
    DaemonConfig config = parse("[network_proxy]\nenabled = true\n[network_proxy.policy]\nallowed_domains = []\n");

    assertThat(config.warnings()).anyMatch(w -> w.startsWith("config.toml:1:1: network_proxy: this older Codex"));
  }
}
