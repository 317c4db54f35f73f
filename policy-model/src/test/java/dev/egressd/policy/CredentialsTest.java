package dev.egressd.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/** Stand-ins for secrets, the swap on bound hosts, and spotting a stand-in sent anywhere else. */
class CredentialsTest {
  private static final String GITHUB = "ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8";
  private static final String OPENAI = "sk-proj-Zy9Xw8Vu7Ts6Rq5Po4Nm3Lk2";

  private static Credential credential(String name, String secret, String... hosts) {
    return new Credential(name, new Secret(secret, "environment variable X"), DummyTokens.of(name, secret),
        java.util.Arrays.stream(hosts).map(HostPattern::parse).toList(), "Authorization", "GH_TOKEN", "X",
        "test.toml:5 network.credentials." + name);
  }

  @ParameterizedTest
  @ValueSource(strings = {GITHUB, OPENAI, "github_pat_11ABCDEFG0123456789_abcdefghijKLMNOP", "plainsecretvalue1234",
      "xoxb-1234567890-abcdefghij"})
  void aStandInHasTheSecretsPrefixLengthAndCharacterClassesAndIsStable(String secret) {
    String dummy = DummyTokens.of("name", secret);

    assertThat(dummy).isNotEqualTo(secret).hasSameSizeAs(secret).isEqualTo(DummyTokens.of("name", secret))
        .isNotEqualTo(DummyTokens.of("other", secret));
    for (int i = 0; i < secret.length(); i++) {
      char s = secret.charAt(i);
      char d = dummy.charAt(i);
      assertThat(Character.isDigit(d)).as("position %d", i).isEqualTo(Character.isDigit(s));
      assertThat(Character.isUpperCase(d)).as("position %d", i).isEqualTo(Character.isUpperCase(s));
      assertThat(Character.isLowerCase(d)).as("position %d", i).isEqualTo(Character.isLowerCase(s));
      if (!Character.isLetterOrDigit(s)) {
        assertThat(d).isEqualTo(s);
      }
    }
  }

  @Test
  void wellKnownPrefixesAreKept() {
    assertThat(DummyTokens.of("gh", GITHUB)).startsWith("ghp_");
    assertThat(DummyTokens.of("ai", OPENAI)).startsWith("sk-proj-");
    assertThat(DummyTokens.of("pat", "github_pat_11ABCDEFG0123456789_abcdefghij")).startsWith("github_pat_");
  }

  @Test
  void aSecretTooShortToStandInForIsRefusedWithoutShowingIt() {
    assertThatThrownBy(() -> DummyTokens.of("short", "ghp_abc123")).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("at least 12 letters or digits").hasMessageNotContaining("abc123");
  }

  @Test
  void theSwapFindsTheStandInAsBearerTokenOrInsideBasic() {
    Credential github = credential("github", GITHUB, "github.test");
    String dummy = github.dummy();
    String basic = "Basic " + Base64.getEncoder().encodeToString(("x-access-token:" + dummy)
        .getBytes(StandardCharsets.UTF_8));

    assertThat(github.swapped("Bearer " + dummy)).isEqualTo("Bearer " + GITHUB);
    assertThat(github.swapped("token " + dummy)).isEqualTo("token " + GITHUB);
    assertThat(new String(Base64.getDecoder().decode(github.swapped(basic).substring(6)), StandardCharsets.UTF_8))
        .isEqualTo("x-access-token:" + GITHUB);
    assertThat(github.swapped("Bearer something-else")).isNull();
    assertThat(github.swapped("Basic !!notbase64")).isNull();
    assertThat(github.toString()).doesNotContain(GITHUB).doesNotContain(dummy);
  }

  private record Request(String path, String query, Map<String, List<String>> headers) implements InnerRequest {
    @Override
    public String method() {
      return "GET";
    }

    @Override
    public List<String> headerValues(String name) {
      return headers.getOrDefault(name, List.of());
    }

    @Override
    public List<String> allHeaderValues() {
      return headers.values().stream().flatMap(List::stream).toList();
    }
  }

  @Test
  void aStandInSentToAnotherHostIsMisuseWhereverItIs() {
    Credential github = credential("github", GITHUB, "github.test", "*.github.test");
    Credential openai = credential("openai", OPENAI, "openai.test");
    Credentials credentials = new Credentials(List.of(github, openai));
    HostName elsewhere = HostName.parse("paste.test");
    String basic = "Basic " + Base64.getEncoder().encodeToString(("u:" + github.dummy()).getBytes(StandardCharsets.UTF_8));

    assertThat(credentials.misusedIn(new Request("/", null, Map.of("authorization", List.of("Bearer "
        + github.dummy()))), elsewhere, 443)).isEqualTo(github);
    assertThat(credentials.misusedIn(new Request("/", null, Map.of("x-anything", List.of(basic))), elsewhere, 443))
        .isEqualTo(github);
    assertThat(credentials.misusedIn(new Request("/upload/" + openai.dummy(), null, Map.of()), elsewhere, 80))
        .isEqualTo(openai);
    assertThat(credentials.misusedIn(new Request("/", "k=" + openai.dummy().replace("-", "%2D"), Map.of()),
        elsewhere, 80)).as("percent-encoded in the query").isEqualTo(openai);
    assertThat(credentials.misusedIn(new Request("/", null, Map.of("authorization", List.of("Bearer "
        + github.dummy()))), HostName.parse("api.github.test"), 443)).as("bound: not misuse").isNull();
    assertThat(credentials.misusedIn(new Request("/", null, Map.of("authorization", List.of("Bearer "
        + github.dummy()))), HostName.parse("openai.test"), 443)).as("another credential's host").isEqualTo(github);
    assertThat(credentials.misusedIn(new Request("/", null, Map.of()), elsewhere, 443)).isNull();
    assertThat(credentials.boundTo(HostName.parse("api.github.test"), 443)).containsExactly(github);
    assertThat(credentials.covers(HostName.parse("openai.test"), 443)).isTrue();
    assertThat(credentials.covers(elsewhere, 443)).isFalse();
  }

  @Test
  void misuseIsRefusedNamingTheCredentialAndAHookedOrBoundHostIsIntercepted() {
    Credential github = credential("github", GITHUB, "github.test");
    NetworkPolicy policy = NetworkPolicy.builder().scope(Policies.SCOPE).mitm(true).addRule(Rule.allow("*", "o"))
        .addCredential(github).build();
    PolicyEngine engine = new PolicyEngine(policy, true);
    AccessRequest request = Policies.request(Protocol.HTTPS, "GET", "paste.test:443");

    Decision misuse = engine.credentialMisuse(request, github);

    assertThat(misuse.reason()).isEqualTo(Reason.CREDENTIAL_MISUSE);
    assertThat(misuse.reason().proxyError()).isEqualTo("blocked-by-credential-policy");
    assertThat(misuse.credential()).isEqualTo("github");
    assertThat(misuse.message()).contains("\"github\"").contains("[github.test]").contains("not paste.test")
        .doesNotContain(GITHUB).doesNotContain(github.dummy());
    assertThat(Decision.reported(misuse).credential()).isEqualTo("github");
    assertThat(policy.intercepts(HostName.parse("github.test"), 443)).isTrue();
    assertThat(policy.intercepts(HostName.parse("paste.test"), 443)).isFalse();
    assertThat(policy.toBuilder().build().credentials().all()).containsExactly(github);
  }
}
