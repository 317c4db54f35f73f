package dev.egressd.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.egressd.config.ConfigException;
import dev.egressd.config.ConfigLoader;
import dev.egressd.config.DaemonConfig;
import dev.egressd.policy.AccessRequest;
import dev.egressd.policy.Decision;
import dev.egressd.policy.Destination;
import dev.egressd.policy.HostAddresses;
import dev.egressd.policy.PolicyEngine;
import dev.egressd.policy.Protocol;
import dev.egressd.policy.Reason;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * Hot reload never leaves the daemon weaker than a restart with the same file would, reports restart-only settings
 * against what is actually running, and misses no change made while the daemon was starting.
 */
@Timeout(60)
class PolicyReloaderSafetyTest {
  private static final String LIMITED_MITM = """
      [network]
      mode = "limited"
      mitm = true
      allowed_domains = ["a.test"]
      """;
  private static final String ALLOW_A = "[network]\nallowed_domains = [\"a.test\"]\n";
  private static final String ALLOW_B = "[network]\nallowed_domains = [\"b.test\"]\n";
  private static final String WITHOUT_UDP = "enable_socks5_udp = false\n";
  /** Longer than the watch's settle time (250 ms), so an event in the directory has been acted on by then. */
  private static final Duration QUIET = Duration.ofSeconds(1);

  @TempDir
  Path directory;

  private final ListAppender<ILoggingEvent> logs = new ListAppender<>();
  private final Logger logger = (Logger) LoggerFactory.getLogger(PolicyReloader.class);
  private PolicyReloader reloader;

  @BeforeEach
  void captureLogs() {
    logs.start();
    logger.addAppender(logs);
  }

  @AfterEach
  void tearDown() {
    logger.detachAppender(logs);
    if (reloader != null) {
      reloader.close();
    }
  }

  private static DaemonConfig parse(String toml) throws ConfigException {
    return ConfigLoader.parse(toml, "test.toml", null);
  }

  private static AccessRequest connect(String host) {
    return AccessRequest.of(Destination.parseAuthority(host + ":443"), Protocol.HTTPS_CONNECT, null, "127.0.0.1:1");
  }

  private Decision decide(String host) {
    return reloader.engine().get().decide(connect(host));
  }

  private List<String> warnings() {
    return logs.list.stream().filter(e -> e.getLevel() == Level.WARN).map(ILoggingEvent::getFormattedMessage)
        .toList();
  }

