package dev.egressd.policy;

import static dev.egressd.policy.Policies.request;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Matching requests inside intercepted tunnels against {@code mitm_hooks}, and what hooks do to the engine. */
class MitmHookTest {
  private static final HostName API = HostName.parse("api.example.com");

  /** A request: {@code "GET /v1/x?a=1"} plus headers as name, value pairs. */
  private record Request(String method, String path, String query, Map<String, List<String>> headers)
      implements InnerRequest {
    static Request of(String line, String... headerPairs) {
      String[] parts = line.split(" ", 2);
      String target = parts[1];
      int q = target.indexOf('?');
      Map<String, List<String>> headers = new LinkedHashMap<>();
      for (int i = 0; i < headerPairs.length; i += 2) {
        headers.computeIfAbsent(headerPairs[i].toLowerCase(Locale.ROOT), k -> new java.util.ArrayList<>())
            .add(headerPairs[i + 1]);
      }
      return new Request(parts[0], q < 0 ? target : target.substring(0, q), q < 0 ? null : target.substring(q + 1),
          headers);
    }

    @Override
    public List<String> headerValues(String name) {
      return headers.getOrDefault(name.toLowerCase(Locale.ROOT), List.of());
    }
  }

  private static MitmHook hook(List<String> methods, List<String> paths, Map<String, List<String>> query,
      Map<String, List<String>> headers) {
    Map<String, List<TextPattern>> q = new LinkedHashMap<>();
    query.forEach((k, v) -> q.put(k, v.stream().map(TextPattern::parse).toList()));
    Map<String, List<TextPattern>> h = new LinkedHashMap<>();
    headers.forEach((k, v) -> h.put(k, v.stream().map(TextPattern::parse).toList()));
    return new MitmHook(API, methods, paths.stream().map(TextPattern::parse).toList(), q, h, List.of("x-debug"),
        List.of(new MitmHook.InjectedHeader("authorization", new Secret("s3cret", "environment variable T"),
            "Bearer ")), "test.toml:3 network.mitm_hooks[0]");
  }

