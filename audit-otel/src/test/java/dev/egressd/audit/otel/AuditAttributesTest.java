package dev.egressd.audit.otel;

import static dev.egressd.audit.otel.Events.AT;
import static dev.egressd.audit.otel.Events.CLIENT;
import static dev.egressd.audit.otel.Events.request;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.egressd.audit.AuditEvent;
import dev.egressd.policy.AccessRequest;
import dev.egressd.policy.Decision;
import dev.egressd.policy.Destination;
import dev.egressd.policy.HostName;
import dev.egressd.policy.PolicySource;
import dev.egressd.policy.Protocol;
import dev.egressd.policy.Reason;
import dev.egressd.policy.Rule;
import java.net.URI;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/** Every attribute of the policy-decision event, for every verdict, reason, source and protocol. */
class AuditAttributesTest {
  private static final String EVENT = "codex.network_proxy.policy_decision";
  /** The keys documented in docs/observability.md, in the order the event carries them. */
  private static final List<String> REQUIRED_KEYS = List.of("event.name", "event.timestamp", "network.policy.scope",
      "network.policy.decision", "network.policy.source", "network.policy.reason", "network.transport.protocol",
      "server.address", "server.port", "http.request.method", "client.address", "network.policy.override");
  private static final List<String> OPTIONAL_KEYS = List.of("conversation.id", "app.version", "user.account_id");

  /** The source each deny reason comes from in production; a new reason fails to compile here. */
  private static PolicySource sourceOf(Reason reason) {
    return switch (reason) {
      case ALLOW, NOT_ALLOWED, NOT_ALLOWED_LOCAL, DENIED, HOST_MISMATCH, CREDENTIAL_MISUSE -> PolicySource.BASELINE_POLICY;
      case METHOD_NOT_ALLOWED, MITM_REQUIRED, OPAQUE_TUNNEL, MITM_HOOK_DENIED -> PolicySource.MODE_GUARD;
      case PROXY_DISABLED, UNIX_SOCKET_UNSUPPORTED, PROXY_LOOP, DECISION_FAILED -> PolicySource.PROXY_STATE;
      case DECIDER_DENIED, DECIDER_FAILED, DECIDER_TIMEOUT -> PolicySource.DECIDER;
      case APPROVAL_DENIED, APPROVAL_TIMEOUT -> PolicySource.APPROVAL;
    };
  }

  private static String methodFor(Protocol protocol) {
    return switch (protocol) {
      case HTTP -> "GET";
      case HTTPS_CONNECT -> "CONNECT";
      case HTTPS -> "DELETE";
      case SOCKS5_TCP, SOCKS5_UDP -> null;
    };
  }

  private record Case(String name, Decision decision, String verdict, String source, String reason, String scope,
      boolean override) {}

  private static List<Case> cases() {
    List<Case> cases = new ArrayList<>();
    cases.add(new Case("allow by rule", Decision.allow(Rule.allow("x", "origin")), "allow", "baseline_policy",
        "allow", "domain", false));
    cases.add(new Case("allow by decider", new Decision(Decision.Verdict.ALLOW, Reason.ALLOW, PolicySource.DECIDER,
        Optional.empty(), ""), "allow", "decider", "allow", "domain", true));
    cases.add(new Case("ask by decider", new Decision(Decision.Verdict.ASK, Reason.NOT_ALLOWED, PolicySource.DECIDER,
        Optional.empty(), "hint"), "ask", "decider", "not_allowed", "domain", false));
    cases.add(new Case("deny by decider", Decision.deny(Reason.NOT_ALLOWED, PolicySource.DECIDER, null, "hint"),
        "deny", "decider", "not_allowed", "domain", false));
    cases.add(new Case("override with the decider's text", new Decision(Decision.Verdict.ALLOW, Reason.NOT_ALLOWED,
        PolicySource.DECIDER, Optional.empty(), "", "ticket OPS-7"), "allow", "decider", "ticket OPS-7", "domain",
        true));
    cases.add(new Case("decider deny with its text", new Decision(Decision.Verdict.DENY, Reason.DECIDER_DENIED,
        PolicySource.DECIDER, Optional.empty(), "hint", "unreviewed"), "deny", "decider", "unreviewed", "domain",
        false));
    for (Reason reason : Reason.values()) {
      if (reason == Reason.ALLOW) {
        continue;
      }
      PolicySource source = sourceOf(reason);
      boolean domain = source == PolicySource.BASELINE_POLICY || source == PolicySource.DECIDER
          || source == PolicySource.APPROVAL;
      cases.add(new Case("deny " + reason.code(), Decision.deny(reason, source, null, "hint"), "deny",
          source.label(), reason.code(), domain ? "domain" : "non_domain", false));
    }
    return cases;
  }

