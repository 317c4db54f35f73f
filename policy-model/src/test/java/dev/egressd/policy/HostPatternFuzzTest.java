package dev.egressd.policy;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.util.Optional;

/**
 * Fuzzes {@link HostPattern#parse}, then checks that a policy built from the pattern decides a host the way the
 * pattern's documented forms say it should. Input: the pattern, optionally a newline and {@code host} or
 * {@code host:port}. Seeds and past findings: {@code HostPatternFuzzTestInputs/}; see docs/fuzzing.md.
 */
class HostPatternFuzzTest {
  private static final int DEFAULT_PORT = 443;

  @FuzzTest(maxDuration = "15s")
  @DictionaryEntries({"*.", "**.", "*", "/", ":443", "[", "]", "::", "://", "\\x0A", "xn--", "::ffff:"})
  void patternsRoundTripAndMatchAsDocumented(byte[] input) {
    for (String text : FuzzInputs.texts(input)) {
      int newline = text.indexOf('\n');
      Optional<HostPattern> pattern = parse(newline < 0 ? text : text.substring(0, newline));
      if (pattern.isPresent() && newline >= 0) {
        destination(text.substring(newline + 1)).ifPresent(d -> checkDecisions(pattern.get(), d));
      }
    }
  }

  /** Only IllegalArgumentException may escape; a parsed pattern's canonical text parses to the same pattern. */
  private static Optional<HostPattern> parse(String text) {
    HostPattern pattern;
    try {
      pattern = HostPattern.parse(text);
    } catch (IllegalArgumentException e) {
      assertThat(e.getMessage()).isNotBlank();
      return Optional.empty();
    }
    assertThat(HostPattern.parse(pattern.text())).isEqualTo(pattern);
    String canonical = pattern.canonical();
    HostPattern again = HostPattern.parse(canonical);
    assertThat(again.canonical()).as("canonical form of %s", text).isEqualTo(canonical);
    assertThat(new HostPattern(again.kind(), again.host(), again.cidr(), again.port(), pattern.text()))
        .as("re-parse of %s", canonical).isEqualTo(pattern);
    return Optional.of(pattern);
  }

  private static Optional<Destination> destination(String text) {
    try {
      return Optional.of(Destination.parseAuthority(text));
    } catch (IllegalArgumentException notAuthority) {
      try {
        return Optional.of(new Destination(HostName.parse(text), DEFAULT_PORT));
      } catch (IllegalArgumentException notHost) {
        return Optional.empty();
      }
    }
  }

  private static void checkDecisions(HostPattern pattern, Destination destination) {
    AccessRequest request = AccessRequest.of(destination, Protocol.HTTPS_CONNECT, "CONNECT", "127.0.0.1:1");
    Optional<Boolean> expected = expectedMatch(pattern, destination.host(), destination.port());
    PolicyEngine allowOnly = new PolicyEngine(NetworkPolicy.builder().allowLocalBinding(true)
        .addRule(new Rule(pattern, Rule.Action.ALLOW, "fuzz")).build(), false);
    boolean allowed = allowOnly.decide(request).allowed();
    expected.ifPresent(matches -> assertThat(allowed).as("%s allows %s", pattern, destination).isEqualTo(matches));
    if (pattern.isGlobal()) {
      return; // refused in deny lists
    }
    PolicyEngine denyOne = new PolicyEngine(NetworkPolicy.builder().allowLocalBinding(true)
        .addRule(new Rule(pattern, Rule.Action.DENY, "fuzz")).addRule(Rule.allow("*", "fuzz")).build(), false);
    boolean denied = denyOne.decide(request).reason() == Reason.DENIED;
    // Deny rules also catch IPv6 literals that embed a denied IPv4 address, so they may match more.
    boolean exact = destination.host().ip().map(IpAddress::isIpv4).orElse(true);
    expected.filter(matches -> matches || exact)
        .ifPresent(matches -> assertThat(denied).as("%s denies %s", pattern, destination).isEqualTo(matches));
  }

  /** The documented semantics, written out plainly; empty where this oracle does not model them. */
  private static Optional<Boolean> expectedMatch(HostPattern pattern, HostName host, int port) {
    if (pattern.port() != 0 && pattern.port() != port) {
      return Optional.of(false);
    }
    String value = host.value();
    Optional<IpAddress> ip = host.ip().map(IpAddress::unmapped);
    return switch (pattern.kind()) {
      case ANY -> Optional.of(true);
      case EXACT -> Optional.of(ip.isEmpty() && value.equals(pattern.host().value()));
      case SUBDOMAINS -> Optional.of(ip.isEmpty() && value.endsWith("." + pattern.host().value()));
      case APEX_AND_SUBDOMAINS -> Optional.of(ip.isEmpty()
          && (value.equals(pattern.host().value()) || value.endsWith("." + pattern.host().value())));
      case IP -> Optional.of(ip.isPresent() && ip.get().equals(pattern.host().ip().orElseThrow().unmapped()));
      case CIDR -> isMappedBlock(pattern.cidr()) ? Optional.empty()
          : Optional.of(ip.isPresent() && pattern.cidr().contains(ip.get()));
    };
  }

  private static boolean isMappedBlock(CidrBlock block) {
    return !block.network().isIpv4() && block.prefixLength() >= 96 && block.network().unmapped().isIpv4();
  }
}
