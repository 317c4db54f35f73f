package dev.egressd.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.egressd.policy.HostName;
import dev.egressd.policy.MitmHook;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@code [[network.mitm_hooks]]}: the reference's shape, its validation messages, and secrets read at load. */
class HookConfigTest {
  private static final String SECRET = "tok-0123456789abcdef";
  private static final Map<String, String> ENV = Map.of("API_TOKEN", SECRET, "NEWLINE_TOKEN", "a\nb");

  @TempDir
  Path dir;

  private static DaemonConfig parse(String toml) throws ConfigException {
    return ConfigLoader.parse(toml, "config.toml", null, ENV::get);
  }

  private static List<ConfigProblem> problems(String toml) {
    ConfigException[] thrown = new ConfigException[1];
    assertThatThrownBy(() -> parse(toml)).isInstanceOfSatisfying(ConfigException.class, e -> thrown[0] = e);
    assertThat(thrown[0].getMessage()).doesNotContain(SECRET);
    return thrown[0].problems();
  }

  private static final String HOOK = """
      [network]
      mitm = true
      allowed_domains = ["api.example.com"]

      [[network.mitm_hooks]]
      host = "API.Example.com"
      [network.mitm_hooks.match]
      methods = ["get", " POST "]
      path_prefixes = ["/v1/", "pattern:/files/*.txt"]
      query = { org = ["acme"] }
      headers = { "x-client" = [] }
      [network.mitm_hooks.actions]
      strip_request_headers = ["X-Debug"]
      inject_request_headers = [{ name = "Authorization", secret_env_var = "API_TOKEN", prefix = "Bearer " }]
      """;

  @Test
  void theReferenceShapeIsReadWithItsSecret() throws ConfigException {
    DaemonConfig config = parse(HOOK);

    List<MitmHook> hooks = config.policy().hooks().all();
    assertThat(hooks).singleElement().satisfies(hook -> {
      assertThat(hook.host()).isEqualTo(HostName.parse("api.example.com"));
      assertThat(hook.methods()).containsExactly("GET", "POST");
      assertThat(hook.pathPrefixes()).extracting(Object::toString).containsExactly("/v1/", "pattern:/files/*.txt");
      assertThat(hook.query()).containsOnlyKeys("org");
      assertThat(hook.headers()).containsOnlyKeys("x-client");
      assertThat(hook.stripHeaders()).containsExactly("x-debug");
      assertThat(hook.injectHeaders()).singleElement().satisfies(h -> {
        assertThat(h.name()).isEqualTo("authorization");
        assertThat(h.value()).isEqualTo("Bearer " + SECRET);
      });
      assertThat(hook.origin()).isEqualTo("config.toml:5 network.mitm_hooks[0]");
    });
    assertThat(config.policy().intercepts(HostName.parse("api.example.com"), 443)).isTrue();
    assertThat(config.policy().intercepts(HostName.parse("other.example.com"), 443)).isFalse();
    assertThat(String.join("\n", config.warnings()) + config.policy().hooks().all()).doesNotContain(SECRET);
  }

