package dev.egressd.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.egressd.audit.AuditEvent;
import dev.egressd.audit.ProxyMetrics;
import dev.egressd.policy.AccessMode;
import dev.egressd.policy.PolicyEngine;
import dev.egressd.policy.PolicySource;
import dev.egressd.policy.Reason;
import dev.egressd.proxy.ProxyOptions;
import dev.egressd.proxy.testing.FakeResolver;
import dev.egressd.proxy.testing.RecordingAuditSink;
import dev.egressd.proxy.testing.TestPolicies;
import dev.egressd.proxy.tunnel.LoopGuard;
import dev.egressd.proxy.tunnel.TunnelEstablisher;
import dev.egressd.proxy.tunnel.UpstreamConnector;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The HTTP front end's refusal and bad-input paths, on an EmbeddedChannel built by the production initializer. */
class HttpProxyHandlerTest {
  private final FakeResolver resolver = new FakeResolver().map("private.test", "127.0.0.2");
  private final RecordingAuditSink audit = new RecordingAuditSink();
  private EmbeddedChannel channel;

  @AfterEach
  void tearDown() {
    if (channel != null) {
      channel.finishAndReleaseAll();
    }
  }

  private EmbeddedChannel channel(PolicyEngine engine) {
    ProxyOptions options = ProxyOptions.builder().maxHeaderSize(2048).build();
    UpstreamConnector connector = new UpstreamConnector(() -> engine, resolver, audit, NioSocketChannel.class,
        options.connectTimeout(), options.resolveTimeout(), Clock.systemUTC(), LoopGuard.NONE, ProxyMetrics.NONE);
    channel = new EmbeddedChannel(new HttpProxyInitializer(
        new TunnelEstablisher(connector, null, options.idleTimeout()), options));
    return channel;
  }

  private String exchange(String request) {
    channel.writeInbound(Unpooled.copiedBuffer(request, StandardCharsets.ISO_8859_1));
    channel.runPendingTasks();
    return drainOutbound();
  }

  private String drainOutbound() {
    StringBuilder sb = new StringBuilder();
    for (Object msg; (msg = channel.readOutbound()) != null; ) {
      ByteBuf buf = (ByteBuf) msg;
      sb.append(buf.toString(StandardCharsets.UTF_8));
      buf.release();
    }
    return sb.toString();
  }

  @Test
  void deniedHostGets403JsonWithDenylistReasonAndIsNeverResolved() {
    channel(TestPolicies.standard());
    String response = exchange("GET http://denied.test/secret?token=abc HTTP/1.1\r\nHost: denied.test\r\n\r\n");
    assertThat(response).startsWith("HTTP/1.1 403 Forbidden\r\n")
        .contains("x-proxy-error: blocked-by-denylist\r\n")
        .contains("content-type: application/json")
        .contains("\"status\":\"blocked\"", "\"host\":\"denied.test\"", "\"reason\":\"denied\"",
            "\"decision\":\"deny\"", "\"source\":\"baseline_policy\"", "\"protocol\":\"http\"", "\"port\":80");
    assertThat(response).doesNotContain("token=abc");
    assertThat(resolver.lookups()).isEmpty();
    assertThat(channel.isOpen()).as("bodyless refusal keeps the connection alive").isTrue();
    assertThat(audit.decisions()).singleElement().satisfies(d -> {
      assertThat(d.decision().reason()).isEqualTo(Reason.DENIED);
      assertThat(d.request().destination().host().value()).isEqualTo("denied.test");
    });
  }

  @Test
  void hostMissingFromAllowlistIsNotAllowedAndNeverResolved() {
    channel(TestPolicies.standard());
    String response = exchange("GET http://unknown.example/ HTTP/1.1\r\nHost: unknown.example\r\n\r\n");
    assertThat(response).startsWith("HTTP/1.1 403").contains("x-proxy-error: blocked-by-allowlist")
        .contains("\"reason\":\"not_allowed\"")
        .contains("Add \\\"unknown.example\\\" to allowed_domains in test policy.");
    assertThat(resolver.lookups()).isEmpty();
  }

  @Test
  void privateLiteralUnderWildcardAllowIsNotAllowedLocal() {
    channel(TestPolicies.engine(AccessMode.FULL, "*"));
    String response = exchange("GET http://169.254.169.254/latest/meta-data HTTP/1.1\r\n\r\n");
    assertThat(response).startsWith("HTTP/1.1 403").contains("x-proxy-error: blocked-by-allowlist")
        .contains("\"reason\":\"not_allowed_local\"");
    assertThat(response).doesNotContain("meta-data");
  }

