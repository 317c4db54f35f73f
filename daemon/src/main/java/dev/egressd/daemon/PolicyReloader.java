package dev.egressd.daemon;

import dev.egressd.config.ConfigException;
import dev.egressd.config.DaemonConfig;
import dev.egressd.embed.LivePolicy;
import dev.egressd.policy.HostAddresses;
import dev.egressd.policy.NetworkPolicy;
import dev.egressd.policy.PolicyEngine;
import java.io.IOException;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Swaps in a new policy when the config file changes (a file watch) or on SIGHUP. The new policy applies to every
 * decision made after the swap; tunnels already open keep running. A config that does not load is rejected with
 * its errors logged, and the running policy stays. Settings that only a restart can apply (listeners, interception,
 * telemetry) are compared and, when they differ, named in a warning.
 */
final class PolicyReloader implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(PolicyReloader.class);
  /** Editors and ConfigMap updates write in several steps; wait for the burst to end. */
  private static final long SETTLE_MILLIS = 250;

  /** Loads the configuration again, with the same command-line overrides. */
  @FunctionalInterface
  interface Loader {
    DaemonConfig load() throws ConfigException;
  }

  private final Loader loader;
  private final LivePolicy live;
  /** The configuration the daemon started with: restart-only settings are compared with it. */
  private final DaemonConfig running;
  /** The file content last acted on; touched only by the watch thread. */
  private byte[] lastSeen;
  private WatchService watcher;
  private Thread watchThread;

  /** Applies the parts of a valid new configuration other than the policy; refuses it by throwing. */
  @FunctionalInterface
  interface Applier {
    /** @throws IllegalArgumentException saying why {@code next} cannot be applied; the running one then stays */
    void check(DaemonConfig next);
  }

  private final Applier applier;

  /** Reloads into a running proxy's {@code live} policy; {@code initial} is the configuration it started with. */
  PolicyReloader(Loader loader, DaemonConfig initial, LivePolicy live) {
    this(loader, initial, live, next -> {});
  }

  /**
   * As {@link #PolicyReloader(Loader, DaemonConfig, LivePolicy)}, with {@code applier} applying (or refusing) the
   * rest of each valid new configuration before its policy is swapped in.
   */
  PolicyReloader(Loader loader, DaemonConfig initial, LivePolicy live, Applier applier) {
    this.loader = Objects.requireNonNull(loader, "loader");
    this.running = Objects.requireNonNull(initial, "initial");
    this.live = Objects.requireNonNull(live, "live");
    this.applier = Objects.requireNonNull(applier, "applier");
    this.lastSeen = read(initial.source());
  }

  /** Reloads into a policy of its own, starting with {@code initial}'s. */
  PolicyReloader(Loader loader, DaemonConfig initial, boolean interceptionRunning, HostAddresses hostAddresses) {
    this(loader, initial, new LivePolicy(initial.policy(), interceptionRunning, hostAddresses));
  }

  /** What the proxy reads once per decision. */
  Supplier<PolicyEngine> engine() {
    return live::engine;
  }

  /**
   * Loads the configuration and, if it is valid, makes its policy the running one.
   *
   * @param trigger why, for the log line
   * @return whether the new policy is in force
   */
  synchronized boolean reload(String trigger) {
    DaemonConfig next;
    try {
      next = loader.load();
    } catch (ConfigException e) {
      log.error("reload ({}) rejected; the running policy stays:\n{}", trigger, e.getMessage());
      return false;
    } catch (RuntimeException e) {
      log.error("reload ({}) failed; the running policy stays: {}", trigger, e.toString());
      return false;
    }
    try {
      applier.check(next);
    } catch (IllegalArgumentException e) {
      log.error("reload ({}) rejected; the running policy stays: {}", trigger, e.getMessage());
      return false;
    }
    List<String> needRestart = new ArrayList<>();
    if (!next.listeners().equals(running.listeners())) {
      needRestart.add("listeners");
    }
    if (next.policy().mitm() != running.policy().mitm() || !next.mitm().equals(running.mitm())) {
      needRestart.add("TLS interception (mitm, CA paths, upstream bundle)");
    }
    if (!next.limits().equals(running.limits())) {
      needRestart.add("[limits]");
    }
    if (!java.util.Objects.equals(next.decider(), running.decider())) {
      needRestart.add("[network.decider]");
    }
    if (!next.telemetry().equals(running.telemetry())) {
      needRestart.add("[otel], [audit] and [admin]");
    }
    if (!needRestart.isEmpty()) {
      log.warn("reload ({}): {} changed; restart egressd to apply; the running ones stay", trigger,
          String.join(", ", needRestart));
    }
    next.warnings().forEach(w -> log.warn("{}", w));
    NetworkPolicy policy = next.policy();
    boolean wasReported = live.current().report();
    live.set(policy);
    if (policy.report() && !wasReported) {
      log.warn("reload ({}): REPORT MODE: the policy is NOT enforced from now on: requests it refuses are let through"
          + " and audited with egressd.would_deny = true", trigger);
    } else if (!policy.report() && wasReported) {
      log.info("reload ({}): the policy is enforced again (report mode is off)", trigger);
    }
    log.info("reload ({}): policy from {}: {} rules, mode {}, enabled {}", trigger, policy.scope(),
        policy.rules().size(), policy.mode().configName(), policy.enabled());
    return true;
  }

  /**
   * Reloads when {@code file} changes. Watches its directory, not the file, so that an editor's rename-over and a
   * Kubernetes ConfigMap's symlink swap are seen too; reloads only when the content really differs.
   */
  void watch(Path file) throws IOException {
    Path absolute = file.toAbsolutePath();
    Path directory = absolute.getParent();
    watcher = FileSystems.getDefault().newWatchService();
    directory.register(watcher, StandardWatchEventKinds.ENTRY_CREATE, StandardWatchEventKinds.ENTRY_MODIFY,
        StandardWatchEventKinds.ENTRY_DELETE);
    watchThread = new Thread(() -> watchLoop(absolute), "egressd-config-watch");
    watchThread.setDaemon(true);
    watchThread.start();
  }

  private void watchLoop(Path file) {
    // A change between the first load and the watch's registration has no event: look once now.
    reloadIfChanged(file);
    try {
      while (true) {
        WatchKey key = watcher.take();
        // Let the burst of events from one save settle, then drop what queued meanwhile.
        TimeUnit.MILLISECONDS.sleep(SETTLE_MILLIS);
        key.pollEvents();
        WatchKey more;
        while ((more = watcher.poll()) != null) {
          more.pollEvents();
          more.reset();
        }
        if (!key.reset()) {
          log.warn("config directory of {} is gone; file watching stopped (SIGHUP still reloads)", file);
          return;
        }
        reloadIfChanged(file);
      }
    } catch (InterruptedException | ClosedWatchServiceException e) {
      // closing
    }
  }

  /** Any change in the directory lands here; only new content, valid or not, is worth a (logged) attempt. */
  private void reloadIfChanged(Path file) {
    byte[] content = read(file);
    if (content != null && !Arrays.equals(content, lastSeen)) {
      lastSeen = content;
      reload("file changed");
    }
  }

  /** Reloads on SIGHUP, where the platform has it. */
  void reloadOnSighup() {
    try {
      sun.misc.Signal.handle(new sun.misc.Signal("HUP"), signal -> {
        Thread reload = new Thread(() -> reload("SIGHUP"), "egressd-reload");
        reload.setDaemon(true);
        reload.start();
      });
    } catch (IllegalArgumentException e) {
      log.info("SIGHUP is not available here; config reload is by file change only");
    }
  }

  private static byte[] read(Path file) {
    if (file == null) {
      return null;
    }
    try {
      return Files.readAllBytes(file);
    } catch (IOException e) {
      return null;
    }
  }

  @Override
  public void close() {
    if (watcher != null) {
      try {
        watcher.close();
      } catch (IOException e) {
        // closing anyway
      }
    }
  }
}
