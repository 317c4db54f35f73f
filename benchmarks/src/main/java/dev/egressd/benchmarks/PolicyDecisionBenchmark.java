package dev.egressd.benchmarks;

import dev.egressd.policy.AccessRequest;
import dev.egressd.policy.Decision;
import dev.egressd.policy.Destination;
import dev.egressd.policy.HostName;
import dev.egressd.policy.NetworkPolicy;
import dev.egressd.policy.PolicyEngine;
import dev.egressd.policy.Protocol;
import dev.egressd.policy.Rule;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What one policy decision costs at 10, 1 000 and 100 000 host patterns, through the public API the proxy uses
 * ({@link PolicyEngine#decide} on an {@link AccessRequest}). The target is under 1 us at 100 000 patterns and a cost
 * independent of the pattern count; {@code baselineHashLookup} (a {@link HashSet} lookup of the host string) is the
 * floor each decision is compared with in the same run.
 *
 * <p>The rules are a mix of exact names ({@code h17.example.com}), subdomain wildcards ({@code *.svc17.example.net})
 * and apex wildcards ({@code **.api17.example.org}) plus one deny rule. Each benchmark cycles through 1 024
 * different requests so that the lookups are not all served from one cache line:
 * <ul>
 *   <li>{@code decideExact}: allowed by an exact rule;</li>
 *   <li>{@code decideWildcard}: allowed by a wildcard rule, three labels below it;</li>
 *   <li>{@code decideMiss}: matches nothing and is refused (builds the refusal hint);</li>
 *   <li>{@code parseAndDecide}: what a CONNECT costs before any I/O, {@link Destination#parseAuthority} of
 *       {@code host:443} and then the decision.</li>
 * </ul>
 *
 * <p>Run: {@code mvn -B -Pbenchmarks -pl benchmarks -am package -DskipTests && java -jar
 * benchmarks/target/benchmarks.jar PolicyDecision}. {@code bench/run} runs it with shorter settings and prints the
 * ratios (100 000 / 10 patterns, and each decision against the baseline).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class PolicyDecisionBenchmark {
  private static final int REQUESTS = 1024;

  /** Number of host patterns in the policy. */
  @Param({"10", "1000", "100000"})
  public int patterns;

  private PolicyEngine engine;
  private final AccessRequest[] exact = new AccessRequest[REQUESTS];
  private final AccessRequest[] wildcard = new AccessRequest[REQUESTS];
  private final AccessRequest[] miss = new AccessRequest[REQUESTS];
  private final String[] authorities = new String[REQUESTS];
  private final String[] exactHosts = new String[REQUESTS];
  private final Set<String> exactSet = new HashSet<>();
  private int cursor;

  /** Builds the policy and the requests. */
  @Setup
  public void setUp() {
    NetworkPolicy.Builder policy = NetworkPolicy.builder().addRule(Rule.deny("blocked.example.com", "bench"));
    for (int i = 0; i < patterns; i++) {
      String pattern = switch (i % 4) {
        case 0 -> "*.svc" + i + ".example.net";
        case 1 -> "**.api" + i + ".example.org";
        default -> "h" + i + ".example.com";
      };
      policy.addRule(Rule.allow(pattern, "bench"));
      if (i % 4 >= 2) {
        exactSet.add(pattern);
      }
    }
    engine = new PolicyEngine(policy.build(), false);
    for (int r = 0; r < REQUESTS; r++) {
      int i = spread(r);
      int exactIndex = i - i % 4 + 2 + (r & 1); // an index with i % 4 of 2 or 3
      if (exactIndex >= patterns) {
        exactIndex = 2 + (r & 1);
      }
      int wildIndex = i - i % 4;
      exactHosts[r] = "h" + exactIndex + ".example.com";
      exact[r] = request("h" + exactIndex + ".example.com");
      wildcard[r] = request("a" + r + ".b.c.svc" + wildIndex + ".example.net");
      miss[r] = request("x" + r + ".unknown" + i + ".example.com");
      authorities[r] = "h" + exactIndex + ".example.com:443";
      if (!engine.decide(exact[r]).allowed() || !engine.decide(wildcard[r]).allowed()
          || engine.decide(miss[r]).allowed() || !exactSet.contains(exactHosts[r])) {
        throw new IllegalStateException("request " + r + ": the benchmark's policy does not decide as designed");
      }
    }
  }

  private int spread(int r) {
    return (int) ((r * 2654435761L) % patterns);
  }

  private static AccessRequest request(String host) {
    return AccessRequest.of(new Destination(HostName.parse(host), 443), Protocol.HTTPS_CONNECT, "CONNECT",
        "127.0.0.1:40000");
  }

  private int next() {
    return cursor++ & (REQUESTS - 1);
  }

  /** The floor: a hash lookup of the host string. */
  @Benchmark
  public boolean baselineHashLookup() {
    return exactSet.contains(exactHosts[next()]);
  }

  /** A host allowed by an exact rule. */
  @Benchmark
  public Decision decideExact() {
    return engine.decide(exact[next()]);
  }

  /** A host allowed by a wildcard rule three labels up. */
  @Benchmark
  public Decision decideWildcard() {
    return engine.decide(wildcard[next()]);
  }

  /** A host no rule allows: refused with a hint. */
  @Benchmark
  public Decision decideMiss() {
    return engine.decide(miss[next()]);
  }

  /** Parsing a CONNECT authority, then deciding it: the policy work per tunnel. */
  @Benchmark
  public Decision parseAndDecide() {
    Destination destination = Destination.parseAuthority(authorities[next()]);
    return engine.decide(AccessRequest.of(destination, Protocol.HTTPS_CONNECT, "CONNECT", "127.0.0.1:40000"));
  }
}
