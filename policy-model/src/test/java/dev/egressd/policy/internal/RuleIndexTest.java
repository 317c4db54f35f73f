package dev.egressd.policy.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.egressd.policy.HostName;
import dev.egressd.policy.IpAddress;
import dev.egressd.policy.Rule;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class RuleIndexTest {

  @ParameterizedTest(name = "matchIp {0}:{1} -> {2}")
  @CsvSource({
      "10.1.2.3, 443, 10.1.2.3",
      "10.1.2.4, 443, 10.1.0.0/16",
      "10.2.0.1, 443, 10.0.0.0/8",
      "10.2.0.1, 5432, 10.0.0.0/8:5432",
      "::ffff:10.2.0.1, 5432, 10.0.0.0/8:5432",
      "fd00::1, 80, fd00::/8",
      "8.8.8.8, 80, none",
  })
  void matchIpConsidersOnlyIpAndCidrRules(String address, int port, String expected) {
    RuleIndex index = new RuleIndex(List.of(allow("*"), allow("*.example.com"), allow("10.1.2.3"),
        allow("10.0.0.0/8"), allow("10.0.0.0/8:5432"), allow("10.1.0.0/16"), allow("fd00::/8")));

    Rule rule = index.matchIp(IpAddress.parse(address).orElseThrow(), port);

    assertThat(rule == null ? "none" : rule.pattern().canonical()).isEqualTo(expected);
  }

  @Test
  void manyRulesStayExactAndDoNotLeakAcrossSiblings() {
    List<Rule> rules = new ArrayList<>();
    for (int i = 0; i < 10_000; i++) {
      rules.add(allow("host" + i + ".example.com"));
      rules.add(allow("*.zone" + i + ".example.com"));
    }
    RuleIndex index = new RuleIndex(rules);

    assertThat(index.size()).isEqualTo(20_000);
    assertThat(index.match(HostName.parse("host9999.example.com"), 443).pattern().canonical())
        .isEqualTo("host9999.example.com");
    assertThat(index.match(HostName.parse("a.zone42.example.com"), 443).pattern().canonical())
        .isEqualTo("*.zone42.example.com");
    assertThat(index.match(HostName.parse("zone42.example.com"), 443)).isNull();
    assertThat(index.match(HostName.parse("host10000.example.com"), 443)).isNull();
    assertThat(index.match(HostName.parse("example.com"), 443)).isNull();
  }

  private static Rule allow(String pattern) {
    return Rule.allow(pattern, "test");
  }
}
