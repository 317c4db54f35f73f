package dev.egressd.proxy.mitm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.egressd.policy.HostName;
import io.netty.handler.ssl.SslContext;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

class LeafCacheTest {
  private static final HostName A = HostName.parse("a.example");
  private static final HostName B = HostName.parse("b.example");
  private static final HostName C = HostName.parse("c.example");

  @TempDir Path dir;
  private final MutableClock clock = new MutableClock(Instant.parse("2026-03-01T12:00:00Z"));
  private CertificateAuthority ca;

  @BeforeEach
  void createCa() throws CaException {
    ca = CertificateAuthority.loadOrCreate(dir.resolve("ca.pem"), dir.resolve("ca.key"), clock);
  }

  @Test
  void cachedHostGetsTheIdenticalContext() {
    LeafMinter minter = new LeafMinter(ca, clock, 4);

    SslContext first = minter.serverContext(A);

    assertThat(minter.serverContext(A)).isSameAs(first);
    assertThat(minter.serverContext(HostName.parse("A.Example."))).isSameAs(first);
    assertThat(minter.leafCertificate(A)).isSameAs(minter.leafCertificate(A));
    assertThat(minter.cachedHosts()).isEqualTo(1);
  }

  @Test
  void differentHostsGetDifferentContexts() {
    LeafMinter minter = new LeafMinter(ca, clock, 4);

    assertThat(minter.serverContext(A)).isNotSameAs(minter.serverContext(B));
    assertThat(minter.cachedHosts()).isEqualTo(2);
  }

  @Test
  void leastRecentlyUsedHostIsEvictedAtCapacity() {
    LeafMinter minter = new LeafMinter(ca, clock, 2);
    SslContext a = minter.serverContext(A);
    SslContext b = minter.serverContext(B);
    minter.serverContext(A);

    minter.serverContext(C);

    assertThat(minter.cachedHosts()).isEqualTo(2);
    assertThat(minter.serverContext(A)).isSameAs(a);
    assertThat(minter.serverContext(B)).isNotSameAs(b);
  }

  @Test
  void leafIsReusedUntilADayBeforeItExpires() {
    LeafMinter minter = new LeafMinter(ca, clock, 4);
    SslContext first = minter.serverContext(A);

    clock.advance(Duration.ofDays(5).plusHours(22));
    assertThat(minter.serverContext(A)).isSameAs(first);

    clock.advance(Duration.ofHours(2));
    SslContext renewed = minter.serverContext(A);

    assertThat(renewed).isNotSameAs(first);
    assertThat(minter.leafCertificate(A).getNotAfter().toInstant()).isEqualTo(clock.instant().plus(Duration.ofDays(7)));
    assertThat(minter.serverContext(A)).isSameAs(renewed);
  }

  @Test
  void leafCappedByTheCaIsNotMintedAgainOnEveryCall() {
    LeafMinter minter = new LeafMinter(ca, clock, 4);
    clock.set(ca.certificate().getNotAfter().toInstant().minus(Duration.ofHours(12)));

    SslContext first = minter.serverContext(A);

    assertThat(minter.serverContext(A)).isSameAs(first);
  }

  @Test
  @Timeout(30)
  void concurrentCallersForOneHostShareOneContext() throws Exception {
    LeafMinter minter = new LeafMinter(ca, clock, 4);
    int threads = 8;
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      CountDownLatch start = new CountDownLatch(1);
      List<Future<SslContext>> results = new ArrayList<>();
      for (int i = 0; i < threads; i++) {
        results.add(pool.submit(() -> {
          start.await();
          return minter.serverContext(A);
        }));
      }
      start.countDown();

      SslContext cached = minter.serverContext(A);
      for (Future<SslContext> result : results) {
        assertThat(result.get(10, TimeUnit.SECONDS)).isSameAs(cached);
      }
      assertThat(minter.cachedHosts()).isEqualTo(1);
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void cacheSizeMustBePositive() {
    assertThatThrownBy(() -> new LeafMinter(ca, clock, 0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("cacheSize: 0 (expected: > 0)");
  }

  /** A clock the test moves by hand. */
  private static final class MutableClock extends Clock {
    private volatile Instant now;

    MutableClock(Instant now) {
      this.now = now;
    }

    void advance(Duration duration) {
      now = now.plus(duration);
    }

    void set(Instant instant) {
      now = instant;
    }

    @Override
    public Instant instant() {
      return now;
    }

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    /** The same moving instant seen from another zone (the cache never asks; Clock requires it). */
    @Override
    public Clock withZone(ZoneId zone) {
      MutableClock source = this;
      return new Clock() {
        @Override
        public Instant instant() {
          return source.instant();
        }

        @Override
        public ZoneId getZone() {
          return zone;
        }

        @Override
        public Clock withZone(ZoneId other) {
          return source.withZone(other);
        }
      };
    }
  }
}
