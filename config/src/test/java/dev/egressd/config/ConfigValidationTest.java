package dev.egressd.config;

import static dev.egressd.config.Fixtures.parse;
import static dev.egressd.config.Fixtures.problems;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.catchIllegalArgumentException;

import dev.egressd.policy.HostPattern;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

class ConfigValidationTest {
  static Stream<Arguments> invalidNetworkTables() {
    return Stream.of(
        row("unknown key with a suggestion", "alowed_domains = [\"a.com\"]",
            "2:1: network.alowed_domains: unknown key (did you mean allowed_domains?)"),
        row("unknown key without a suggestion", "frobnicate = 1",
            "2:1: network.frobnicate: unknown key"),
        row("G1 policy sub-table is not a network key", "policy = { allowed_domains = [] }",
            "2:1: network.policy: unknown key"),
        row("boolean given as string", "enabled = \"yes\"",
            "2:1: network.enabled: expected a boolean, found a string"),
        row("mode in upper case", "mode = \"Limited\"",
            "2:1: network.mode: \"Limited\" is not a mode (expected: \"full\" or \"limited\", in lower case)"),
        row("mode as a number", "mode = 1",
            "2:1: network.mode: expected a string, found an integer"),
        row("allow list as a string", "allowed_domains = \"a.com\"",
            "2:1: network.allowed_domains: expected an array of strings, found a string"),
        row("allow list element as a number", "allowed_domains = [\"a.com\", 1]",
            "2:29: network.allowed_domains[1]: expected a string, found an integer"),
        row("global wildcard in the deny list", "denied_domains = [\"*\"]",
            "2:19: network.denied_domains[0]: unsupported global wildcard domain pattern \"*\" in a deny rule; "
                + "use exact hosts or scoped wildcards like *.example.com or **.example.com"),
        row("global wildcard denied in the domains table", "domains = { \"*\" = \"deny\" }",
            "2:13: network.domains.\"*\": unsupported global wildcard domain pattern \"*\" in a deny rule; "
                + "use exact hosts or scoped wildcards like *.example.com or **.example.com"),
        row("unknown domain action", "domains = { \"a.com\" = \"allowed\" }",
            "2:13: network.domains.\"a.com\": \"allowed\" is not one of \"allow\", \"ask\", \"deny\", \"none\""),
        row("domain action as a boolean", "domains = { \"a.com\" = true }",
            "2:13: network.domains.\"a.com\": expected \"allow\", \"ask\", \"deny\", \"none\" or a table with action,"
                + " found a boolean"),
        row("ask for a unix socket", "unix_sockets = { \"/tmp/a.sock\" = \"ask\" }",
            "2:18: network.unix_sockets.\"/tmp/a.sock\": \"ask\" is not one of \"allow\", \"deny\", \"none\""),
        row("unix socket action as a boolean", "unix_sockets = { \"/tmp/a.sock\" = true }",
            "2:18: network.unix_sockets.\"/tmp/a.sock\": expected \"allow\", \"deny\" or \"none\", found a boolean"),
        row("asked list as a string", "asked_domains = \"a.com\"",
            "2:1: network.asked_domains: expected an array of strings, found a string"),
        row("default allow", "default = \"allow\"",
            "2:1: network.default: \"allow\" is not one of \"deny\", \"ask\"; to allow every host, add \"*\" to"
                + " allowed_domains"),
        row("default as a boolean", "default = false", "2:1: network.default: expected a string, found a boolean"),
        row("ask timeout too long", "ask_timeout = 3601",
            "2:1: network.ask_timeout: expected seconds from 0.001 to 3600, found 3601"),
        row("ask timeout zero", "ask_timeout = 0",
            "2:1: network.ask_timeout: expected seconds from 0.001 to 3600, found 0"),
        row("ask timeout as a string", "ask_timeout = \"2m\"",
            "2:1: network.ask_timeout: expected seconds (e.g. 120 or 0.5), found a string"),
        row("relative unix socket", "allow_unix_sockets = [\"docker.sock\"]",
            "2:23: network.allow_unix_sockets[0]: expected a NUL-free absolute path, got \"docker.sock\""),
        row("home-relative unix socket in the table", "unix_sockets = { \"~/x.sock\" = \"allow\" }",
            "2:18: network.unix_sockets.\"~/x.sock\": expected a NUL-free absolute path, got \"~/x.sock\""),
        row("unix socket with NUL", "allow_unix_sockets = [\"/tmp/a\\u0000b\"]",
            "2:23: network.allow_unix_sockets[0]: expected a NUL-free absolute path, got \"/tmp/a\\u0000b\""),
        row("listener port out of range", "proxy_url = \"http://127.0.0.1:99999\"",
            "2:1: network.proxy_url: invalid port 99999 in network proxy address: \"http://127.0.0.1:99999\" "
                + "(expected: 0..65535)"),
        row("listener port not a number", "socks_url = \"127.0.0.1:socks\"",
            "2:1: network.socks_url: invalid port \"socks\" in network proxy address: \"127.0.0.1:socks\" "
                + "(expected: 0..65535)"),
        row("empty listener address", "proxy_url = \" \"",
            "2:1: network.proxy_url: missing host in network proxy address: \" \""),
        row("mitm as a string", "mitm = \"yes\"",
            "2:1: network.mitm: expected a boolean or a table, found a string"),
        row("mitm hooks", "mitm = { enabled = true, hooks = { gh = { host = \"github.com\" } } }",
            "2:26: network.mitm.hooks: the named mitm.hooks form is not supported; ignoring it would change what is "
                + "enforced, so write each hook as [[network.mitm_hooks]] with host, match and actions"),
        row("mitm actions", "mitm = { actions = { strip = { strip_request_headers = [\"x\"] } } }",
            "2:10: network.mitm.actions: the named mitm.actions form is not supported; ignoring it would change what "
                + "is enforced, so write each hook as [[network.mitm_hooks]] with host, match and actions"),
        row("mitm typo", "mitm = { enabeld = true }",
            "2:10: network.mitm.enabeld: unknown key (did you mean enabled?)"),
        row("G3 mitm_hooks list without mitm", "mitm_hooks = [{ host = \"github.com\" }]",
            "2:1: network.mitm_hooks: network.mitm_hooks requires network.mitm = true"),
        row("credential broker on", "credential_broker = true",
            "2:1: network.credential_broker: not supported by egressd; ignoring it would change what is enforced, "
                + "so set it to false or remove it"),
        row("plaintext credential injection on", "dangerously_allow_plaintext_credential_injection = true",
            "2:1: network.dangerously_allow_plaintext_credential_injection: not supported by egressd; ignoring it "
                + "would change what is enforced, so set it to false or remove it"),
        row("credential providers", "credential_providers = { gh = { env = \"GH_TOKEN\" } }",
            "2:1: network.credential_providers: credential providers are not supported by egressd; remove them"),
        row("admin_url of the wrong type", "admin_url = 8080",
            "2:1: network.admin_url: expected a string, found an integer"));
  }

