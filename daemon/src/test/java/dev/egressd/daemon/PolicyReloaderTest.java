package dev.egressd.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.egressd.config.ConfigException;
import dev.egressd.config.ConfigLoader;
import dev.egressd.config.DaemonConfig;
import dev.egressd.policy.AccessRequest;
import dev.egressd.policy.Decision;
import dev.egressd.policy.Destination;
import dev.egressd.policy.HostAddresses;
import dev.egressd.policy.Protocol;
import dev.egressd.policy.Reason;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Hot reload: a valid config swaps the policy, anything else keeps the running one. */
@Timeout(60)
class PolicyReloaderTest {
  private static final String ALLOW_A = "[network]\nallowed_domains = [\"a.test\"]\n";
  private static final String ALLOW_B = "[network]\nallowed_domains = [\"b.test\"]\n";

  @TempDir
  Path directory;

  private PolicyReloader reloader;

  @AfterEach
  void tearDown() {
    if (reloader != null) {
      reloader.close();
    }
  }

  private static DaemonConfig parse(String toml) throws ConfigException {
    return ConfigLoader.parse(toml, "test.toml", null);
  }

  private Decision decide(String host) {
    return reloader.engine().get().decide(AccessRequest.of(Destination.parseAuthority(host + ":443"),
        Protocol.HTTPS_CONNECT, null, "127.0.0.1:1"));
  }

  private static boolean eventually(BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        return false;
      }
      Thread.sleep(20);
    }
    return true;
  }

  @Test
  void validReloadSwapsThePolicyForTheNextDecision() throws Exception {
    reloader = new PolicyReloader(() -> parse(ALLOW_B), parse(ALLOW_A), false, HostAddresses.NONE);
    assertThat(decide("a.test").allowed()).isTrue();

    assertThat(reloader.reload("test")).isTrue();

    assertThat(decide("a.test").reason()).isEqualTo(Reason.NOT_ALLOWED);
    assertThat(decide("b.test").allowed()).isTrue();
  }

  @Test
  void invalidConfigIsRejectedAndTheRunningPolicyStays() throws Exception {
    reloader = new PolicyReloader(() -> parse("[network]\nallowed_domains = [\n"), parse(ALLOW_A), false, HostAddresses.NONE);

    assertThat(reloader.reload("test")).isFalse();

    assertThat(decide("a.test").allowed()).isTrue();
  }

  @Test
  void loaderFailureOtherThanAConfigErrorAlsoKeepsThePolicy() throws Exception {
    reloader = new PolicyReloader(() -> {
      throw new IllegalStateException("disk on fire");
    }, parse(ALLOW_A), false, HostAddresses.NONE);

    assertThat(reloader.reload("test")).isFalse();

    assertThat(decide("a.test").allowed()).isTrue();
  }

  @Test
  void reloadToADisabledProxyDeniesEverything() throws Exception {
    reloader = new PolicyReloader(() -> parse("[network]\nenabled = false\nallowed_domains = [\"a.test\"]\n"),
        parse(ALLOW_A), false, HostAddresses.NONE);

    assertThat(reloader.reload("test")).isTrue();

    assertThat(decide("a.test").reason()).isEqualTo(Reason.PROXY_DISABLED);
  }

  @Test
  void fileRewriteIsPickedUpByTheWatch() throws Exception {
    Path file = directory.resolve("egressd.toml");
    Files.writeString(file, ALLOW_A);
    reloader = new PolicyReloader(() -> ConfigLoader.load(file, null), ConfigLoader.load(file, null), false, HostAddresses.NONE);
    reloader.watch(file);

    Files.writeString(file, ALLOW_B);

    assertThat(eventually(() -> decide("b.test").allowed())).as("b.test allowed after the rewrite").isTrue();
    assertThat(decide("a.test").allowed()).isFalse();
  }

  @Test
  void atomicRenameOverTheFileIsPickedUpByTheWatch() throws Exception {
    Path file = directory.resolve("egressd.toml");
    Files.writeString(file, ALLOW_A);
    reloader = new PolicyReloader(() -> ConfigLoader.load(file, null), ConfigLoader.load(file, null), false, HostAddresses.NONE);
    reloader.watch(file);

    Path staged = Files.writeString(directory.resolve(".egressd.toml.tmp"), ALLOW_B);
    Files.move(staged, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);

    assertThat(eventually(() -> decide("b.test").allowed())).as("b.test allowed after the rename").isTrue();
  }

  @Test
  void otherFilesChangingInTheDirectoryDoNotReload() throws Exception {
    Path file = directory.resolve("egressd.toml");
    Files.writeString(file, ALLOW_A);
    AtomicInteger loads = new AtomicInteger();
    reloader = new PolicyReloader(() -> {
      loads.incrementAndGet();
      return ConfigLoader.load(file, null);
    }, ConfigLoader.load(file, null), false, HostAddresses.NONE);
    reloader.watch(file);

    Files.writeString(directory.resolve("unrelated.log"), "noise");
    Files.writeString(directory.resolve("unrelated.log"), "more noise");
    // A real change afterwards proves the watch ran through the noise events first. It is written the way editors
    // save (a complete file renamed into place): a plain rewrite truncates first, and a noise event that wakes the
    // watch in between would see an empty file, a second (correct, but uncountable) load.
    Path staged = Files.writeString(directory.resolve("egressd.toml.new"), ALLOW_B);
    Files.move(staged, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);

    assertThat(eventually(() -> decide("b.test").allowed())).isTrue();
    assertThat(loads.get()).as("loads: only the real change").isEqualTo(1);
  }

  @Test
  void rejectedFileIsNotRetriedUntilItChangesAgain() throws Exception {
    Path file = directory.resolve("egressd.toml");
    Files.writeString(file, ALLOW_A);
    AtomicInteger loads = new AtomicInteger();
    reloader = new PolicyReloader(() -> {
      try {
        return ConfigLoader.load(file, null);
      } finally {
        loads.incrementAndGet(); // counted once read: the next write below must not be what this load sees
      }
    }, ConfigLoader.load(file, null), false, HostAddresses.NONE);
    reloader.watch(file);

    Files.writeString(file, "[network]\nallowed_domains = [\n");
    assertThat(eventually(() -> loads.get() == 1)).isTrue();
    Files.writeString(directory.resolve("unrelated.log"), "noise");
    Files.writeString(file, ALLOW_B);

    assertThat(eventually(() -> decide("b.test").allowed())).isTrue();
    assertThat(loads.get()).as("the broken file once, the fixed file once").isEqualTo(2);
  }

  @Test
  void missingDirectoryCannotBeWatched() throws Exception {
    reloader = new PolicyReloader(() -> parse(ALLOW_A), parse(ALLOW_A), false, HostAddresses.NONE);

    assertThatThrownBy(
        () -> reloader.watch(directory.resolve("gone").resolve("egressd.toml"))).isInstanceOf(IOException.class);
  }
}