  static Stream<Arguments> everyDecisionAndProtocol() {
    return cases().stream().flatMap(c -> Stream.of(Protocol.values())
        .map(p -> Arguments.of(c.name() + " over " + p.label(), c, p)));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("everyDecisionAndProtocol")
  void everyAttributeHasItsDocumentedValueAndType(String name, Case c, Protocol protocol) {
    String method = methodFor(protocol);
    AuditEvent.PolicyDecision event = new AuditEvent.PolicyDecision(AT, request("api.example.com:8443", protocol,
        method), c.decision());

    Map<String, Object> attributes = AuditAttributes.of(event, EVENT, AuditMetadata.NONE);

    Map<String, Object> expected = new LinkedHashMap<>();
    expected.put("event.name", EVENT);
    expected.put("event.timestamp", "2026-11-23T10:15:30.123Z");
    expected.put("network.policy.scope", c.scope());
    expected.put("network.policy.decision", c.verdict());
    expected.put("network.policy.source", c.source());
    expected.put("network.policy.reason", c.reason());
    expected.put("network.transport.protocol", protocol.label());
    expected.put("server.address", "api.example.com");
    expected.put("server.port", 8443L);
    expected.put("http.request.method", method == null ? "none" : method);
    expected.put("client.address", CLIENT);
    expected.put("network.policy.override", c.override());
    assertThat(attributes).containsExactlyEntriesOf(expected);
    assertThat(attributes.get("server.port")).isInstanceOf(Long.class);
    assertThat(attributes.get("network.policy.override")).isInstanceOf(Boolean.class);
  }

  @Test
  void theRouteIsNamedOnAllowsOnlyAfterTheConnectionId() {
    AccessRequest request = request("a.example:1", Protocol.HTTPS_CONNECT, null);
    Map<String, Object> viaParent = AuditAttributes.of(new AuditEvent.PolicyDecision(AT, request, Events.allow(),
        AuditEvent.Route.UPSTREAM_PROXY), EVENT, AuditMetadata.NONE);
    assertThat(viaParent).containsEntry("network.route", "upstream_proxy");
    assertThat(List.copyOf(viaParent.keySet()).indexOf("network.route"))
        .isEqualTo(List.copyOf(viaParent.keySet()).indexOf("network.policy.override") + 1);
    assertThat(AuditAttributes.of(new AuditEvent.PolicyDecision(AT, request, Events.allow(),
        AuditEvent.Route.DIRECT), EVENT, AuditMetadata.NONE)).containsEntry("network.route", "direct");
    assertThat(AuditAttributes.of(new AuditEvent.PolicyDecision(AT, request, Decision.deny(Reason.DENIED,
        PolicySource.BASELINE_POLICY, null, ""), AuditEvent.Route.UPSTREAM_PROXY), EVENT, AuditMetadata.NONE))
        .doesNotContainKey("network.route");
    assertThat(AuditAttributes.of(new AuditEvent.PolicyDecision(AT, request, Events.allow()), EVENT,
        AuditMetadata.NONE)).doesNotContainKey("network.route");
  }

  @Test
  void reportModesAllowCarriesTheRefusalsReasonAndWouldDeny() {
    AccessRequest request = request("a.example:1", Protocol.HTTPS_CONNECT, null);
    Decision refusal = Decision.deny(Reason.DENIED, PolicySource.BASELINE_POLICY, Rule.deny("a.example", "o"), "");

    Map<String, Object> reported = AuditAttributes.of(new AuditEvent.PolicyDecision(AT, request,
        Decision.reported(refusal), AuditEvent.Route.DIRECT), EVENT, AuditMetadata.NONE);

    assertThat(reported).containsEntry("network.policy.decision", "allow")
        .containsEntry("network.policy.reason", "denied").containsEntry("network.policy.source", "baseline_policy")
        .containsEntry("egressd.would_deny", true).containsEntry("network.policy.override", false);
    assertThat(AuditAttributes.of(new AuditEvent.PolicyDecision(AT, request, refusal), EVENT, AuditMetadata.NONE))
        .doesNotContainKey("egressd.would_deny");
    assertThat(AuditAttributes.of(new AuditEvent.PolicyDecision(AT, request, Events.allow()), EVENT,
        AuditMetadata.NONE)).doesNotContainKey("egressd.would_deny");
  }

  @Test
  void credentialMisuseNamesTheCredentialOnly() {
    AccessRequest request = request("paste.example:443", Protocol.HTTPS, "POST");
    Decision misuse = new Decision(Decision.Verdict.DENY, Reason.CREDENTIAL_MISUSE, PolicySource.BASELINE_POLICY,
        Optional.empty(), "hint", "", null, "github");

    assertThat(AuditAttributes.of(new AuditEvent.PolicyDecision(AT, request, misuse), EVENT, AuditMetadata.NONE))
        .containsEntry("network.policy.reason", "credential_misuse").containsEntry("egressd.credential", "github");
    assertThat(AuditAttributes.of(new AuditEvent.PolicyDecision(AT, request, Events.allow()), EVENT,
        AuditMetadata.NONE)).doesNotContainKey("egressd.credential");
  }

  @Test
  void anExecutionIdIsExportedWhenTheConnectionIsKnownToBelongToOne() {
    AccessRequest plain = request("a.example:1", Protocol.HTTP, "GET");
    AccessRequest ofRun = new AccessRequest(plain.destination(), plain.protocol(), "GET", false, "unix-socket", 7,
        "ci-job-42");

    assertThat(AuditAttributes.of(new AuditEvent.PolicyDecision(AT, ofRun, Events.allow()), EVENT,
        AuditMetadata.NONE)).containsEntry("execution.id", "ci-job-42");
    assertThat(AuditAttributes.of(new AuditEvent.PolicyDecision(AT, plain, Events.allow()), EVENT,
        AuditMetadata.NONE)).doesNotContainKey("execution.id");
    assertThat(ofRun.inner(plain.destination(), Protocol.HTTPS, "GET", false).executionId()).isEqualTo("ci-job-42");
    assertThatThrownBy(() -> new AccessRequest(plain.destination(), plain.protocol(), "GET", false, "x", 1, "a b"))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new AccessRequest(plain.destination(), plain.protocol(), "GET", false, "x", 1,
        "x".repeat(65))).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void protocolLabelsAreTheReferences() {
    assertThat(Stream.of(Protocol.values()).map(p -> AuditAttributes.of(new AuditEvent.PolicyDecision(AT,
        request("a.example:1", p, null), Events.allow()), EVENT, AuditMetadata.NONE)
        .get("network.transport.protocol")))
        .containsExactly("http", "https_connect", "https", "socks5_tcp", "socks5_udp");
  }

  @Test
  void reasonCodesAreTheDocumentedOnes() {
    assertThat(Stream.of(Reason.values()).map(r -> AuditAttributes.of(new AuditEvent.PolicyDecision(AT,
        request("a.example:1", Protocol.HTTP, "GET"), Decision.deny(r, sourceOf(r), null, "")), EVENT,
        AuditMetadata.NONE).get("network.policy.reason")))
        .containsExactly("allow", "not_allowed", "not_allowed_local", "denied", "method_not_allowed",
            "mitm_required", "proxy_disabled", "unix_socket_unsupported", "host_mismatch", "opaque_tunnel",
            "proxy_loop", "decision_failed", "policy_denied", "decider_failed", "decider_timeout", "approval_denied",
            "approval_timeout", "mitm_hook_denied", "credential_misuse");
  }

  @ParameterizedTest(name = "{0}")
  @EnumSource(PolicySource.class)
  void scopeIsDomainOnlyForDestinationSources(PolicySource source) {
    boolean domain = source == PolicySource.BASELINE_POLICY || source == PolicySource.DECIDER
        || source == PolicySource.APPROVAL;

    assertThat(AuditAttributes.scope(source)).isEqualTo(domain ? "domain" : "non_domain");
  }

  @ParameterizedTest(name = "{0}")
  @EnumSource(PolicySource.class)
  void overrideIsTrueOnlyForADeciderOrApprovalAllow(PolicySource source) {
    Decision allow = new Decision(Decision.Verdict.ALLOW, Reason.ALLOW, source, Optional.empty(), "");
    Decision deny = Decision.deny(Reason.NOT_ALLOWED, source, null, "");

    assertThat(attributesOf(allow).get("network.policy.override"))
        .isEqualTo(source == PolicySource.DECIDER || source == PolicySource.APPROVAL);
    assertThat(attributesOf(deny).get("network.policy.override")).isEqualTo(false);
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource({
      "2026-11-23T10:15:30.123456789Z, 2026-11-23T10:15:30.123Z",
      "2026-11-23T10:15:30Z, 2026-11-23T10:15:30.000Z",
      "2026-11-23T10:15:30.999999999Z, 2026-11-23T10:15:30.999Z",
      "2026-11-23T23:59:59.5+01:00, 2026-11-23T22:59:59.500Z",
      "1970-01-01T00:00:00Z, 1970-01-01T00:00:00.000Z",
  })
  void timestampIsRfc3339UtcWithMillisecondsTruncated(String at, String expected) {
    Instant instant = OffsetDateTime.parse(at).toInstant();
    AuditEvent.PolicyDecision event = new AuditEvent.PolicyDecision(instant,
        request("a.example:1", Protocol.HTTP, "GET"), Events.allow());

    assertThat(AuditAttributes.of(event, EVENT, AuditMetadata.NONE).get("event.timestamp")).isEqualTo(expected);
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({
      "Example.COM:443, example.com, 443",
      "example.com.:1, example.com, 1",
      "[2001:DB8::1]:65535, 2001:db8::1, 65535",
      "10.0.0.1:8080, 10.0.0.1, 8080",
      "bücher.example:443, xn--bcher-kva.example, 443",
  })
  void serverAddressIsTheCanonicalHostWithoutPort(String authority, String host, long port) {
    Map<String, Object> attributes = AuditAttributes.of(new AuditEvent.PolicyDecision(AT,
        request(authority, Protocol.HTTPS_CONNECT, null), Events.allow()), EVENT, AuditMetadata.NONE);

    assertThat(attributes.get("server.address")).isEqualTo(host);
    assertThat(attributes.get("server.port")).isEqualTo(port);
  }

  @Test
  void metadataIsAppendedInOrderWhenPresent() {
    Map<String, Object> attributes = AuditAttributes.of(Events.allowedGet(80), "custom.event",
        new AuditMetadata("1.2.3", "conv-1", "acct-1"));

    List<String> keys = new ArrayList<>(REQUIRED_KEYS);
    keys.addAll(OPTIONAL_KEYS);
    assertThat(attributes.keySet()).containsExactlyElementsOf(keys);
    assertThat(attributes).containsEntry("event.name", "custom.event")
        .containsEntry("conversation.id", "conv-1")
        .containsEntry("app.version", "1.2.3")
        .containsEntry("user.account_id", "acct-1");
  }

  @Test
  void missingOrEmptyMetadataIsOmitted() {
    assertThat(AuditAttributes.of(Events.allowedGet(80), EVENT, new AuditMetadata(null, "c", "")).keySet())
        .containsExactlyElementsOf(withOptional("conversation.id"));
    assertThat(AuditAttributes.of(Events.allowedGet(80), EVENT, new AuditMetadata("v", null, null)).keySet())
        .containsExactlyElementsOf(withOptional("app.version"));
    assertThat(AuditAttributes.of(Events.allowedGet(80), EVENT, new AuditMetadata("", "", "")).keySet())
        .containsExactlyElementsOf(REQUIRED_KEYS);
  }

  @Test
  void connectionIdFollowsTheReferenceKeysWhenTheRequestCameOnAConnection() {
    AccessRequest onConnection = new AccessRequest(new Destination(HostName.parse("a.example"), 443),
        Protocol.HTTPS, "GET", false, CLIENT, 42);

    Map<String, Object> attributes = AuditAttributes.of(new AuditEvent.PolicyDecision(AT, onConnection,
        Events.allow()), EVENT, new AuditMetadata("1.2.3", null, null));

    List<String> keys = new ArrayList<>(REQUIRED_KEYS);
    keys.add("egressd.connection.id");
    keys.add("app.version");
    assertThat(attributes.keySet()).containsExactlyElementsOf(keys);
    assertThat(attributes).containsEntry("egressd.connection.id", 42L);
  }

  @Test
  void attributesCannotBeModified() {
    Map<String, Object> attributes = AuditAttributes.of(Events.allowedGet(80), EVENT, AuditMetadata.NONE);

    assertThatThrownBy(() -> attributes.put("url.path", "/x")).isInstanceOf(UnsupportedOperationException.class);
  }

  /**
   * The proxy parses a URL with credentials, a path, a query and a fragment; only its host and port may become a
   * destination, and the decision's hint and rule origin (which name config files and hosts) stay out too.
   */
  @Test
  void noPathQueryCredentialOrHintReachesTheEvent() {
    String secret = "s3cret";
    URI url = URI.create("http://alice:" + secret + "@api.example.com:8080/v1/" + secret + "?token=" + secret
        + "#" + secret);
    AccessRequest request = new AccessRequest(new Destination(HostName.parse(url.getHost()), url.getPort()),
        Protocol.HTTP, "POST", true, CLIENT);
    Decision decision = Decision.deny(Reason.DENIED, PolicySource.BASELINE_POLICY,
        Rule.deny("api.example.com", "/home/alice/" + secret + ".toml:3"), "remove " + secret);

    Map<String, Object> attributes = AuditAttributes.of(new AuditEvent.PolicyDecision(AT, request, decision), EVENT,
        AuditMetadata.NONE);

    assertThat(attributes.keySet()).containsExactlyElementsOf(REQUIRED_KEYS);
    assertThat(attributes).containsEntry("server.address", "api.example.com")
        .containsEntry("server.port", 8080L)
        .containsEntry("http.request.method", "POST")
        .containsEntry("client.address", CLIENT);
    assertThat(attributes.values()).allSatisfy(v -> assertThat(String.valueOf(v))
        .doesNotContain(secret, "alice", "/v1", "token", "?", "#", "@"));
  }

  private static Map<String, Object> attributesOf(Decision decision) {
    return AuditAttributes.of(new AuditEvent.PolicyDecision(AT, request("a.example:1", Protocol.HTTP, "GET"),
        decision), EVENT, AuditMetadata.NONE);
  }

  private static List<String> withOptional(String key) {
    List<String> keys = new ArrayList<>(REQUIRED_KEYS);
    keys.add(key);
    return keys;
  }
}
