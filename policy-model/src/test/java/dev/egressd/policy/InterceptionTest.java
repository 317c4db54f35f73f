package dev.egressd.policy;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Which tunnels are intercepted: all in limited mode; in full mode mitm_domains minus mitm_bypass. */
class InterceptionTest {
  private static PolicyEngine engine(AccessMode mode, boolean mitm, boolean available) {
    NetworkPolicy policy = NetworkPolicy.builder().mode(mode).mitm(mitm)
        .addRule(Rule.allow("*", "test"))
        .addInterceptedHost(HostPattern.parse("**.inspect.test"), "test")
        .addInterceptionBypass(HostPattern.parse("pinned.inspect.test"), "test")
        .build();
    return new PolicyEngine(policy, available);
  }

  @ParameterizedTest(name = "{0} mitm={1} stage={2} {3} {4}:{5} -> {6}")
  @CsvSource({
      "FULL,    true,  true,  HTTPS_CONNECT, plain.test,          443, false",
      "FULL,    true,  true,  HTTPS_CONNECT, api.inspect.test,    443, true",
      "FULL,    true,  true,  HTTPS_CONNECT, inspect.test,        443, true",
      "FULL,    true,  true,  HTTPS_CONNECT, pinned.inspect.test, 443, false",
      "FULL,    true,  true,  SOCKS5_TCP,    api.inspect.test,    443, true",
      "FULL,    false, true,  HTTPS_CONNECT, api.inspect.test,    443, false",
      "FULL,    true,  false, HTTPS_CONNECT, api.inspect.test,    443, false",
      "LIMITED, true,  true,  HTTPS_CONNECT, plain.test,          443, true",
      "LIMITED, true,  true,  HTTPS_CONNECT, pinned.inspect.test, 443, true",
      "LIMITED, true,  true,  SOCKS5_TCP,    plain.test,          443, true",
      "LIMITED, true,  true,  HTTP,          plain.test,          80,  false",
  })
  void interceptionFollowsModeAndLists(AccessMode mode, boolean mitm, boolean available, Protocol protocol,
      String host, int port, boolean expected) {
    AccessRequest request = AccessRequest.of(new Destination(HostName.parse(host), port), protocol, null, "test");
    assertThat(engine(mode, mitm, available).intercepts(request)).isEqualTo(expected);
  }
}
