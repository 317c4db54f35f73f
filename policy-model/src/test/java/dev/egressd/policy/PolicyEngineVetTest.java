package dev.egressd.policy;

import static dev.egressd.policy.Policies.ip;
import static dev.egressd.policy.Policies.policy;
import static dev.egressd.policy.Policies.request;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class PolicyEngineVetTest {

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      // all public
      "one public answer                   | +example.com                 | example.com:443 | 93.184.216.34                      | ALLOW             | example.com     | ''",
      "several public answers              | +example.com                 | example.com:443 | 8.8.8.8,1.1.1.1,2606:4700::1111    | ALLOW             | example.com     | ''",
      "public NAT64 answer                 | +*                           | v6only.test:443 | 64:ff9b::808:808                   | ALLOW             | *               | ''",
      // any private answer refuses the whole host
      "one private answer                  | +example.com                 | example.com:443 | 10.0.0.5                           | NOT_ALLOWED_LOCAL | example.com     | example.com resolved to 10.0.0.5, which is not a public address (private); allow that address with an IP or CIDR rule or set allow_local_binding = true in profile \"test\".",
      "private among public answers        | +example.com                 | example.com:443 | 8.8.8.8,10.0.0.5,1.1.1.1           | NOT_ALLOWED_LOCAL | example.com     | resolved to 10.0.0.5,",
      "first offending answer is named     | +*                           | a.test:443      | 8.8.8.8,127.0.0.1,10.0.0.5         | NOT_ALLOWED_LOCAL | *               | resolved to 127.0.0.1, which is not a public address (loopback)",
      "metadata answer                     | +*                           | md.test:80      | 169.254.169.254                    | NOT_ALLOWED_LOCAL | *               | (link-local)",
      "IPv6 metadata answer                | +*                           | md.test:80      | fd00:ec2::254                      | NOT_ALLOWED_LOCAL | *               | (unique-local)",
      "Azure WireServer answer             | +*                           | wire.test:80    | 168.63.129.16                      | NOT_ALLOWED_LOCAL | *               | (cloud metadata)",
      "fake-IP DNS answer                  | +*                           | a.test:443      | 198.18.0.7                         | NOT_ALLOWED_LOCAL | *               | (benchmarking)",
      "mapped loopback answer              | +*                           | a.test:443      | ::ffff:127.0.0.1                   | NOT_ALLOWED_LOCAL | *               | resolved to ::ffff:127.0.0.1, which is not a public address (loopback)",
      "NAT64 private answer                | +*                           | a.test:443      | 64:ff9b::a00:1                     | NOT_ALLOWED_LOCAL | *               | (private)",
      "exact name rule does not unlock     | +internal.corp               | internal.corp:80 | 10.0.0.5                          | NOT_ALLOWED_LOCAL | internal.corp   | (private)",
      // explicit IP/CIDR allow rules unlock answers
      "answer covered by allow CIDR        | +example.com +10.0.0.0/8     | example.com:443 | 10.0.0.5                           | ALLOW             | example.com     | ''",
      "answers all covered                 | +example.com +10.0.0.0/8 +127.0.0.1 | example.com:443 | 10.0.0.5,127.0.0.1,8.8.8.8  | ALLOW             | example.com     | ''",
      "one answer not covered              | +example.com +10.0.0.0/8     | example.com:443 | 10.0.0.5,192.168.1.1               | NOT_ALLOWED_LOCAL | example.com     | resolved to 192.168.1.1,",
      "answer covered by exact IP          | +example.com +10.0.0.5       | example.com:443 | 10.0.0.5                           | ALLOW             | example.com     | ''",
      "mapped answer covered by IPv4 CIDR  | +example.com +10.0.0.0/8     | example.com:443 | ::ffff:10.0.0.5                    | ALLOW             | example.com     | ''",
      "port-scoped CIDR on its port        | +example.com +10.0.0.0/8:5432 | example.com:5432 | 10.0.0.5                        | ALLOW             | example.com     | ''",
      "port-scoped CIDR on another port    | +example.com +10.0.0.0/8:5432 | example.com:443 | 10.0.0.5                         | NOT_ALLOWED_LOCAL | example.com     | (private)",
      "star does not unlock answers        | +* +*.example.com            | a.example.com:443 | 10.0.0.5                         | NOT_ALLOWED_LOCAL | *.example.com   | (private)",
      // deny IP/CIDR rules apply to answers
      "answer in deny CIDR                 | +example.com -10.0.0.0/8     | example.com:443 | 10.0.0.5                           | DENIED            | 10.0.0.0/8      | example.com resolved to 10.0.0.5, which rule \"10.0.0.0/8\" (deny-origin) denies.",
      "public answer in deny CIDR          | +example.com -8.8.8.0/24     | example.com:443 | 1.1.1.1,8.8.8.8                    | DENIED            | 8.8.8.0/24      | resolved to 8.8.8.8, which rule",
      "answer equals deny IP               | +example.com -8.8.8.8        | example.com:443 | 8.8.8.8                            | DENIED            | 8.8.8.8         | resolved to 8.8.8.8,",
      "deny beats allow CIDR               | +example.com +10.0.0.0/8 -10.0.0.5 | example.com:443 | 10.0.0.5                     | DENIED            | 10.0.0.5        | resolved to 10.0.0.5,",
      "mapped answer in deny CIDR          | +example.com -10.0.0.0/8 local | example.com:443 | ::ffff:10.0.0.5                  | DENIED            | 10.0.0.0/8      | resolved to ::ffff:10.0.0.5,",
      "NAT64 answer in deny CIDR           | +example.com -10.0.0.0/8 local | example.com:443 | 64:ff9b::a00:5                   | DENIED            | 10.0.0.0/8      | resolved to 64:ff9b::a00:5,",
      "deny port-scoped on another port    | +example.com -8.8.8.8:53     | example.com:443 | 8.8.8.8                            | ALLOW             | example.com     | ''",
      // allow_local_binding
      "local binding skips private check   | +example.com local           | example.com:443 | 10.0.0.5,127.0.0.1                 | ALLOW             | example.com     | ''",
      "local binding keeps deny CIDR       | +example.com -10.0.0.0/8 local | example.com:443 | 127.0.0.1,10.0.0.5               | DENIED            | 10.0.0.0/8      | resolved to 10.0.0.5,",
  })
  void vetsEveryAnswerOfAResolvedName(String description, String spec, String target, String answers,
      Reason reason, String rule, String hint) {
    PolicyEngine engine = new PolicyEngine(policy(spec), false);
    AccessRequest request = request(Protocol.HTTPS_CONNECT, null, target);
    Decision allowed = engine.decide(request);
    assertThat(allowed.allowed()).as("decide() before DNS").isTrue();
    assertThat(engine.literalAddresses(request.destination().host())).as("a name needs DNS").isEmpty();

    Decision vetted = engine.vet(request, allowed, addresses(answers));

    PolicyEngineDecideTest.assertDecision(vetted, reason, PolicySource.BASELINE_POLICY, rule, hint);
    if (reason == Reason.ALLOW) {
      assertThat(vetted).isSameAs(allowed);
    }
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "exact IPv4 rule                | +127.0.0.1                   | 127.0.0.1:80       | ALLOW             | 127.0.0.1",
      "exact rule, mapped literal     | +127.0.0.1                   | [::ffff:127.0.0.1]:80 | ALLOW          | 127.0.0.1",
      "CIDR rule                      | +10.0.0.0/8                  | 10.1.2.3:80        | ALLOW             | 10.0.0.0/8",
      "exact IPv6 rule                | +::1                         | [::1]:80           | ALLOW             | ::1",
      "localhost rule                 | +localhost                   | localhost:80       | ALLOW             | localhost",
      "sub.localhost rule             | +app.localhost               | app.localhost:80   | ALLOW             | app.localhost",
      "public literal under star      | +*                           | 8.8.8.8:53         | ALLOW             | *",
      "localhost rule, deny loopback  | +localhost -127.0.0.0/8      | localhost:80       | DENIED            | 127.0.0.0/8",
      "localhost rule, deny ::1       | +localhost -::1              | localhost:80       | DENIED            | ::1",
      "local binding, localhost       | +* local                     | localhost:80       | ALLOW             | *",
      "local binding, private literal | +* local                     | 10.1.2.3:80        | ALLOW             | *",
  })
  void vetsTheAddressesOfLiteralsAndLocalhost(String description, String spec, String target, Reason reason,
      String rule) {
    PolicyEngine engine = new PolicyEngine(policy(spec), false);
    AccessRequest request = request(Protocol.HTTP, "GET", target);
    Decision allowed = engine.decide(request);
    assertThat(allowed.allowed()).as("decide()").isTrue();

    Decision vetted = engine.vet(request, allowed, engine.literalAddresses(request.destination().host()).orElseThrow());

    assertThat(vetted.reason()).isEqualTo(reason);
    assertThat(vetted.rule().map(r -> r.pattern().canonical())).contains(rule);
  }

  @ParameterizedTest(name = "{0} dials {1}")
  @CsvSource(delimiter = '|', value = {
      "127.0.0.1           | 127.0.0.1",
      "0x7f.1              | 127.0.0.1",
      "[::1]               | ::1",
      "[::ffff:127.0.0.1]  | ::ffff:127.0.0.1",
      "8.8.8.8             | 8.8.8.8",
      "localhost           | 127.0.0.1,::1",
      "LocalHost.          | 127.0.0.1,::1",
      "app.localhost       | 127.0.0.1,::1",
      "example.com         | ''",
      "localhost.localdomain | ''",
  })
  void literalAddressesNeedNoLookup(String host, String expected) {
    PolicyEngine engine = new PolicyEngine(policy(""), false);

    List<IpAddress> addresses = engine.literalAddresses(HostName.parse(host)).orElse(List.of());

    assertThat(addresses).isEqualTo(addresses(expected));
  }

  @Test
  void vetRefusesADenialOrNoAddresses() {
    PolicyEngine engine = new PolicyEngine(policy("+example.com"), false);
    AccessRequest request = request(Protocol.HTTP, "GET", "other.test:80");
    Decision denied = engine.decide(request);
    Decision allowed = engine.decide(request(Protocol.HTTP, "GET", "example.com:80"));

    assertThatThrownBy(() -> engine.vet(request, denied, List.of(ip("8.8.8.8"))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("allowed: ");
    assertThatThrownBy(() -> engine.vet(request, allowed, List.of()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("addresses: [] (expected: at least one address)");
  }

  @Test
  void engineExposesItsPolicy() {
    NetworkPolicy policy = policy("+*");

    assertThat(new PolicyEngine(policy, false).policy()).isSameAs(policy);
  }

  private static List<IpAddress> addresses(String csv) {
    if (csv.isEmpty()) {
      return List.of();
    }
    return Arrays.stream(csv.split(",")).map(Policies::ip).collect(Collectors.toList());
  }
}
