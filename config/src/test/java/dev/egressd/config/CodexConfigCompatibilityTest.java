package dev.egressd.config;

import static dev.egressd.config.Fixtures.parse;
import static dev.egressd.config.Fixtures.verdict;
import static org.assertj.core.api.Assertions.assertThat;

import dev.egressd.policy.AccessMode;
import org.junit.jupiter.api.Test;

class CodexConfigCompatibilityTest {
  /** Shaped like a real ~/.codex/config.toml: most of it is none of egressd's business. */
  private static final String CODEX_CONFIG = """
      model = "gpt-5-codex"
      model_provider = "openai"
      model_reasoning_effort = "high"
      approval_policy = "on-request"
      default_permissions = "workspace"
      project_doc_fallback_filenames = ["AGENTS.md", "CLAUDE.md"]
      notify = ["notify-send", "Codex"]
      review_by = 2027-01-31
      last_sync = 1979-05-27T07:32:00-07:00
      mixed = [1, "two", 3.0, true, { x = 1 }, [1, 2]]
      tui.notifications = true

      [model_providers.local]
      name = "Local"
      base_url = "http://localhost:11434/v1"
      wire_api = "chat"

      [mcp_servers.docs]
      command = "npx"
      args = ["-y", "docs-server"]
      env = { "API_KEY" = "x" }
      startup_timeout_sec = 20.5

      [shell_environment_policy]
      inherit = "core"
      exclude = ["AWS_*", "AZURE_*"]
      set = { PATH = "/usr/bin", HOME = "/home/dev" }

      [otel]
      environment = "dev"
      exporter = { otlp-http = { endpoint = "http://127.0.0.1:4318", protocol = "binary" } }

      [permissions.workspace]
      extends = ":workspace"

      [permissions.workspace.filesystem.":project_roots"]
      "." = "write"
      "**/*.env" = "deny"

      [permissions.workspace.network]
      enabled = true
      mode = "limited"
      mitm = { enabled = true }
      allow_local_binding = false

      [permissions.workspace.network.domains]
      "api.openai.com" = "allow"
      "*.githubusercontent.com" = "allow"
      "evil.githubusercontent.com" = "deny"

      [permissions.workspace.network.unix_sockets]
      "/var/run/docker.sock" = "allow"

      [projects."/home/dev/src/app"]
      trust_level = "trusted"
      """;

  @Test
  void realCodexConfigLoadsAndIgnoresNonNetworkTables() throws ConfigException {
    DaemonConfig config = parse(CODEX_CONFIG);

    assertThat(config.profile()).isEqualTo("workspace");
    assertThat(config.policy().mode()).isEqualTo(AccessMode.LIMITED);
    assertThat(config.policy().mitm()).isTrue();
    assertThat(config.policy().rules()).hasSize(3);
    assertThat(config.unixSockets().allowed()).containsExactly("/var/run/docker.sock");
  }

  @Test
  void quotedPatternKeysKeepTheirDots() throws ConfigException {
    DaemonConfig config = parse(CODEX_CONFIG);

    assertThat(verdict(config.policy(), "api.openai.com")).isEqualTo("allow");
    assertThat(verdict(config.policy(), "raw.githubusercontent.com")).isEqualTo("allow");
    assertThat(verdict(config.policy(), "evil.githubusercontent.com")).isEqualTo("deny");
    assertThat(verdict(config.policy(), "openai.com")).isEqualTo("miss");
  }

  @Test
  void scopeNamesTheProfileAndFile() throws ConfigException {
    assertThat(parse(CODEX_CONFIG).policy().scope()).isEqualTo("profile \"workspace\" in config.toml");
  }

  @Test
  void ruleOriginsNameFileLineAndTable() throws ConfigException {
    DaemonConfig config = parse(CODEX_CONFIG);

    assertThat(Fixtures.allowRuleFor(config.policy(), "api.openai.com").origin())
        .isEqualTo("config.toml:47 permissions.workspace.network.domains");
  }

  @Test
  void dottedKeysDefineTheNetworkTable() throws ConfigException {
    DaemonConfig config = parse("""
        network.mode = "limited"
        network.allowed_domains = ["example.com"]
        network.domains."api.openai.com" = "allow"
        """);

    assertThat(config.policy().mode()).isEqualTo(AccessMode.LIMITED);
    assertThat(verdict(config.policy(), "example.com")).isEqualTo("allow");
    assertThat(verdict(config.policy(), "api.openai.com")).isEqualTo("allow");
  }

  @Test
  void trailingCommaInInlineTableIsRejectedAsInToml10() {
    assertThat(Fixtures.problems("[network]\ndomains = { \"a.com\" = \"allow\", }\n"))
        .singleElement()
        .satisfies(p -> assertThat(p.message()).contains("trailing comma"));
  }
}