  private static Arguments row(String name, String networkLine, String expected) {
    return Arguments.of(name, "[network]\n" + networkLine + "\n", "config.toml:" + expected);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("invalidNetworkTables")
  void invalidValueIsReportedWithPositionAndKey(String name, String toml, String expected) {
    assertThat(problems(toml)).singleElement().hasToString(expected);
  }

  @ParameterizedTest(name = "\"{0}\"")
  @ValueSource(strings = {"foo*.example.com", "bad..example", "https://example.com/", "example.com:0", ""})
  void invalidPatternReportsTheHostPatternMessageAtTheEntry(String pattern) {
    String expected = catchIllegalArgumentException(() -> HostPattern.parse(pattern)).getMessage();

    assertThat(problems("[network]\nallowed_domains = [\"ok.example\", \"" + pattern + "\"]\n"))
        .singleElement()
        .hasToString("config.toml:2:34: network.allowed_domains[1]: " + expected);
    assertThat(problems("[network]\nasked_domains = [\"ok.example\", \"" + pattern + "\"]\n"))
        .singleElement()
        .hasToString("config.toml:2:32: network.asked_domains[1]: " + expected);
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {
      "credential_broker = false",
      "dangerously_allow_plaintext_credential_injection = false",
      "mitm_hooks = []",
      "credential_providers = {}",
      "mitm = { enabled = false, hooks = {}, actions = {} }",
  })
  void unsupportedFeaturesLeftOffAreAccepted(String line) {
    assertThatCode(() -> parse("[network]\n" + line + "\n")).doesNotThrowAnyException();
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {
      "admin_url = \"http://127.0.0.1:8080\"",
      "dangerously_allow_non_loopback_admin = true",
      "mitm = { inspect = true }",
  })
  void acceptedButIgnoredKeysWarn(String line) throws ConfigException {
    assertThat(parse("[network]\n" + line + "\n").warnings()).anyMatch(w -> w.contains(": ignored ("));
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"\"*\"", "\"*:443\""})
  void wildcardAllowIsAcceptedWithAWarning(String pattern) throws ConfigException {
    DaemonConfig config = parse("[network]\nallowed_domains = [" + pattern + "]\n");

    assertThat(config.policy().allowsEverything()).isEqualTo(pattern.equals("\"*\""));
    assertThat(config.warnings()).anyMatch(w -> w.startsWith("config.toml:2:20: network.allowed_domains[0]: ")
        && w.contains("allows every host"));
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"\"/var/run/docker.sock\" = \"deny\"", "\"relative\" = \"deny\"", "\"x\" = \"none\""})
  void unixSocketDenyEntriesAreNotPathChecked(String entry) {
    assertThatCode(() -> parse("[network.unix_sockets]\n" + entry + "\n")).doesNotThrowAnyException();
  }
}
