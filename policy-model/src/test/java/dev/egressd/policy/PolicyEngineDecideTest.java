package dev.egressd.policy;

import static dev.egressd.policy.Policies.policy;
import static dev.egressd.policy.Policies.request;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class PolicyEngineDecideTest {
  private static final String LIMITED = "mode = \"limited\" in profile \"test\" ";
  private static final String LOCAL_HINT = "%s is not a public address (%s); allow it with an exact rule (\"%s\") or"
      + " set allow_local_binding = true in profile \"test\".";

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', nullValues = "null", value = {
      // proxy state
      "disabled refuses everything       | off +*                 | HTTP | GET  | example.com:80     | PROXY_DISABLED     | PROXY_STATE     | none          | Set enabled = true in profile \"test\".",
      "disabled wins over deny           | off -example.com       | HTTP | GET  | example.com:80     | PROXY_DISABLED     | PROXY_STATE     | none          | Set enabled = true in profile \"test\".",
      // deny list
      "deny wins over exact allow        | +example.com -example.com | HTTP | GET | example.com:80   | DENIED             | BASELINE_POLICY | example.com   | Rule \"example.com\" (deny-origin) denies example.com.",
      "deny wildcard over exact allow    | +api.example.com -*.example.com | HTTP | GET | api.example.com:80 | DENIED | BASELINE_POLICY | *.example.com | Rule \"*.example.com\" (deny-origin) denies api.example.com.",
      "deny quotes the rule as written   | +* -Example.COM.       | HTTP | GET  | example.com:80     | DENIED             | BASELINE_POLICY | example.com   | Rule \"Example.COM.\" (deny-origin) denies example.com.",
      "deny IPv6 literal                 | +* -::1 local          | HTTP | GET  | [::1]:80           | DENIED             | BASELINE_POLICY | ::1           | Rule \"::1\" (deny-origin) denies [::1].",
      "deny CIDR vs mapped literal       | +* -10.0.0.0/8 local   | HTTP | GET  | [::ffff:10.0.0.1]:80 | DENIED           | BASELINE_POLICY | 10.0.0.0/8    | denies [::ffff:10.0.0.1].",
      "deny CIDR vs NAT64 literal        | +* -10.0.0.0/8 local   | HTTP | GET  | [64:ff9b::a00:1]:80 | DENIED            | BASELINE_POLICY | 10.0.0.0/8    | denies [64:ff9b::a00:1].",
      "deny port-scoped on its port      | +* -example.com:25     | HTTP | GET  | example.com:25     | DENIED             | BASELINE_POLICY | example.com:25 | denies example.com.",
      "deny port-scoped on other port    | +* -example.com:25     | HTTP | GET  | example.com:443    | ALLOW              | BASELINE_POLICY | *             | ''",
      "deny before limited mode          | +* -example.com limited | HTTP | POST | example.com:80    | DENIED             | BASELINE_POLICY | example.com   | denies example.com.",
      // allow list
      "unknown host                      | +example.com           | HTTP | GET  | other.test:80      | NOT_ALLOWED        | BASELINE_POLICY | none          | Add \"other.test\" to allowed_domains in profile \"test\".",
      "empty allow list                  | ''                     | HTTP | GET  | example.com:80     | NOT_ALLOWED        | BASELINE_POLICY | none          | Add \"example.com\" to allowed_domains in profile \"test\".",
      "apex not covered by *.            | +*.example.com         | HTTP | GET  | example.com:80     | NOT_ALLOWED        | BASELINE_POLICY | none          | Add \"example.com\"",
      "suffix confusion                  | +*.openai.com          | HTTPS_CONNECT | null | evilopenai.com:443 | NOT_ALLOWED | BASELINE_POLICY | none          | Add \"evilopenai.com\"",
      "unknown IP literal                | +example.com           | HTTP | GET  | 8.8.8.8:80         | NOT_ALLOWED        | BASELINE_POLICY | none          | Add \"8.8.8.8\"",
      "not allowed before local check    | +example.com           | HTTP | GET  | 127.0.0.1:80       | NOT_ALLOWED        | BASELINE_POLICY | none          | Add \"127.0.0.1\"",
      "not allowed before limited mode   | +example.com limited   | HTTP | POST | other.test:80      | NOT_ALLOWED        | BASELINE_POLICY | none          | Add \"other.test\"",
      "allowed name                      | +example.com           | HTTP | GET  | example.com:80     | ALLOW              | BASELINE_POLICY | example.com   | ''",
      "allowed by star                   | +*                     | HTTPS_CONNECT | null | example.com:443 | ALLOW         | BASELINE_POLICY | *             | ''",
      "public IP under star              | +*                     | HTTP | GET  | 8.8.8.8:80         | ALLOW              | BASELINE_POLICY | *             | ''",
      "name that may resolve locally     | +*                     | HTTP | GET  | internal.corp:80   | ALLOW              | BASELINE_POLICY | *             | ''",
      // local literals under * or wildcards
      "loopback IPv4 under star          | +*                     | HTTP | GET  | 127.0.0.1:80       | NOT_ALLOWED_LOCAL  | BASELINE_POLICY | *             | 127.0.0.1%loopback%127.0.0.1",
      "loopback short spelling           | +*                     | HTTP | GET  | 127.1:80           | NOT_ALLOWED_LOCAL  | BASELINE_POLICY | *             | 127.0.0.1%loopback%127.0.0.1",
      "loopback hex spelling             | +*                     | HTTP | GET  | 0x7f000001:80      | NOT_ALLOWED_LOCAL  | BASELINE_POLICY | *             | 127.0.0.1%loopback%127.0.0.1",
      "loopback IPv6 under star          | +*                     | HTTP | GET  | [::1]:80           | NOT_ALLOWED_LOCAL  | BASELINE_POLICY | *             | [::1]%loopback%::1",
      "localhost under star              | +*                     | HTTP | GET  | localhost:80       | NOT_ALLOWED_LOCAL  | BASELINE_POLICY | *             | localhost%loopback%localhost",
      "LOCALHOST. under star             | +*                     | HTTP | GET  | LOCALHOST.:80      | NOT_ALLOWED_LOCAL  | BASELINE_POLICY | *             | localhost%loopback%localhost",
      "sub.localhost under star          | +*                     | HTTP | GET  | app.localhost:80   | NOT_ALLOWED_LOCAL  | BASELINE_POLICY | *             | app.localhost%loopback%app.localhost",
      "private under star                | +*                     | HTTP | GET  | 10.1.2.3:80        | NOT_ALLOWED_LOCAL  | BASELINE_POLICY | *             | 10.1.2.3%private%10.1.2.3",
      "metadata under star               | +*                     | HTTP | GET  | 169.254.169.254:80 | NOT_ALLOWED_LOCAL  | BASELINE_POLICY | *             | 169.254.169.254%link-local%169.254.169.254",
      "CGNAT metadata under star         | +*                     | HTTP | GET  | 100.100.100.200:80 | NOT_ALLOWED_LOCAL  | BASELINE_POLICY | *             | 100.100.100.200%shared address space%100.100.100.200",
      "AWS IPv6 metadata under star      | +*                     | HTTP | GET  | [fd00:ec2::254]:80 | NOT_ALLOWED_LOCAL  | BASELINE_POLICY | *             | [fd00:ec2::254]%unique-local%fd00:ec2::254",
      "unspecified under star            | +*                     | HTTP | GET  | 0.0.0.0:80         | NOT_ALLOWED_LOCAL  | BASELINE_POLICY | *             | 0.0.0.0%unspecified%0.0.0.0",
      "mapped loopback under star        | +*                     | HTTP | GET  | [::ffff:127.0.0.1]:80 | NOT_ALLOWED_LOCAL | BASELINE_POLICY | *            | [::ffff:127.0.0.1]%loopback%::ffff:127.0.0.1",
      "NAT64 loopback under star         | +*                     | HTTP | GET  | [64:ff9b::7f00:1]:80 | NOT_ALLOWED_LOCAL | BASELINE_POLICY | *             | [64:ff9b::7f00:1]%loopback%64:ff9b::7f00:1",
      "6to4 private under star           | +*                     | HTTP | GET  | [2002:a00:1::]:80  | NOT_ALLOWED_LOCAL  | BASELINE_POLICY | *             | is not a public address (private);",
      "localhost under apex wildcard     | +**.localhost          | HTTP | GET  | localhost:80       | NOT_ALLOWED_LOCAL  | BASELINE_POLICY | **.localhost  | localhost is not a public address (loopback);",
      "sub.localhost under wildcard      | +*.localhost           | HTTP | GET  | app.localhost:80   | NOT_ALLOWED_LOCAL  | BASELINE_POLICY | *.localhost   | app.localhost is not a public address (loopback);",
      "self-connection to the listener   | +*                     | HTTP | GET  | 127.0.0.1:3128     | NOT_ALLOWED_LOCAL  | BASELINE_POLICY | *             | 127.0.0.1%loopback%127.0.0.1",
      "local check before limited mode   | +* limited             | HTTP | POST | 127.0.0.1:80       | NOT_ALLOWED_LOCAL  | BASELINE_POLICY | *             | 127.0.0.1 is not a public address (loopback);",
      // explicit rules unlock local literals
      "exact IPv4 rule                   | +* +127.0.0.1          | HTTP | GET  | 127.0.0.1:80       | ALLOW              | BASELINE_POLICY | 127.0.0.1     | ''",
      "exact rule, other spelling        | +127.0.0.1             | HTTP | GET  | 127.1:80           | ALLOW              | BASELINE_POLICY | 127.0.0.1     | ''",
      "exact rule for mapped literal     | +127.0.0.1             | HTTP | GET  | [::ffff:127.0.0.1]:80 | ALLOW           | BASELINE_POLICY | 127.0.0.1     | ''",
      "exact IPv6 rule                   | +[::1]                 | HTTP | GET  | [::1]:80           | ALLOW              | BASELINE_POLICY | ::1           | ''",
      "CIDR rule                         | +127.0.0.0/8           | HTTP | GET  | 127.0.0.1:80       | ALLOW              | BASELINE_POLICY | 127.0.0.0/8   | ''",
      "private CIDR rule                 | +10.0.0.0/8            | HTTP | GET  | 10.1.2.3:80        | ALLOW              | BASELINE_POLICY | 10.0.0.0/8    | ''",
      "localhost rule                    | +localhost             | HTTP | GET  | localhost:80       | ALLOW              | BASELINE_POLICY | localhost     | ''",
      "port-scoped exact rule            | +127.0.0.1:8080        | HTTP | GET  | 127.0.0.1:8080     | ALLOW              | BASELINE_POLICY | 127.0.0.1:8080 | ''",
      "port-scoped rule, other port      | +* +127.0.0.1:8080     | HTTP | GET  | 127.0.0.1:9090     | NOT_ALLOWED_LOCAL  | BASELINE_POLICY | *             | 127.0.0.1 is not a public address (loopback);",
      // allow_local_binding
      "local binding: loopback           | +* local               | HTTP | GET  | 127.0.0.1:80       | ALLOW              | BASELINE_POLICY | *             | ''",
      "local binding: localhost          | +* local               | HTTP | GET  | localhost:80       | ALLOW              | BASELINE_POLICY | *             | ''",
      "local binding: private            | +* local               | HTTP | GET  | 10.1.2.3:80        | ALLOW              | BASELINE_POLICY | *             | ''",
      "local binding: metadata           | +* local               | HTTP | GET  | 169.254.169.254:80 | ALLOW              | BASELINE_POLICY | *             | ''",
      "local binding still needs allow   | +example.com local     | HTTP | GET  | 127.0.0.1:80       | NOT_ALLOWED        | BASELINE_POLICY | none          | Add \"127.0.0.1\"",
      // limited mode, plain HTTP and intercepted HTTPS
      "limited GET                       | +* limited             | HTTP | GET     | example.com:80  | ALLOW              | BASELINE_POLICY | *             | ''",
      "limited HEAD                      | +* limited             | HTTP | HEAD    | example.com:80  | ALLOW              | BASELINE_POLICY | *             | ''",
      "limited OPTIONS                   | +* limited             | HTTP | OPTIONS | example.com:80  | ALLOW              | BASELINE_POLICY | *             | ''",
      "limited POST                      | +* limited             | HTTP | POST    | example.com:80  | METHOD_NOT_ALLOWED | MODE_GUARD      | *             | " + LIMITED + "permits only GET, HEAD and OPTIONS.",
      "limited PUT                       | +* limited             | HTTP | PUT     | example.com:80  | METHOD_NOT_ALLOWED | MODE_GUARD      | *             | " + LIMITED + "permits only GET, HEAD and OPTIONS.",
      "limited DELETE                    | +* limited             | HTTP | DELETE  | example.com:80  | METHOD_NOT_ALLOWED | MODE_GUARD      | *             | " + LIMITED + "permits only GET, HEAD and OPTIONS.",
      "limited PATCH                     | +* limited             | HTTP | PATCH   | example.com:80  | METHOD_NOT_ALLOWED | MODE_GUARD      | *             | " + LIMITED + "permits only GET, HEAD and OPTIONS.",
      "limited CONNECT as a method       | +* limited             | HTTP | CONNECT | example.com:80  | METHOD_NOT_ALLOWED | MODE_GUARD      | *             | " + LIMITED + "permits only GET, HEAD and OPTIONS.",
      "limited TRACE                     | +* limited             | HTTP | TRACE   | example.com:80  | METHOD_NOT_ALLOWED | MODE_GUARD      | *             | " + LIMITED + "permits only GET, HEAD and OPTIONS.",
      "limited lower-case get            | +* limited             | HTTP | get     | example.com:80  | METHOD_NOT_ALLOWED | MODE_GUARD      | *             | " + LIMITED + "permits only GET, HEAD and OPTIONS.",
      "limited without a method          | +* limited             | HTTP | null    | example.com:80  | METHOD_NOT_ALLOWED | MODE_GUARD      | *             | " + LIMITED + "permits only GET, HEAD and OPTIONS.",
      "limited intercepted GET           | +* limited             | HTTPS | GET    | example.com:443 | ALLOW              | BASELINE_POLICY | *             | ''",
      "limited intercepted POST          | +* limited             | HTTPS | POST   | example.com:443 | METHOD_NOT_ALLOWED | MODE_GUARD      | *             | " + LIMITED + "permits only GET, HEAD and OPTIONS.",
      // limited mode, tunnels
      "limited CONNECT without MITM      | +* limited             | HTTPS_CONNECT | null | example.com:443 | MITM_REQUIRED | MODE_GUARD      | *             | " + LIMITED + "needs TLS interception to check methods inside tunnels, and it is not available.",
      "limited SOCKS5 port 80            | +* limited             | SOCKS5_TCP | null | example.com:80   | METHOD_NOT_ALLOWED | MODE_GUARD      | *             | " + LIMITED + "permits SOCKS5 only to port 443.",
      "limited SOCKS5 port 443           | +* limited             | SOCKS5_TCP | null | example.com:443  | MITM_REQUIRED      | MODE_GUARD      | *             | " + LIMITED + "needs TLS interception to check methods inside tunnels, and it is not available.",
      "limited SOCKS5 UDP                | +* limited             | SOCKS5_UDP | null | example.com:53   | METHOD_NOT_ALLOWED | MODE_GUARD      | *             | " + LIMITED + "does not permit UDP.",
      // full mode lets every method and protocol through
      "full POST                         | +*                     | HTTP | POST    | example.com:80  | ALLOW              | BASELINE_POLICY | *             | ''",
      "full lower-case method            | +*                     | HTTP | get     | example.com:80  | ALLOW              | BASELINE_POLICY | *             | ''",
      "full SOCKS5 port 22               | +*                     | SOCKS5_TCP | null | example.com:22   | ALLOW              | BASELINE_POLICY | *             | ''",
      "full SOCKS5 UDP                   | +*                     | SOCKS5_UDP | null | example.com:53   | ALLOW              | BASELINE_POLICY | *             | ''",
  })
  void decidesWithReasonSourceRuleAndHint(String description, String spec, Protocol protocol, String method,
      String target, Reason reason, PolicySource source, String rule, String hint) {
    PolicyEngine engine = new PolicyEngine(policy(spec), false);

    Decision decision = engine.decide(request(protocol, method, target));

    assertDecision(decision, reason, source, rule, hint);
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', nullValues = "null", value = {
      "CONNECT with interception          | HTTPS_CONNECT | null | example.com:443 | ALLOW              | BASELINE_POLICY",
      "CONNECT to port 22 with interception | HTTPS_CONNECT | null | example.com:22 | ALLOW             | BASELINE_POLICY",
      "SOCKS5 443 with interception       | SOCKS5_TCP    | null | example.com:443 | ALLOW              | BASELINE_POLICY",
      "SOCKS5 80 with interception        | SOCKS5_TCP    | null | example.com:80  | METHOD_NOT_ALLOWED | MODE_GUARD",
      "SOCKS5 UDP with interception       | SOCKS5_UDP    | null | example.com:53  | METHOD_NOT_ALLOWED | MODE_GUARD",
      "POST with interception             | HTTP          | POST | example.com:80  | METHOD_NOT_ALLOWED | MODE_GUARD",
  })
  void limitedModeTunnelsNeedInterception(String description, Protocol protocol, String method, String target,
      Reason reason, PolicySource source) {
    PolicyEngine engine = new PolicyEngine(policy("+* limited mitm"), true);

    Decision decision = engine.decide(request(protocol, method, target));

    assertThat(decision.reason()).isEqualTo(reason);
    assertThat(decision.source()).isEqualTo(source);
    assertThat(decision.allowed()).isEqualTo(reason == Reason.ALLOW);
  }

  @ParameterizedTest(name = "upgrade in {0} mode -> {1}")
  @CsvSource({"+* limited, METHOD_NOT_ALLOWED", "+*, ALLOW"})
  void limitedModeRefusesProtocolUpgrades(String spec, Reason reason) {
    PolicyEngine engine = new PolicyEngine(policy(spec), false);
    AccessRequest upgrade = new AccessRequest(Destination.parseAuthority("example.com:80"), Protocol.HTTP, "GET",
        true, "127.0.0.1:50000");

    Decision decision = engine.decide(upgrade);

    assertThat(decision.reason()).isEqualTo(reason);
    if (reason != Reason.ALLOW) {
      assertThat(decision.source()).isEqualTo(PolicySource.MODE_GUARD);
      assertThat(decision.hint()).isEqualTo(LIMITED + "does not permit protocol upgrades.");
    }
  }

  @Test
  void messageJoinsTheReasonSentenceAndTheHint() {
    PolicyEngine engine = new PolicyEngine(policy("+example.com"), false);

    Decision denied = engine.decide(request(Protocol.HTTP, "GET", "other.test:80"));
    Decision allowed = engine.decide(request(Protocol.HTTP, "GET", "example.com:80"));

    assertThat(denied.message())
        .isEqualTo("Domain not in allowlist. Add \"other.test\" to allowed_domains in profile \"test\".");
    assertThat(allowed.message()).isEqualTo("Allowed by policy.");
    assertThat(allowed.verdict().label()).isEqualTo("allow");
    assertThat(denied.verdict().label()).isEqualTo("deny");
  }

  static void assertDecision(Decision decision, Reason reason, PolicySource source, String rule, String hint) {
    assertThat(decision.reason()).isEqualTo(reason);
    assertThat(decision.source()).isEqualTo(source);
    assertThat(decision.allowed()).isEqualTo(reason == Reason.ALLOW);
    assertThat(decision.verdict()).isEqualTo(reason == Reason.ALLOW ? Decision.Verdict.ALLOW : Decision.Verdict.DENY);
    assertThat(decision.rule().map(r -> r.pattern().canonical()).orElse("none")).isEqualTo(rule);
    if (hint.isEmpty()) {
      assertThat(decision.hint()).isEmpty();
    } else if (hint.contains("%")) {
      // "<host>%<class>%<rule>": the local-literal hint, which names the exact rule to add.
      assertThat(decision.hint()).isEqualTo(String.format(LOCAL_HINT, (Object[]) hint.split("%")));
    } else if (hint.endsWith(".") && Character.isUpperCase(hint.charAt(0))) {
      assertThat(decision.hint()).isEqualTo(hint);
    } else {
      assertThat(decision.hint()).contains(hint);
    }
  }
}
