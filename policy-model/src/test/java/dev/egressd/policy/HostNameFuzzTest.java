package dev.egressd.policy;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.util.List;
import java.util.Optional;

/**
 * Fuzzes host canonicalisation ({@link HostName#parse}, {@link IpAddress#parse}) and feeds every host that parses
 * to {@link PolicyEngine#decide}. Seeds and past findings: {@code HostNameFuzzTestInputs/}; see docs/fuzzing.md.
 */
class HostNameFuzzTest {
  private static final List<PolicyEngine> ENGINES = List.of(
      new PolicyEngine(Policies.policy("+**.example.com -evil.example.com +*.test +10.0.0.0/8:5432 +::1 -fd00::/8"
          + " +127.0.0.1 +localhost"), false),
      new PolicyEngine(Policies.policy("+* -*:25 -169.254.169.254 -**.internal limited mitm"), true),
      new PolicyEngine(Policies.policy("+* local"), false),
      new PolicyEngine(Policies.policy("+example.com off"), false));

  @FuzzTest(maxDuration = "15s")
  @DictionaryEntries({"xn--", "0x", "::", "::ffff:", "[", "]", "%", ".localhost", "\u3002", "\uff0e", "127.", "0177"})
  void parsedHostsAreCanonical(byte[] input) {
    for (String text : FuzzInputs.texts(input)) {
      checkIpAddress(text);
      checkHostName(text).ifPresent(HostNameFuzzTest::decideNeverThrows);
    }
  }

  private static void checkIpAddress(String text) {
    Optional<IpAddress> parsed = IpAddress.parse(text);
    parsed.ifPresent(address -> {
      String canonical = address.toString();
      assertThat(IpAddress.parse(canonical)).as("re-parse of %s", canonical).contains(address);
      assertThat(canonical).matches("[0-9a-f.:]+");
      assertThat(address.bytes()).hasSize(address.isIpv4() ? 4 : 16);
    });
  }

  /** Only {@link InvalidHostException} may escape; a parsed host is canonical and a fixed point of parse. */
  private static Optional<HostName> checkHostName(String text) {
    HostName host;
    try {
      host = HostName.parse(text);
    } catch (InvalidHostException e) {
      assertThat(e.getMessage()).startsWith("invalid host \"");
      return Optional.empty();
    }
    String value = host.value();
    assertThat(HostName.parse(value)).as("re-parse of %s", value).isEqualTo(host);
    assertThat(HostName.parse(host.authorityForm())).as("re-parse of %s", host.authorityForm()).isEqualTo(host);
    assertThat(value).as("canonical form of %s", text).isNotEmpty().doesNotEndWith(".").isLowerCase()
        .matches("[\\x21-\\x7e]+");
    if (host.isIpLiteral()) {
      IpAddress ip = host.ip().orElseThrow();
      assertThat(value).isEqualTo(ip.toString());
      assertThat(IpAddress.parse(value)).contains(ip);
      assertThat(host.isLocalhost()).isFalse();
    } else {
      assertThat(value).matches("[a-z0-9_-]+(\\.[a-z0-9_-]+)*").hasSizeLessThanOrEqualTo(253);
      assertThat(IpAddress.parse(value)).as("a name is never an address: %s", value).isEmpty();
    }
    return Optional.of(host);
  }

  private static void decideNeverThrows(HostName host) {
    int port = 1 + Math.floorMod(host.hashCode(), 65535);
    for (PolicyEngine engine : ENGINES) {
      for (Protocol protocol : Protocol.values()) {
        for (int p : new int[] {port, 443}) {
          boolean upgrade = p == 443; // both ways through limited mode's upgrade check
          AccessRequest request = new AccessRequest(new Destination(host, p), protocol,
              protocol == Protocol.HTTP || protocol == Protocol.HTTPS ? "POST" : null, upgrade, "127.0.0.1:1");
          Decision decision = engine.decide(request);
          assertThat(decision.hint()).isNotNull();
          if (decision.allowed()) {
            engine.literalAddresses(host).ifPresent(addresses -> engine.vet(request, decision, addresses));
          } else {
            assertThat(decision.reason()).isNotEqualTo(Reason.ALLOW);
          }
        }
      }
    }
  }
}
