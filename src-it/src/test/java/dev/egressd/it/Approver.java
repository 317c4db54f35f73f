package dev.egressd.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * A person at another terminal: runs {@code egressd pending}, {@code approve} and {@code deny} as separate processes
 * against a running daemon, through the admin listener and the token in its {@code EGRESSD_HOME}.
 */
final class Approver {
  private final Daemon egressd;

  Approver(Daemon egressd) {
    this.egressd = egressd;
  }

  /** Runs {@code egressd ARGS} with the daemon's {@code EGRESSD_HOME}. */
  ProcessResult cli(String... args) {
    return Egressd.cli(Map.of("EGRESSD_HOME", egressd.egressdHome().toString()), args);
  }

  /** The parsed {@code egressd pending} list. */
  @SuppressWarnings("unchecked")
  List<Map<String, Object>> pending() {
    ProcessResult listed = cli("pending");
    assertThat(listed.exitCode()).as("%s", listed).isZero();
    return (List<Map<String, Object>>) Json.parse(listed.stdout());
  }

  /** Polls {@link #pending()} until {@code until} holds (30 s at most), and returns that list. */
  List<Map<String, Object>> awaitPending(Predicate<List<Map<String, Object>>> until) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    List<Map<String, Object>> now = pending();
    while (!until.test(now) && System.nanoTime() < deadline) {
      Thread.sleep(100);
      now = pending();
    }
    assertThat(until).as("pending list %s", now).accepts(now);
    return now;
  }

  /** Waits for exactly one waiting request and returns it. */
  Map<String, Object> awaitOne() throws InterruptedException {
    return awaitPending(p -> p.size() == 1).get(0);
  }

  static long id(Map<String, Object> entry) {
    return ((Number) entry.get("id")).longValue();
  }
}