  private static boolean eventually(BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        return false;
      }
      TimeUnit.MILLISECONDS.sleep(20);
    }
    return true;
  }

  @Test
  void reloadTurningMitmOffNeverLetsALimitedTunnelThroughUninspected() throws Exception {
    String withoutMitm = LIMITED_MITM.replace("mitm = true", "mitm = false");
    reloader = new PolicyReloader(() -> parse(withoutMitm), parse(LIMITED_MITM), true, HostAddresses.NONE);
    PolicyEngine before = reloader.engine().get();
    assertThat(before.decide(connect("a.test")).allowed()).isTrue();
    assertThat(before.intercepts(connect("a.test"))).as("limited tunnels are inspected").isTrue();

    assertThat(reloader.reload("test")).isTrue();

    PolicyEngine after = reloader.engine().get();
    Decision decision = after.decide(connect("a.test"));
    assertThat(decision.allowed() && !after.intercepts(connect("a.test")))
        .as("a limited-mode tunnel allowed but relayed blind: %s", decision).isFalse();
    assertThat(decision.reason()).as("what a restart with this file decides")
        .isEqualTo(new PolicyEngine(parse(withoutMitm).policy(), false).decide(connect("a.test")).reason())
        .isEqualTo(Reason.MITM_REQUIRED);
    assertThat(warnings()).anyMatch(w -> w.contains("TLS interception") && w.contains("restart egressd"));
  }

  @Test
  void restartWarningComparesWithTheRunningSettingsNotTheLastFile() throws Exception {
    AtomicReference<String> file = new AtomicReference<>(ALLOW_A + WITHOUT_UDP);
    reloader = new PolicyReloader(() -> parse(file.get()), parse(ALLOW_A), false, HostAddresses.NONE);

    reloader.reload("first");
    file.set(ALLOW_B + WITHOUT_UDP);
    reloader.reload("second");
    file.set(ALLOW_A);
    reloader.reload("third");

    assertThat(warnings()).filteredOn(w -> w.contains("listeners changed")).as("%s", warnings())
        .hasSize(2)
        .anyMatch(w -> w.startsWith("reload (first)"))
        .anyMatch(w -> w.startsWith("reload (second)"), "UDP is still on in the running listener");
  }

  @Test
  void rejectionIsLoggedAtErrorWithFileLineAndColumn() throws Exception {
    reloader = new PolicyReloader(() -> parse("[network]\nmode = \"sometimes\"\n"), parse(ALLOW_A), false, HostAddresses.NONE);

    assertThat(reloader.reload("SIGHUP")).isFalse();

    assertThat(logs.list).filteredOn(e -> e.getLevel() == Level.ERROR).singleElement()
        .extracting(ILoggingEvent::getFormattedMessage).asString()
        .startsWith("reload (SIGHUP) rejected; the running policy stays:")
        .containsPattern("test\\.toml:2:\\d+");
    assertThat(decide("a.test").allowed()).isTrue();
  }

  @Test
  void successIsLoggedWithRuleCountModeAndSwitch() throws Exception {
    reloader = new PolicyReloader(() -> parse(ALLOW_B), parse(ALLOW_A), false, HostAddresses.NONE);

    reloader.reload("SIGHUP");

    assertThat(logs.list).filteredOn(e -> e.getLevel() == Level.INFO).map(ILoggingEvent::getFormattedMessage)
        .anyMatch(m -> m.startsWith("reload (SIGHUP): policy from ")
            && m.endsWith(": 1 rules, mode full, enabled true"));
  }

  @Test
  void switchingToReportModeIsAWarningAndBackToEnforcingIsSaid() throws Exception {
    String reported = ALLOW_A.replace("[network]\n", "[network]\nenforcement = \"report\"\n");
    AtomicReference<String> next = new AtomicReference<>(reported);
    reloader = new PolicyReloader(() -> parse(next.get()), parse(ALLOW_A), false, HostAddresses.NONE);

    reloader.reload("SIGHUP");
    assertThat(logs.list).filteredOn(e -> e.getLevel() == Level.WARN).map(ILoggingEvent::getFormattedMessage)
        .anyMatch(m -> m.startsWith("reload (SIGHUP): REPORT MODE: the policy is NOT enforced from now on"));
    assertThat(reloader.engine().get().enforce(decide("b.test")).reported()).as("refused, let through").isTrue();
    logs.list.clear();

    reloader.reload("SIGHUP");
    assertThat(logs.list).map(ILoggingEvent::getFormattedMessage).noneMatch(m -> m.contains("REPORT MODE"));
    next.set(ALLOW_A);
    reloader.reload("SIGHUP");
    assertThat(logs.list).map(ILoggingEvent::getFormattedMessage)
        .contains("reload (SIGHUP): the policy is enforced again (report mode is off)");
    assertThat(reloader.engine().get().enforce(decide("b.test")).allowed()).isFalse();
  }

  @Test
  void changeMadeBeforeTheWatchStartsIsPickedUp() throws Exception {
    Path file = Files.writeString(directory.resolve("egressd.toml"), ALLOW_A);
    reloader = new PolicyReloader(() -> ConfigLoader.load(file, null), ConfigLoader.load(file, null), false, HostAddresses.NONE);

    Files.writeString(file, ALLOW_B);
    reloader.watch(file);

    assertThat(eventually(() -> decide("b.test").allowed())).as("a save that raised no event for the watch")
        .isTrue();
  }

  @Test
  void eventForAnotherFileAloneDoesNotReload() throws Exception {
    Path file = Files.writeString(directory.resolve("egressd.toml"), ALLOW_A);
    AtomicInteger loads = new AtomicInteger();
    reloader = new PolicyReloader(() -> {
      loads.incrementAndGet();
      return ConfigLoader.load(file, null);
    }, ConfigLoader.load(file, null), false, HostAddresses.NONE);
    reloader.watch(file);

    Files.writeString(directory.resolve("unrelated.log"), "noise");
    Files.setLastModifiedTime(file, Files.getLastModifiedTime(file));
    TimeUnit.MILLISECONDS.sleep(QUIET.toMillis());

    assertThat(loads.get()).as("loads after events with the same content").isZero();
    Files.writeString(file, ALLOW_B);
    assertThat(eventually(() -> loads.get() == 1)).as("the watch is alive: a real change loads").isTrue();
  }
}