  @Test
  void nameResolvingToNonPublicAddressIsNotAllowedLocal() {
    channel(TestPolicies.standard());
    String response = exchange("GET http://private.test/ HTTP/1.1\r\nHost: private.test\r\n\r\n");
    assertThat(response).startsWith("HTTP/1.1 403").contains("\"reason\":\"not_allowed_local\"")
        .contains("private.test resolved to 127.0.0.2");
    assertThat(resolver.lookups()).containsExactly("private.test");
  }

  @Test
  void unresolvableAllowedHostIs502DnsFailure() {
    channel(TestPolicies.standard());
    String response = exchange("GET http://allowed.test/ HTTP/1.1\r\nHost: allowed.test\r\n\r\n");
    assertThat(response).startsWith("HTTP/1.1 502").contains("x-proxy-error: dns-failure")
        .contains("could not resolve host");
    assertThat(audit.events()).singleElement().isInstanceOf(AuditEvent.UpstreamFailed.class);
  }

  @Test
  void hangingLookupTimesOutWith504() {
    resolver.hang();
    channel(TestPolicies.standard());
    assertThat(exchange("GET http://allowed.test/ HTTP/1.1\r\nHost: allowed.test\r\n\r\n")).isEmpty();
    channel.advanceTimeBy(3, TimeUnit.SECONDS);
    channel.runScheduledPendingTasks();
    assertThat(drainOutbound()).startsWith("HTTP/1.1 504").contains("x-proxy-error: dns-timeout");
  }

  @Test
  void limitedModeRefusesPostWithMethodPolicyAndClosesBecauseOfTheBody() {
    channel(TestPolicies.engine(AccessMode.LIMITED, "allowed.test"));
    String response = exchange("POST http://allowed.test/upload HTTP/1.1\r\nHost: allowed.test\r\n"
        + "Content-Length: 5\r\n\r\nhello");
    assertThat(response).startsWith("HTTP/1.1 403").contains("x-proxy-error: blocked-by-method-policy")
        .contains("\"reason\":\"method_not_allowed\"", "\"source\":\"mode_guard\"")
        .contains("connection: close");
    assertThat(channel.isOpen()).isFalse();
    assertThat(resolver.lookups()).isEmpty();
  }

