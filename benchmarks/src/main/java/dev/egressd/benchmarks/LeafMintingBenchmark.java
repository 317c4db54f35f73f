package dev.egressd.benchmarks;

import dev.egressd.policy.HostName;
import dev.egressd.proxy.mitm.CertificateAuthority;
import dev.egressd.proxy.mitm.LeafMinter;
import dev.egressd.proxy.mitm.TlsImplementation;
import io.netty.handler.ssl.SslContext;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
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
 * What a tunnel's leaf certificate costs: egressd's cached leaves with one shared key pair (a hit, and a miss for a
 * new host) against the reference's behaviour, a fresh key pair and certificate for every tunnel.
 *
 * <p>Run: {@code mvn -B -Pbenchmarks -pl benchmarks -am package -DskipTests && java -jar
 * benchmarks/target/benchmarks.jar LeafMinting}. Compare the {@code mode} rows; the ratio fresh/missShared is
 * the saving per new host, fresh/hitShared per repeat tunnel.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class LeafMintingBenchmark {
  /** hitShared: cached leaf; missShared: new host, shared key; fresh: new key pair and leaf per tunnel. */
  @Param({"hitShared", "missShared", "fresh"})
  public String mode;

  /** The TLS implementation of the server contexts. */
  @Param({"OPENSSL", "JDK"})
  public TlsImplementation tls;

  private CertificateAuthority ca;
  private LeafMinter minter;
  private long counter;
  private final HostName repeated = HostName.parse("api.example.com");

  /** Creates a throwaway CA. */
  @Setup
  public void setUp() throws Exception {
    Path dir = Files.createTempDirectory("egressd-bench");
    ca = CertificateAuthority.loadOrCreate(dir.resolve("ca.pem"), dir.resolve("ca.key"), Clock.systemUTC());
    minter = new LeafMinter(ca, Clock.systemUTC(), 1_000_000, tls);
    minter.serverContext(repeated);
  }

  /** One tunnel's server context. */
  @Benchmark
  public SslContext leafForTunnel() {
    return switch (mode) {
      case "hitShared" -> minter.serverContext(repeated);
      case "missShared" -> minter.serverContext(HostName.parse("h" + counter++ + ".example.com"));
      default -> new LeafMinter(ca, Clock.systemUTC(), 1, tls).serverContext(repeated); // new key pair each time
    };
  }
}
