package dev.egressd.policy;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Which allow rule a destination matches: label boundaries, apex handling, ports and specificity. */
class RuleMatchingTest {

  @ParameterizedTest(name = "{0}: [{1}] x {2} -> {3}")
  @CsvSource(delimiter = '|', value = {
      // *.suffix: any depth, never the apex, label-aligned
      "subdomain                      | *.openai.com          | api.openai.com:443           | *.openai.com",
      "deeper subdomain               | *.openai.com          | a.b.openai.com:443           | *.openai.com",
      "apex is not a subdomain        | *.openai.com          | openai.com:443               | none",
      "suffix confusion               | *.openai.com          | evilopenai.com:443           | none",
      "suffix confusion with label    | *.openai.com          | api.evilopenai.com:443       | none",
      "rule host as a prefix          | *.openai.com          | api.openai.com.evil.test:443 | none",
      "case and trailing dot          | *.openai.com          | API.OpenAI.COM.:443          | *.openai.com",
      "parent is not matched          | *.openai.com          | com:443                      | none",
      // **.suffix: apex too
      "apex of **                     | **.openai.com         | openai.com:443               | **.openai.com",
      "subdomain of **                | **.openai.com         | api.openai.com:443           | **.openai.com",
      "deep subdomain of **           | **.openai.com         | a.b.openai.com:443           | **.openai.com",
      "suffix confusion of **         | **.openai.com         | evilopenai.com:443           | none",
      "rule host as prefix of **      | **.openai.com         | openai.com.evil.test:443     | none",
      // exact
      "exact                          | example.com           | example.com:443              | example.com",
      "exact is not a suffix          | example.com           | www.example.com:443          | none",
      "exact is not a prefix          | example.com           | example.com.evil.test:443    | none",
      "IDN rule matches punycode      | b\u00fccher.example   | xn--bcher-kva.example:443    | xn--bcher-kva.example",
      "homograph is another host      | apple.com             | \u0430pple.com:443           | none",
      "localhost rule                 | localhost             | LOCALHOST.:8080              | localhost",
      // ports
      "port-scoped on its port        | example.com:443       | example.com:443              | example.com:443",
      "port-scoped on another port    | example.com:443       | example.com:80               | none",
      "port-scoped wildcard           | *.example.com:443     | a.example.com:443            | *.example.com:443",
      "port-scoped wildcard elsewhere | *.example.com:443     | a.example.com:8443           | none",
      "port-scoped IP                 | 10.0.0.1:22           | 10.0.0.1:23                  | none",
      "port-scoped CIDR               | 10.0.0.0/8:5432       | 10.9.9.9:5432                | 10.0.0.0/8:5432",
      "port-scoped star               | *:443                 | anything.test:80             | none",
      // specificity
      "exact beats wildcard           | *.example.com;api.example.com     | api.example.com:443  | api.example.com",
      "exact beats apex wildcard      | **.example.com;example.com        | example.com:443      | example.com",
      "deeper wildcard wins           | **.example.com;*.api.example.com  | x.api.example.com:1  | *.api.example.com",
      "deeper apex wildcard wins      | *.example.com;**.api.example.com  | api.example.com:1    | **.api.example.com",
      "wildcard beats star            | *;*.example.com                   | a.example.com:443    | *.example.com",
      "star catches the rest          | *;*.example.com                   | other.test:443       | *",
      "scoped beats unscoped exact    | example.com;example.com:443       | example.com:443      | example.com:443",
      "unscoped on other ports        | example.com;example.com:443       | example.com:80       | example.com",
      "scoped beats unscoped *.       | *.example.com;*.example.com:443   | a.example.com:443    | *.example.com:443",
      "scoped ** beats unscoped *.    | *.example.com;**.example.com:443  | a.example.com:443    | **.example.com:443",
      "scoped *. beats unscoped **    | **.example.com;*.example.com:443  | a.example.com:443    | *.example.com:443",
      "unscoped when scope differs    | **.example.com;*.example.com:443  | a.example.com:80     | **.example.com",
      "scoped star beats star         | *;*:443                           | x.test:443           | *:443",
      // IP and CIDR
      "exact IP                       | 10.0.0.1                          | 10.0.0.1:443         | 10.0.0.1",
      "IP spelled differently         | 10.0.0.1                          | 0xa000001:443        | 10.0.0.1",
      "IP rule ignores other IPs      | 10.0.0.1                          | 10.0.0.2:443         | none",
      "longest CIDR wins              | 10.0.0.0/8;10.1.0.0/16            | 10.1.2.3:443         | 10.1.0.0/16",
      "shorter CIDR for the rest      | 10.0.0.0/8;10.1.0.0/16            | 10.2.0.1:443         | 10.0.0.0/8",
      "exact IP beats CIDR            | 10.0.0.0/8;10.1.2.3               | 10.1.2.3:443         | 10.1.2.3",
      "scoped CIDR beats unscoped     | 10.0.0.0/8;10.0.0.0/8:5432        | 10.0.0.1:5432        | 10.0.0.0/8:5432",
      "CIDR edge inside               | 172.16.0.0/12                     | 172.31.255.255:1     | 172.16.0.0/12",
      "CIDR edge outside              | 172.16.0.0/12                     | 172.32.0.0:1         | none",
      "IPv6 CIDR                      | fd00::/8                          | [fd00:ec2::254]:80   | fd00::/8",
      "IPv6 exact                     | ::1                               | [0::1]:80            | ::1",
      "mapped target, IPv4 rule       | 10.1.2.3                          | [::ffff:10.1.2.3]:80 | 10.1.2.3",
      "mapped target, IPv4 CIDR       | 10.0.0.0/8                        | [::ffff:a01:203]:80  | 10.0.0.0/8",
      "IPv4 target, mapped rule       | ::ffff:10.1.2.3                   | 10.1.2.3:80          | ::ffff:10.1.2.3",
      "IPv4 target, mapped CIDR       | ::ffff:10.0.0.0/104               | 10.1.2.3:80          | ::ffff:10.0.0.0/104",
      "mapped CIDR edge outside       | ::ffff:10.0.0.0/104               | 11.0.0.0:80          | none",
      "IPv4 CIDR ignores IPv6         | 0.0.0.0/0                         | [2001:db8::1]:80     | none",
      "IPv6 CIDR ignores IPv4         | 2000::/3                          | 8.8.8.8:80           | none",
      "name rule ignores IPs          | example.com;*.example.com         | 93.184.216.34:80     | none",
      "IP rule ignores names          | 10.0.0.0/8;10.0.0.1               | ten.example:80       | none",
      // * matches everything
      "star matches names             | *                                 | example.com:443      | *",
      "star matches IPv4 literals     | *                                 | 127.0.0.1:80         | *",
      "star matches IPv6 literals     | *                                 | [::1]:80             | *",
      "star matches localhost         | *                                 | localhost:80         | *",
      "IP rules beat star             | *;10.0.0.0/8                      | 10.0.0.1:80          | 10.0.0.0/8",
  })
  void findsTheMostSpecificAllowRule(String description, String rules, String target, String expected) {
    NetworkPolicy.Builder builder = NetworkPolicy.builder();
    Arrays.stream(rules.split(";")).forEach(r -> builder.addRule(Rule.allow(r, "test")));
    NetworkPolicy policy = builder.build();
    Destination destination = Destination.parseAuthority(target);

    Rule match = policy.matchAllow(destination.host(), destination.port());

    assertThat(match == null ? "none" : match.pattern().canonical()).isEqualTo(expected);
    assertThat(policy.matchDeny(destination.host(), destination.port())).isNull();
  }