  @Test
  void limitedModeRefusesUpgradeRequests() {
    channel(TestPolicies.engine(AccessMode.LIMITED, "allowed.test"));
    String response = exchange("GET http://allowed.test/ws HTTP/1.1\r\nHost: allowed.test\r\n"
        + "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
    assertThat(response).startsWith("HTTP/1.1 403").contains("blocked-by-method-policy");
  }

  @Test
  void limitedModeRefusesConnectWithMitmRequired() {
    channel(TestPolicies.engine(AccessMode.LIMITED, "allowed.test"));
    String response = exchange("CONNECT allowed.test:443 HTTP/1.1\r\nHost: allowed.test:443\r\n\r\n");
    assertThat(response).startsWith("HTTP/1.1 403").contains("x-proxy-error: blocked-by-mitm-required")
        .contains("content-type: text/plain");
    assertThat(channel.isOpen()).isFalse();
    assertThat(audit.decisions()).singleElement().satisfies(d -> {
      assertThat(d.decision().reason()).isEqualTo(Reason.MITM_REQUIRED);
      assertThat(d.decision().source()).isEqualTo(PolicySource.MODE_GUARD);
    });
  }

  @Test
  void deniedConnectGets403TextAndClose() {
    channel(TestPolicies.standard());
    String response = exchange("CONNECT denied.test:443 HTTP/1.1\r\n\r\n");
    assertThat(response).startsWith("HTTP/1.1 403").contains("x-proxy-error: blocked-by-denylist")
        .contains("Domain denied by the sandbox policy.");
    assertThat(channel.isOpen()).isFalse();
  }

  @ParameterizedTest(name = "CONNECT {0} is 400")
  @ValueSource(strings = {"allowed.test", "allowed.test:0", "allowed.test:65536", "allowed.test:+443",
      "allowed.test:0443", "[allowed.test]:443", "http://allowed.test:443", "allowed.test:443/path", ":443",
      "::1:443", "allowed.test:"})
  void malformedConnectAuthorityIs400(String authority) {
    channel(TestPolicies.standard());
    String response = exchange("CONNECT " + authority + " HTTP/1.1\r\n\r\n");
    assertThat(response).startsWith("HTTP/1.1 400").contains("x-proxy-error: invalid-host");
    assertThat(channel.isOpen()).isFalse();
    assertThat(resolver.lookups()).isEmpty();
  }

  @ParameterizedTest(name = "request target {0} is 400")
  @ValueSource(strings = {"http://exa_mple..test/", "http://user:pw@allowed.test/", "http://allowed.test:99999/",
      "http://[allowed.test]/", "http://allowed.test%00.evil/", "http://1.2.3.4.5/", "http://allowed.test\\@evil/"})
  void invalidHostInRequestTargetIs400(String target) {
    channel(TestPolicies.standard());
    String response = exchange("GET " + target + " HTTP/1.1\r\n\r\n");
    assertThat(response).startsWith("HTTP/1.1 400").contains("x-proxy-error: ");
  }

  @Test
  void originFormRequestIs400() {
    channel(TestPolicies.standard());
    assertThat(exchange("GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n")).startsWith("HTTP/1.1 400")
        .contains("x-proxy-error: origin-form-request");
  }

  @Test
  void hostHeaderThatDisagreesWithTargetIs400() {
    channel(TestPolicies.standard());
    assertThat(exchange("GET http://allowed.test/ HTTP/1.1\r\nHost: denied.test\r\n\r\n"))
        .startsWith("HTTP/1.1 400").contains("x-proxy-error: host-mismatch")
        .contains("Host header does not match request target");
    assertThat(audit.events()).isEmpty();
  }

  @Test
  void hostHeaderWithDifferentPortIs400() {
    channel(TestPolicies.standard());
    assertThat(exchange("GET http://allowed.test:8080/ HTTP/1.1\r\nHost: allowed.test\r\n\r\n"))
        .startsWith("HTTP/1.1 400").contains("host-mismatch");
  }

  @ParameterizedTest(name = "Transfer-Encoding: {0} is 400")
  @ValueSource(strings = {"gzip, chunked", "identity", "chunked, identity"})
  void ambiguousTransferEncodingIs400(String coding) {
    channel(TestPolicies.standard());
    assertThat(exchange("POST http://allowed.test/ HTTP/1.1\r\nHost: allowed.test\r\nTransfer-Encoding: "
        + coding + "\r\n\r\n0\r\n\r\n")).startsWith("HTTP/1.1 400");
    assertThat(resolver.lookups()).isEmpty();
  }

  @Test
  void unixSocketHeaderIs501OnLinux() {
    channel(TestPolicies.standard());
    assertThat(exchange("GET http://allowed.test/ HTTP/1.1\r\nHost: allowed.test\r\nx-unix-socket: /var/run/x\r\n\r\n"))
        .startsWith("HTTP/1.1 501").contains("unix sockets unsupported");
    assertThat(audit.decisions()).singleElement()
        .satisfies(d -> assertThat(d.decision().reason()).isEqualTo(Reason.UNIX_SOCKET_UNSUPPORTED));
  }

  @Test
  void garbageRequestLineIs400AndCloses() {
    channel(TestPolicies.standard());
    assertThat(exchange("\u0001\u0002 nonsense\r\n\r\n")).startsWith("HTTP/1.1 400")
        .contains("x-proxy-error: malformed-request");
    assertThat(channel.isOpen()).isFalse();
  }

  @Test
  void oversizedHeadersAre431() {
    channel(TestPolicies.standard());
    String big = "X-Big: " + "a".repeat(4096) + "\r\n";
    assertThat(exchange("GET http://allowed.test/ HTTP/1.1\r\n" + big + "\r\n")).startsWith("HTTP/1.1 431");
  }

  @Test
  void pipelinedRequestsAreEachDecided() {
    channel(TestPolicies.standard());
    String response = exchange("GET http://denied.test/ HTTP/1.1\r\n\r\n"
        + "GET http://unknown.example/ HTTP/1.1\r\n\r\n");
    assertThat(response.split("HTTP/1.1 403", -1)).hasSize(3);
    assertThat(response).contains("\"reason\":\"denied\"").contains("\"reason\":\"not_allowed\"");
    assertThat(audit.decisions()).hasSize(2);
    assertThat(channel.isOpen()).isTrue();
  }

  @Test
  void connectionCloseRequestIsHonouredOnRefusal() {
    channel(TestPolicies.standard());
    assertThat(exchange("GET http://denied.test/ HTTP/1.1\r\nConnection: close\r\n\r\n"))
        .contains("connection: close");
    assertThat(channel.isOpen()).isFalse();
  }

  @Test
  void idleConnectionWithoutRequestHeadIsClosedAtTheDeadline() {
    channel(TestPolicies.standard());
    channel.writeInbound(Unpooled.copiedBuffer("GET http://allowed.test/ HTTP/1.1\r\n", StandardCharsets.US_ASCII));
    channel.advanceTimeBy(Duration.ofSeconds(31).toMillis(), TimeUnit.MILLISECONDS);
    channel.runScheduledPendingTasks();
    assertThat(channel.isOpen()).isFalse();
  }
}