  @Test
  void aSecretFileIsReadTrimmedAndEveryLoadReadsItAgain() throws Exception {
    Path file = Files.writeString(dir.resolve("token"), "  file-secret-1\n");
    String toml = """
        [network]
        mitm = true
        [[network.mitm_hooks]]
        host = "api.example.com"
        actions = { inject_request_headers = [{ name = "x-api-key", secret_file = '%s' }] }
        """.formatted(file);

    assertThat(parse(toml).policy().hooks().all().get(0).injectHeaders().get(0).value()).isEqualTo("file-secret-1");
    Files.writeString(file, "file-secret-2");
    assertThat(parse(toml).policy().hooks().all().get(0).injectHeaders().get(0).value()).isEqualTo("file-secret-2");
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', textBlock = """
      no mitm               | mitm = false | host = "a.test"                                  | network.mitm_hooks                      | network.mitm_hooks requires network.mitm = true
      empty host            | mitm = true  | host = " "                                      | network.mitm_hooks[0].host              | host must not be empty
      wildcard host         | mitm = true  | host = "*.a.test"                               | network.mitm_hooks[0].host              | MITM hook hosts must be exact hosts and cannot contain wildcards
      no host               | mitm = true  | match = { methods = ["GET"] }                   | network.mitm_hooks[0]                   | a hook needs host
      unknown key           | mitm = true  | host = "a.test", hots = 1                       | network.mitm_hooks[0].hots              | unknown key (did you mean host?)
      body                  | mitm = true  | host = "a.test", match = { body = {} }          | network.mitm_hooks[0].match.body        | match.body is reserved for a future release and is not yet supported
      empty methods         | mitm = true  | host = "a.test", match = { methods = [] }       | network.mitm_hooks[0].match.methods     | methods must not be empty
      empty method          | mitm = true  | host = "a.test", match = { methods = [""] }     | network.mitm_hooks[0].match.methods[0]  | methods must not contain empty entries
      empty path            | mitm = true  | host = "a.test", match = { path_prefixes = [""] } | network.mitm_hooks[0].match.path_prefixes[0] | path_prefixes must not contain empty entries
      empty glob            | mitm = true  | host = "a.test", match = { path_prefixes = ["pattern:"] } | network.mitm_hooks[0].match.path_prefixes[0] | glob pattern must not be empty
      bad glob              | mitm = true  | host = "a.test", match = { path_prefixes = ["pattern:/v[1]"] } | network.mitm_hooks[0].match.path_prefixes[0] | invalid glob pattern
      empty query values    | mitm = true  | host = "a.test", match = { query = { org = [] } } | network.mitm_hooks[0].match.query.org | query values must not be empty
      two secret sources    | mitm = true  | host = "a.test", actions = { inject_request_headers = [{ name = "a", secret_env_var = "API_TOKEN", secret_file = "/x" }] } | network.mitm_hooks[0].actions.inject_request_headers[0] | expected exactly one of secret_env_var or secret_file
      no secret source      | mitm = true  | host = "a.test", actions = { inject_request_headers = [{ name = "a" }] } | network.mitm_hooks[0].actions.inject_request_headers[0] | expected exactly one of secret_env_var or secret_file
      relative secret file  | mitm = true  | host = "a.test", actions = { inject_request_headers = [{ name = "a", secret_file = "token" }] } | network.mitm_hooks[0].actions.inject_request_headers[0].secret_file | secret_file must be an absolute path
      missing variable      | mitm = true  | host = "a.test", actions = { inject_request_headers = [{ name = "a", secret_env_var = "NOPE" }] } | network.mitm_hooks[0].actions.inject_request_headers[0] | missing required environment variable NOPE
      unreadable file       | mitm = true  | host = "a.test", actions = { inject_request_headers = [{ name = "a", secret_file = "/nonexistent/token" }] } | network.mitm_hooks[0].actions.inject_request_headers[0] | cannot read secret_file /nonexistent/token
      secret with newline   | mitm = true  | host = "a.test", actions = { inject_request_headers = [{ name = "a", secret_env_var = "NEWLINE_TOKEN" }] } | network.mitm_hooks[0].actions.inject_request_headers[0] | contains a line break or control character
      framing header        | mitm = true  | host = "a.test", actions = { strip_request_headers = ["Content-Length"] } | network.mitm_hooks[0].actions.strip_request_headers | frames or routes the request
      injected host header  | mitm = true  | host = "a.test", actions = { inject_request_headers = [{ name = "Host", secret_env_var = "API_TOKEN" }] } | network.mitm_hooks[0].actions.inject_request_headers[0].name | frames or routes the request
      bad header name       | mitm = true  | host = "a.test", actions = { strip_request_headers = ["x y"] } | network.mitm_hooks[0].actions.strip_request_headers | is not a header name
      prefix with newline   | mitm = true  | host = "a.test", actions = { inject_request_headers = [{ name = "a", secret_env_var = "API_TOKEN", prefix = "x\\r\\n" }] } | network.mitm_hooks[0].actions.inject_request_headers[0].prefix | prefix must not contain line breaks
      not a table           | mitm = true  | host = "a.test", match = "GET"                   | network.mitm_hooks[0].match             | expected a table, found a string
      """)
  void badHooksAreErrorsNamingLineAndKey(String what, String mitm, String hook, String key, String message) {
    List<ConfigProblem> found = problems("[network]\n" + mitm + "\nmitm_hooks = [{ " + hook + " }]\n");

    assertThat(found).anySatisfy(p -> {
      assertThat(p.line()).isEqualTo(3);
      assertThat(p.key()).isEqualTo(key);
      assertThat(p.message()).contains(message);
    });
  }

  @Test
  void aProfileReplacesTheBaseHooks() throws ConfigException {
    DaemonConfig config = ConfigLoader.parse(HOOK + """

        [permissions.ci.network]
        mitm_hooks = [{ host = "other.example.com" }]
        """, "config.toml", "ci", ENV::get);

    assertThat(config.policy().hooks().all()).extracting(h -> h.host().value()).containsExactly("other.example.com");
  }
}
