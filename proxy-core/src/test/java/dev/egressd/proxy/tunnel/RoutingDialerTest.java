package dev.egressd.proxy.tunnel;

import static org.assertj.core.api.Assertions.assertThat;

import dev.egressd.audit.ProxyMetrics;
import dev.egressd.policy.AccessRequest;
import dev.egressd.policy.Destination;
import dev.egressd.policy.Protocol;
import dev.egressd.proxy.testing.FakeResolver;
import dev.egressd.proxy.testing.RecordingAuditSink;
import dev.egressd.proxy.testing.TestPolicies;
import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.proxy.ProxyConnectException;
import io.netty.handler.ssl.SslHandshakeTimeoutException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.Test;

/** What a parent's failures tell the client, and which names are left to the parent to resolve. */
class RoutingDialerTest {
  private static final ParentProxy PARENT = new ParentProxy(new InetSocketAddress("127.0.0.1", 3128), "u",
      "pw-never-shown", "http://127.0.0.1:3128 as u (upstream_proxy)");
  private static final AccessRequest CONNECT = request("api.example:443", Protocol.HTTPS_CONNECT, "CONNECT");

  private static AccessRequest request(String authority, Protocol protocol, String method) {
    return AccessRequest.of(Destination.parseAuthority(authority), protocol, method, "127.0.0.1:5000");
  }

  private static ParentProxyException failure(Throwable cause) {
    ParentProxyException failure = RoutingDialer.failure(PARENT, CONNECT, cause);
    assertThat(failure.getMessage()).doesNotContain("pw-never-shown");
    return failure;
  }

  @Test
  void eachKindOfParentFailureHasItsOwnCodeAndSaysWhatHappened() {
    assertThat(failure(new ConnectException("Connection refused"))).satisfies(f -> {
      assertThat(f.failure()).isEqualTo(UpstreamFailure.PARENT_UNREACHABLE);
      assertThat(f.getMessage()).isEqualTo(PARENT + " cannot be reached (ConnectException)");
    });
    assertThat(failure(new ConnectTimeoutException("connection timed out")).failure())
        .isEqualTo(UpstreamFailure.PARENT_TIMEOUT);
    assertThat(failure(new ProxyConnectException("http, basic, /127.0.0.1:3128 => api.example:443, status: 407"
        + " Proxy Authentication Required"))).satisfies(f -> {
          assertThat(f.failure()).isEqualTo(UpstreamFailure.PARENT_AUTH_REQUIRED);
          assertThat(f.getMessage()).isEqualTo(PARENT + " answered 407 Proxy Authentication Required to CONNECT"
              + " api.example:443");
        });
    assertThat(failure(new ProxyConnectException("http, basic, /127.0.0.1:3128 => api.example:443, status: 403"
        + " Forbidden")).failure()).isEqualTo(UpstreamFailure.PARENT_REFUSED);
    assertThat(failure(new ProxyConnectException("http, basic, /127.0.0.1:3128 => api.example:443, timeout"))
        .failure()).isEqualTo(UpstreamFailure.PARENT_TIMEOUT);
    assertThat(failure(new ProxyConnectException("http, basic, /127.0.0.1:3128 => api.example:443, disconnected"))
        .getMessage()).contains("closed the connection before answering the CONNECT to api.example:443");
  }

  @Test
  void tlsToTheParentFailingIsNamedAsSuchAndATlsTimeoutIsATimeout() {
    ParentProxyException untrusted = failure(new io.netty.handler.codec.DecoderException(
        new SSLHandshakeException("PKIX path building failed: unable to find valid certification path\nmore")));
    assertThat(untrusted.failure()).isEqualTo(UpstreamFailure.PARENT_UNREACHABLE);
    assertThat(untrusted.getMessage()).isEqualTo(PARENT + ": TLS to the parent failed (PKIX path building failed:"
        + " unable to find valid certification path)");
    assertThat(failure(new SslHandshakeTimeoutException("handshake timed out after 10000ms")).failure())
        .isEqualTo(UpstreamFailure.PARENT_TIMEOUT);
  }

  @Test
  void onlyNamesRoutedThroughAParentAreLeftToItAndOnlyWhenTheOperatorChoseSo() {
    UpstreamConnector connector = new UpstreamConnector(TestPolicies::standard, new FakeResolver(),
        new RecordingAuditSink(), NioSocketChannel.class, Duration.ofSeconds(1), Duration.ofSeconds(1),
        Clock.systemUTC(), LoopGuard.NONE, ProxyMetrics.NONE);
    RoutingDialer parentResolves = new RoutingDialer(connector,
        () -> new ProxyRoutes(PARENT, null, List.of("corp.example"), true), Duration.ofSeconds(1));
    assertThat(parentResolves.parentResolves(CONNECT)).isTrue();
    assertThat(parentResolves.parentResolves(request("git.corp.example:443", Protocol.HTTPS_CONNECT, "CONNECT")))
        .as("NO_PROXY goes direct, so egressd resolves it").isFalse();
    assertThat(parentResolves.parentResolves(request("192.0.2.7:443", Protocol.HTTPS_CONNECT, "CONNECT")))
        .as("a literal is classified by egressd").isFalse();
    assertThat(parentResolves.parentResolves(request("api.example:80", Protocol.HTTP, "GET")))
        .as("no parent for plain HTTP").isFalse();
    assertThat(parentResolves.parentResolves(request("api.example:53", Protocol.SOCKS5_UDP, null))).isFalse();

    RoutingDialer local = new RoutingDialer(connector, () -> new ProxyRoutes(PARENT, PARENT, List.of()),
        Duration.ofSeconds(1));
    assertThat(local.parentResolves(CONNECT)).isFalse();
    assertThat(new ProxyRoutes(null, null, List.of(), true).parentResolves()).as("no parent, nothing to leave")
        .isFalse();
  }
}
