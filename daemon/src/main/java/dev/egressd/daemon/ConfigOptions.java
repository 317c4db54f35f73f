package dev.egressd.daemon;

import dev.egressd.config.ConfigException;
import dev.egressd.config.ConfigLoader;
import dev.egressd.config.ConfigProblem;
import dev.egressd.config.DaemonConfig;
import dev.egressd.config.ListenerSettings;
import dev.egressd.config.UpstreamSettings;
import dev.egressd.policy.AccessMode;
import dev.egressd.policy.NetworkPolicy;
import dev.egressd.policy.Rule;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Option;

/** Options shared by {@code run} and {@code check}: where the policy comes from, and quick overrides. */
final class ConfigOptions {
  @Option(names = "--config", paramLabel = "FILE",
      description = "Config file (egressd.toml or a Codex config.toml). Default: $EGRESSD_CONFIG, else "
          + "$CODEX_HOME/config.toml (CODEX_HOME defaults to ~/.codex), else built-in defaults (all blocked).")
  Path config;

  @Option(names = "--profile", paramLabel = "NAME",
      description = "Use [permissions.NAME.network] instead of default_permissions.")
  String profile;

  @Option(names = "--allow", paramLabel = "PATTERN", description = "Add an allow rule (repeatable).")
  List<String> allow = new ArrayList<>();

  @Option(names = "--deny", paramLabel = "PATTERN", description = "Add a deny rule (repeatable).")
  List<String> deny = new ArrayList<>();

  @Option(names = "--mode", paramLabel = "MODE", description = "Override the mode: full or limited.")
  String mode;

  @Option(names = "--report", description = "Report mode (enforcement = \"report\"): requests the policy refuses"
      + " are let through and audited with egressd.would_deny = true. Never malformed requests, local addresses or"
      + " egressd itself.")
  boolean report;

  @Option(names = "--listen", paramLabel = "ADDR",
      description = "Override the HTTP listener, e.g. 127.0.0.1:3128 (port 0 picks a free port).")
  String listen;

  @Option(names = "--socks-listen", paramLabel = "ADDR",
      description = "Override the SOCKS5 listener, e.g. 127.0.0.1:8081 (port 0 picks a free port).")
  String socksListen;

  /** Loads the configuration and applies the command-line overrides. */
  DaemonConfig load(Map<String, String> env) throws ConfigException {
    Path file = configFile(env);
    DaemonConfig base;
    if (file != null) {
      base = ConfigLoader.load(file, profile);
    } else if (profile != null) {
      throw problem("command line", "--profile", "needs a config file (--config FILE)");
    } else {
      base = ConfigLoader.defaults();
      List<String> ignored = new ArrayList<>();
      base = base.withUpstream(UpstreamSettings.fromEnvironment(env::get, ignored));
      if (!ignored.isEmpty()) {
        List<String> warnings = new ArrayList<>(base.warnings());
        warnings.addAll(ignored);
        base = base.withWarnings(warnings);
      }
    }
    return applyOverrides(base, file == null && !allow.isEmpty());
  }

  private Path configFile(Map<String, String> env) throws ConfigException {
    if (config != null) {
      if (!Files.isRegularFile(config)) {
        throw problem(config.toString(), "--config", "config file not found");
      }
      return config;
    }
    String fromEnv = env.get("EGRESSD_CONFIG");
    if (fromEnv != null && !fromEnv.isBlank()) {
      Path path = Path.of(fromEnv);
      if (!Files.isRegularFile(path)) {
        throw problem(path.toString(), "EGRESSD_CONFIG", "config file not found");
      }
      return path;
    }
    String codexHome = env.getOrDefault("CODEX_HOME", "");
    Path codexConfig = (codexHome.isBlank() ? Path.of(System.getProperty("user.home"), ".codex")
        : Path.of(codexHome)).resolve("config.toml");
    return Files.isRegularFile(codexConfig) ? codexConfig : null;
  }

  private DaemonConfig applyOverrides(DaemonConfig base, boolean commandLineOnly) throws ConfigException {
    if (allow.isEmpty() && deny.isEmpty() && mode == null && listen == null && socksListen == null && !report) {
      return base;
    }
    List<String> warnings = new ArrayList<>(commandLineOnly ? List.of() : base.warnings());
    NetworkPolicy.Builder builder = base.policy().toBuilder();
    if (commandLineOnly) {
      builder.scope("the command line (--allow)");
    }
    List<String> problems = new ArrayList<>();
    for (String pattern : allow) {
      addRule(builder, pattern, Rule.Action.ALLOW, "--allow", problems);
    }
    for (String pattern : deny) {
      addRule(builder, pattern, Rule.Action.DENY, "--deny", problems);
    }
    if (report) {
      builder.report(true);
    }
    if (mode != null) {
      try {
        builder.mode(AccessMode.fromConfigName(mode));
      } catch (IllegalArgumentException e) {
        problems.add("--mode: " + e.getMessage());
      }
    }
    ListenerSettings listeners = base.listeners();
    if (listen != null) {
      try {
        InetSocketAddress http = ListenerSettings.parseAddress(listen, ListenerSettings.DEFAULT_HTTP_PORT,
            listeners.nonLoopbackAllowed(),
            warnings);
        listeners = listeners.withHttp(http);
      } catch (IllegalArgumentException e) {
        problems.add("--listen: " + e.getMessage());
      }
    }
    if (socksListen != null) {
      try {
        listeners = listeners.withSocks(ListenerSettings.parseAddress(socksListen,
            ListenerSettings.DEFAULT_SOCKS_PORT, listeners.nonLoopbackAllowed(), warnings));
      } catch (IllegalArgumentException e) {
        problems.add("--socks-listen: " + e.getMessage());
      }
    }
    if (!problems.isEmpty()) {
      throw new ConfigException(problems.stream()
          .map(message -> new ConfigProblem("command line", 0, 0, null, message)).toList());
    }
    return base.withPolicy(builder.build()).withListeners(listeners).withWarnings(List.copyOf(warnings));
  }

  private static ConfigException problem(String file, String key, String message) {
    return new ConfigException(List.of(new ConfigProblem(file, 0, 0, key, message)));
  }

  private static void addRule(NetworkPolicy.Builder builder, String pattern, Rule.Action action, String origin,
      List<String> problems) {
    try {
      builder.addRule(action == Rule.Action.ALLOW ? Rule.allow(pattern, origin) : Rule.deny(pattern, origin));
    } catch (IllegalArgumentException e) {
      problems.add(origin + " " + pattern + ": " + e.getMessage());
    }
  }
}
