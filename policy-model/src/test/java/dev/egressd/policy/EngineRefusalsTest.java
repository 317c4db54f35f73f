package dev.egressd.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * The refusals that do not come from host rules are engine decisions too: the proxy loop, a host other than the
 * tunnel's, Unix-socket proxying, and what an intercepted tunnel may carry when its client does not speak TLS.
 */
class EngineRefusalsTest {
  private static final IpAddress LOOPBACK = IpAddress.parse("127.0.0.1").orElseThrow();

  private static PolicyEngine engine(AccessMode mode, boolean interception) {
    NetworkPolicy policy = NetworkPolicy.builder().mode(mode).mitm(true).scope("test policy")
        .addRule(Rule.allow("127.0.0.1", "test"))
        .addRule(Rule.allow("*", "test"))
        .addInterceptedHost(HostPattern.parse("inspect.test"), "test")
        .build();
    return new PolicyEngine(policy, interception);
  }

  private static AccessRequest connect(String host, int port) {
    return new AccessRequest(new Destination(HostName.parse(host), port), Protocol.HTTPS_CONNECT, "CONNECT", false,
        "[::1]:5555", 9);
  }

  @Test
  void addressOfAProxyListenerIsAProxyLoop() {
    PolicyEngine engine = engine(AccessMode.FULL, false);
    AccessRequest request = connect("127.0.0.1", 3128);
    Decision allowed = engine.decide(request);
    ProxyListeners listeners = (address, port) -> address.equals(LOOPBACK) && port == 3128;

    Decision vetted = engine.vet(request, allowed, List.of(LOOPBACK), listeners);

    assertThat(vetted.reason()).isEqualTo(Reason.PROXY_LOOP);
    assertThat(vetted.source()).isEqualTo(PolicySource.PROXY_STATE);
    assertThat(vetted.message()).contains("127.0.0.1:3128 is egressd's own listener.");
    assertThat(engine.vet(connect("127.0.0.1", 3129), allowed, List.of(LOOPBACK), listeners).allowed()).isTrue();
  }

  @Test
  void rulesRefuseBeforeTheLoopCheck() {
    PolicyEngine engine = engine(AccessMode.FULL, false);
    AccessRequest request = connect("public.test", 3128);
    IpAddress metadata = IpAddress.parse("169.254.169.254").orElseThrow();

    Decision vetted = engine.vet(request, engine.decide(request), List.of(metadata), (address, port) -> true);

    assertThat(vetted.reason()).isEqualTo(Reason.NOT_ALLOWED_LOCAL);
  }

  @Test
  void hostMismatchAndUnixSocketsAreDenialsWithTheirReasons() {
    PolicyEngine engine = engine(AccessMode.FULL, false);

    Decision mismatch = engine.hostMismatch("TLS server name a.test is not the tunnel's host b.test.");
    Decision unix = engine.unixSocketUnsupported();

    assertThat(mismatch.allowed()).isFalse();
    assertThat(mismatch.reason()).isEqualTo(Reason.HOST_MISMATCH);
    assertThat(mismatch.source()).isEqualTo(PolicySource.BASELINE_POLICY);
    assertThat(mismatch.hint()).isEqualTo("TLS server name a.test is not the tunnel's host b.test.");
    assertThat(unix.reason()).isEqualTo(Reason.UNIX_SOCKET_UNSUPPORTED);
    assertThat(unix.source()).isEqualTo(PolicySource.PROXY_STATE);
  }

  @Test
  void limitedModeTunnelsAreInterceptedAndRefuseOpaqueBytes() {
    TunnelTerms terms = engine(AccessMode.LIMITED, true).tunnelTerms(connect("plain.test", 443));

    assertThat(terms.intercept()).isTrue();
    assertThat(terms.opaqueAllowed()).isFalse();
    assertThat(terms.opaqueRefusal()).hasValueSatisfying(refusal -> {
      assertThat(refusal.reason()).isEqualTo(Reason.OPAQUE_TUNNEL);
      assertThat(refusal.source()).isEqualTo(PolicySource.MODE_GUARD);
    });
  }

  @Test
  void fullModeInterceptsListedHostsAndRelaysTheirOpaqueBytes() {
    PolicyEngine engine = engine(AccessMode.FULL, true);

    assertThat(engine.tunnelTerms(connect("inspect.test", 443))).isEqualTo(new TunnelTerms(true, Optional.empty()));
    assertThat(engine.tunnelTerms(connect("plain.test", 443))).isEqualTo(TunnelTerms.BLIND);
  }

  @Test
  void withoutInterceptionEveryTunnelIsBlind() {
    assertThat(engine(AccessMode.FULL, false).tunnelTerms(connect("inspect.test", 443))).isEqualTo(TunnelTerms.BLIND);
  }

  @Test
  void termsRefuseARefusalWithoutInterceptionOrAnAllowAsRefusal() {
    Decision refusal = Decision.deny(Reason.OPAQUE_TUNNEL, PolicySource.MODE_GUARD, null, "");
    Decision allow = Decision.allow(Rule.allow("*", "test"));

    assertThatThrownBy(() -> new TunnelTerms(false, Optional.of(refusal)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("expected: a denial, on an intercepted");
    assertThatThrownBy(() -> new TunnelTerms(true, Optional.of(allow)))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void innerRequestsKeepTheClientAndConnection() {
    AccessRequest tunnel = connect("inspect.test", 443);

    AccessRequest inner = tunnel.inner(tunnel.destination(), Protocol.HTTPS, "GET", false);

    assertThat(inner.client()).isEqualTo("[::1]:5555");
    assertThat(inner.connectionId()).isEqualTo(9);
    assertThat(inner.protocol()).isEqualTo(Protocol.HTTPS);
    assertThatThrownBy(() -> new AccessRequest(tunnel.destination(), Protocol.HTTPS, "GET", false, "c", -1))
        .isInstanceOf(IllegalArgumentException.class).hasMessage("connectionId: -1 (expected: 0 or more)");
  }
}
