package dev.egressd.policy;

import static dev.egressd.policy.Policies.ip;
import static dev.egressd.policy.Policies.policy;
import static dev.egressd.policy.Policies.request;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArraySet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** A public-looking address of one of this host's interfaces is as local as loopback. */
class HostAddressesTest {
  private static final HostAddresses HOST = HostAddresses.of(List.of(ip("203.0.114.7"), ip("2a01:4f8::7")));

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "IPv4 literal                  | 203.0.114.7:8080",
      "IPv6 literal                  | [2a01:4f8::7]:8080",
      "IPv4-mapped spelling          | [::ffff:203.0.114.7]:8080",
      "NAT64 spelling                | [64:ff9b::cb00:7207]:8080",
      "6to4 spelling                 | [2002:cb00:7207::1]:8080",
  })
  void literalOfThisHostIsRefusedUnderStar(String description, String target) {
    PolicyEngine engine = new PolicyEngine(policy("+*"), false, HOST);

    Decision decision = engine.decide(request(Protocol.HTTP, "GET", target));

    assertThat(decision.reason()).isEqualTo(Reason.NOT_ALLOWED_LOCAL);
    assertThat(decision.hint()).contains("is not a public address (an address of this host)");
  }

  @Test
  void nameResolvingToThisHostIsRefusedAtVetting() {
    PolicyEngine engine = new PolicyEngine(policy("+*"), false, HOST);
    AccessRequest request = request(Protocol.HTTPS_CONNECT, null, "rebind.test:443");
    Decision allowed = engine.decide(request);

    Decision vetted = engine.vet(request, allowed, List.of(ip("93.184.216.34"), ip("203.0.114.7")));

    assertThat(allowed.allowed()).isTrue();
    assertThat(vetted.reason()).isEqualTo(Reason.NOT_ALLOWED_LOCAL);
    assertThat(vetted.hint()).isEqualTo("rebind.test resolved to 203.0.114.7, which is not a public address"
        + " (an address of this host); allow that address with an IP or CIDR rule or set allow_local_binding = true"
        + " in profile \"test\".");
  }

  @Test
  void otherPublicAddressesStayPublic() {
    PolicyEngine engine = new PolicyEngine(policy("+*"), false, HOST);
    AccessRequest request = request(Protocol.HTTP, "GET", "203.0.114.8:80");

    Decision decision = engine.decide(request);

    assertThat(decision.allowed()).isTrue();
    assertThat(engine.vet(request, decision, List.of(ip("203.0.114.8"))).allowed()).isTrue();
    assertThat(engine.classify(ip("203.0.114.8"))).isEqualTo(AddressClass.PUBLIC);
  }

  @Test
  void nonPublicClassesKeepTheirOwnLabel() {
    PolicyEngine engine = new PolicyEngine(policy("+*"), false, HostAddresses.of(List.of(ip("10.0.0.5"))));

    assertThat(engine.classify(ip("10.0.0.5"))).isEqualTo(AddressClass.PRIVATE);
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "exact IP rule        | +203.0.114.7",
      "allow_local_binding  | +* local",
  })
  void anAddressOfThisHostCanBeOpened(String description, String spec) {
    PolicyEngine engine = new PolicyEngine(policy(spec), false, HOST);
    AccessRequest request = request(Protocol.HTTP, "GET", "203.0.114.7:80");

    Decision decision = engine.decide(request);

    assertThat(decision.allowed()).isTrue();
    assertThat(engine.vet(request, decision, List.of(ip("203.0.114.7"))).allowed()).isTrue();
  }

  @Test
  void aLiveViewSeesAnInterfaceThatAppearsLater() {
    Set<IpAddress> live = new CopyOnWriteArraySet<>();
    PolicyEngine engine = new PolicyEngine(policy("+*"), false, live::contains);
    AccessRequest request = request(Protocol.HTTP, "GET", "203.0.114.9:80");

    assertThat(engine.decide(request).allowed()).isTrue();
    live.add(ip("203.0.114.9"));
    assertThat(engine.decide(request).reason()).isEqualTo(Reason.NOT_ALLOWED_LOCAL);
  }

  @Test
  void withoutHostAddressesTheClassifierDecides() {
    PolicyEngine engine = new PolicyEngine(policy("+*"), false);

    assertThat(engine.classify(ip("203.0.114.7"))).isEqualTo(AddressClass.PUBLIC);
    assertThat(engine.classify(ip("127.0.0.1"))).isEqualTo(AddressClass.LOOPBACK);
  }
}