  @ParameterizedTest(name = "{0} {1}")
  @CsvSource(delimiter = '|', value = {
      "GET /v1/items             | true",
      "get /v1/items             | false",
      "POST /v1/items            | false",
      "GET /v2/items             | false",
      "GET /v1                   | false",
      "GET /v1/../admin          | false",
      "GET /v1/./items           | false",
      "GET /v1/%2e%2e/admin      | false",
      "GET /v1/a%2Fb             | false",
      "GET /v1/a\\b              | false",
      "GET /files/a.txt          | true",
      "GET /files/a/b.txt        | false",
      "GET /files/a.txt.bak      | false"})
  void methodsAndPathPrefixesAndGlobs(String line, boolean matches) {
    MitmHook hook = hook(List.of("get"), List.of("/v1/", "pattern:/files/*.txt"), Map.of(), Map.of());

    assertThat(hook.methods()).containsExactly("GET");
    assertThat(hook.matches(Request.of(line))).isEqualTo(matches);
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "GET /?org=acme                    | true",
      "GET /?page=2&org=acme             | true",
      "GET /?org=acme%20labs             | false",
      "GET /?org=team-7&page=1           | true",
      "GET /?org=team-                   | false",
      "GET /?org=evil                    | false",
      "GET /                             | false",
      "GET /?org=%zz                     | false",
      "GET /?org=evil&org=acme           | true"})
  void everyListedQueryParameterMustBePresentWithAnAllowedValue(String line, boolean matches) {
    MitmHook hook = hook(List.of(), List.of(), Map.of("org", List.of("acme", "pattern:team-?")), Map.of());

    assertThat(hook.matches(Request.of(line))).isEqualTo(matches);
  }

  @Test
  void headersMustBePresentAndAnEmptyListOnlyRequiresPresence() {
    MitmHook hook = hook(List.of(), List.of(), Map.of(), Map.of("X-Client", List.of(), "accept",
        List.of("application/json")));

    assertThat(hook.matches(Request.of("GET /", "x-client", "cli", "Accept", "application/json"))).isTrue();
    assertThat(hook.matches(Request.of("GET /", "x-client", "", "accept", " application/json "))).isTrue();
    assertThat(hook.matches(Request.of("GET /", "accept", "application/json"))).isFalse();
    assertThat(hook.matches(Request.of("GET /", "x-client", "cli", "accept", "text/html"))).isFalse();
  }

  @Test
  void theFirstMatchingHookOfTheHostWins() {
    MitmHook reads = hook(List.of("GET"), List.of(), Map.of(), Map.of());
    MitmHook all = hook(List.of(), List.of(), Map.of(), Map.of());
    MitmHooks hooks = new MitmHooks(List.of(reads, all));

    assertThat(hooks.match(API, Request.of("GET /"))).isSameAs(reads);
    assertThat(hooks.match(API, Request.of("DELETE /"))).isSameAs(all);
    assertThat(hooks.covers(API)).isTrue();
    assertThat(hooks.covers(HostName.parse("other.example.com"))).isFalse();
    assertThat(hooks.match(HostName.parse("other.example.com"), Request.of("GET /"))).isNull();
  }

  @Test
  void aSecretNeverShowsInText() {
    MitmHook hook = hook(List.of(), List.of(), Map.of(), Map.of());

    assertThat(hook.toString()).doesNotContain("s3cret").contains("[secret from environment variable T]");
    assertThat(hook.injectHeaders().get(0).value()).isEqualTo("Bearer s3cret");
  }

  @Test
  void textPatternsRefuseEmptyAndReservedGlobs() {
    assertThatThrownBy(() -> TextPattern.parse("")).hasMessage("must not contain empty entries");
    assertThatThrownBy(() -> TextPattern.parse("pattern:")).hasMessage("glob pattern must not be empty");
    assertThatThrownBy(() -> TextPattern.parse("pattern:/v[12]/")).hasMessageStartingWith("invalid glob pattern");
    assertThat(TextPattern.parse("literal:pattern:x").matches("pattern:x")).isTrue();
  }

  private static NetworkPolicy hooked(AccessMode mode) {
    return NetworkPolicy.builder().scope(Policies.SCOPE).mitm(true).mode(mode)
        .addRule(Rule.allow("api.example.com", "allow-origin"))
        .addHook(hook(List.of("GET"), List.of(), Map.of(), Map.of())).build();
  }

  @Test
  void aHookedHostIsInterceptedInFullModeAndItsOpaqueBytesAreRefusedEvenWithABypass() {
    NetworkPolicy policy = hooked(AccessMode.FULL).toBuilder()
        .addInterceptionBypass(HostPattern.parse("api.example.com"), "bypass-origin").build();
    PolicyEngine engine = new PolicyEngine(policy, true);

    TunnelTerms terms = engine.tunnelTerms(request(Protocol.HTTPS_CONNECT, null, "api.example.com:443"));

    assertThat(terms.intercept()).isTrue();
    assertThat(terms.opaqueRefusal()).hasValueSatisfying(d -> assertThat(d.reason())
        .isEqualTo(Reason.MITM_HOOK_DENIED));
    assertThat(policy.toBuilder().build().hooks().all()).hasSize(1);
  }

  @Test
  void plainHttpAndUdpToAHookedHostAreRefused() {
    PolicyEngine engine = new PolicyEngine(hooked(AccessMode.FULL), true);

    Decision plain = engine.decide(request(Protocol.HTTP, "GET", "api.example.com:80"));
    Decision udp = engine.decide(request(Protocol.SOCKS5_UDP, null, "api.example.com:443"));
    Decision inner = engine.decide(request(Protocol.HTTPS, "GET", "api.example.com:443"));

    assertThat(plain.reason()).isEqualTo(Reason.MITM_HOOK_DENIED);
    assertThat(plain.message()).contains("only HTTPS requests through TLS interception can match them; use https://");
    assertThat(udp.reason()).isEqualTo(Reason.MITM_HOOK_DENIED);
    assertThat(inner.allowed()).isTrue();
  }

  @Test
  void theMethodPolicyComesBeforeTheHooksInLimitedMode() {
    PolicyEngine engine = new PolicyEngine(hooked(AccessMode.LIMITED), true);

    assertThat(engine.decide(request(Protocol.HTTP, "POST", "api.example.com:80")).reason())
        .isEqualTo(Reason.METHOD_NOT_ALLOWED);
  }

  @Test
  void aHookMissNamesTheHostAndTheHookCount() {
    PolicyEngine engine = new PolicyEngine(hooked(AccessMode.FULL), true);
    AccessRequest post = request(Protocol.HTTPS, "POST", "api.example.com:443");

    Decision miss = engine.hookMiss(post, engine.decide(post));

    assertThat(miss.reason()).isEqualTo(Reason.MITM_HOOK_DENIED);
    assertThat(miss.reason().proxyError()).isEqualTo("blocked-by-mitm-hook");
    assertThat(miss.message()).contains("No MITM hook for api.example.com matches this POST request (1 hook in");
    assertThat(miss.rule()).map(r -> r.pattern().text()).contains("api.example.com");
  }
}