  @ParameterizedTest(name = "{0}: deny [{1}] x {2} -> {3}")
  @CsvSource(delimiter = '|', value = {
      "deny name                     | *.example.com     | a.example.com:443            | *.example.com",
      "deny mapped target            | 10.0.0.0/8        | [::ffff:10.0.0.1]:80         | 10.0.0.0/8",
      "deny compatible target        | 10.0.0.0/8        | [::10.0.0.1]:80              | 10.0.0.0/8",
      "deny NAT64 target             | 10.0.0.0/8        | [64:ff9b::a00:1]:80          | 10.0.0.0/8",
      "deny NAT64 public target      | 8.8.8.8           | [64:ff9b::808:808]:53        | 8.8.8.8",
      "deny 6to4 target              | 10.0.0.0/8        | [2002:a00:1::1]:80           | 10.0.0.0/8",
      "deny Teredo target            | 10.0.0.0/8        | [2001:0:4136:e378:8000:63bf:f5ff:fffe]:80 | 10.0.0.0/8",
      "IPv6 deny beats embedded      | 10.0.0.0/8;64:ff9b::/96 | [64:ff9b::a00:1]:80    | 64:ff9b::/96",
      "deny misses public NAT64      | 10.0.0.0/8        | [64:ff9b::808:808]:80        | none",
  })
  void denyRulesAlsoMatchTheIpv4AddressAnIpv6TargetEmbeds(String description, String rules, String target,
      String expected) {
    NetworkPolicy.Builder builder = NetworkPolicy.builder();
    Arrays.stream(rules.split(";")).forEach(r -> builder.addRule(Rule.deny(r, "test")));
    NetworkPolicy policy = builder.build();
    Destination destination = Destination.parseAuthority(target);
    IpAddress address = destination.host().ip().orElse(null);

    Rule byHost = policy.matchDeny(destination.host(), destination.port());

    assertThat(byHost == null ? "none" : byHost.pattern().canonical()).isEqualTo(expected);
    if (address != null) {
      Rule byAddress = policy.matchDenyAddress(address, destination.port());
      assertThat(byAddress == null ? "none" : byAddress.pattern().canonical()).isEqualTo(expected);
    }
  }
}
