package dev.egressd.daemon;

import dev.egressd.config.ConfigException;
import dev.egressd.config.DaemonConfig;
import dev.egressd.config.SocksCredentials;
import dev.egressd.config.TelemetrySettings;
import dev.egressd.embed.EgressdProxy;
import dev.egressd.embed.Interception;
import dev.egressd.embed.StartException;
import dev.egressd.policy.Credential;
import dev.egressd.proxy.ProxyOptions;
import dev.egressd.proxy.decider.Approvals;
import dev.egressd.proxy.tunnel.ProxyRoutes;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code egressd run}: serve until SIGTERM/SIGINT, or run a command through the proxy and exit with its status. */
@Command(name = "run", mixinStandardHelpOptions = true,
    description = {"Start the proxy and serve until SIGTERM/SIGINT.",
        "With -- CMD ARGS..., run CMD with HTTP_PROXY/HTTPS_PROXY pointing at the proxy and exit with its status."})
final class RunCommand implements Callable<Integer> {
  private static final Logger log = LoggerFactory.getLogger(RunCommand.class);
  private static final String ISOLATED_HTTP = "http-isolated";
  private static final String ISOLATED_SOCKS5 = "socks5-isolated";

  @Mixin
  ConfigOptions configOptions;

  @Option(names = "--transport", paramLabel = "T", description = "auto (default), epoll or nio.")
  ProxyOptions.TransportChoice transport = ProxyOptions.TransportChoice.AUTO;

  @Option(names = "--shutdown-grace", paramLabel = "SECONDS",
      description = "How long open connections may finish after a stop signal (default: 5).")
  int shutdownGraceSeconds = 5;

  @Option(names = "--approvals", paramLabel = "FILE",
      description = "Keep standing approvals (approve/deny --scope host or host:port) in FILE across restarts"
          + " (0600, written atomically). Needs the admin listener.")
  Path approvalsFile;

  @Option(names = "--audit-file", paramLabel = "PATH",
      description = "Also write one JSON object per decision to PATH (appending; - for standard output).")
  String auditFile;

  @Option(names = "--admin-listen", paramLabel = "ADDR",
      description = "Serve /metrics, /healthz and /readyz on this loopback address (default: off).")
  String adminListen;

  @Option(names = "--log-format", paramLabel = "FORMAT",
      description = "text (default) or json: one JSON object per log line on stderr.")
  LogFormat logFormat = LogFormat.text;

  /** Values of {@code --log-format}; {@link Main#selectLogFormat} applies it before logging starts. */
  enum LogFormat {
    text,
    json
  }

  @Option(names = "--isolate",
      description = {"Linux: run CMD in a new network namespace whose only way out is this proxy, so a program that"
          + " ignores HTTP_PROXY gets no network at all. Needs -- CMD; refuses to run CMD when namespaces are not"
          + " available."})
  boolean isolate;

  @Option(names = "--execution-id", paramLabel = "ID",
      description = {"With -- CMD: the id of this run (1 to 64 of A-Z a-z 0-9 . _ : -; default: a random one,"
          + " printed at start). With --isolate every audit record of CMD's connections carries it as"
          + " execution.id."})
  String executionId;

  @Parameters(paramLabel = "CMD", arity = "0..*", description = "Command to run through the proxy (after --).")
  List<String> command = new ArrayList<>();

  @Override
  public Integer call() throws Exception {
    Map<String, String> env = System.getenv();
    if (isolate && command.isEmpty()) {
      System.err.println("egressd: --isolate needs a command to isolate: egressd run --isolate -- CMD ARGS...");
      return Main.CONFIG_ERROR;
    }
    if (executionId != null && (command.isEmpty() || !dev.egressd.policy.AccessRequest.validExecutionId(executionId))) {
      System.err.println(command.isEmpty() ? "egressd: --execution-id names the run of a command: egressd run"
          + " --execution-id ID -- CMD ARGS..." : "egressd: --execution-id \"" + executionId + "\": expected "
          + dev.egressd.policy.AccessRequest.EXECUTION_ID_FORM);
      return Main.CONFIG_ERROR;
    }
    if (!command.isEmpty() && executionId == null) {
      executionId = "run-" + java.util.HexFormat.of().formatHex(randomBytes());
    }
    if (!command.isEmpty() && "-".equals(auditFile)) {
      System.err.println("egressd: --audit-file -: standard output belongs to " + command.get(0)
          + " with run -- CMD; name a file instead");
      return Main.CONFIG_ERROR;
    }
    DaemonConfig config;
    try {
      config = configOptions.load(env);
    } catch (ConfigException e) {
      System.err.println("egressd: invalid configuration:\n" + e.getMessage());
      return Main.CONFIG_ERROR;
    }
    if (!command.isEmpty()) {
      // Free ports unless something named them, so any number of wrapped commands run at once.
      config = config.withListeners(config.listeners().withFreeDefaultPorts());
    }
    try {
      EgressdProxy.checkStartable(config);
    } catch (StartException e) {
      System.err.println("egressd: " + e.getMessage());
      return Main.CONFIG_ERROR;
    }
    try {
      config = config.withTelemetry(telemetryOverrides(config.telemetry()));
    } catch (IllegalArgumentException e) {
      System.err.println("egressd: --admin-listen: " + e.getMessage());
      return Main.CONFIG_ERROR;
    }
    warnAbout(config, env);
    Isolation isolation = null;
    if (isolate) {
      try {
        isolation = Isolation.prepare(env.get("PATH"));
      } catch (Isolation.UnavailableException e) {
        System.err.println("egressd: --isolate: " + e.getMessage() + ". Not running " + command.get(0)
            + " without isolation.");
        return Main.CONFIG_ERROR;
      }
    }
    LoggingAuditSink logging = new LoggingAuditSink();
    EgressdProxy.Builder builder = EgressdProxy.builder().config(config).auditSink(logging).environment(env)
        .version(Main.Version.version()).transport(transport);
    // Asks wait for a person only where one can answer: through the admin listener, with the token only this
    // user can read. Without it an ask is refused at once, as the reference refuses it.
    AdminAccess adminAccess = AdminAccess.of(env);
    boolean approvals = false;
    if (config.telemetry().adminListen() != null) {
      try {
        Approvals waiting = new Approvals(Clock.systemUTC());
        if (approvalsFile != null) {
          ApprovalsFile kept = new ApprovalsFile(approvalsFile);
          waiting.restore(kept.load());
          waiting.onChange(kept::save);
        }
        builder.approvals(waiting).approvalToken(adminAccess.createToken());
        approvals = true;
      } catch (IOException e) {
        log.warn("cannot write the admin token in {} ({}); asks are refused at once", adminAccess.directory(),
            e.toString());
      } catch (ApprovalsFile.BadFileException e) {
        System.err.println("egressd: --approvals: " + e.getMessage());
        logging.close();
        closeIsolation(isolation);
        return Main.CONFIG_ERROR;
      }
    } else if (approvalsFile != null) {
      System.err.println("egressd: --approvals needs the admin listener ([admin] listen or --admin-listen): without"
          + " it nobody can answer an ask");
      logging.close();
      closeIsolation(isolation);
      return Main.CONFIG_ERROR;
    } else if (config.policy().asks() || config.decider() != null) {
      log.warn("no admin listener ([admin] listen or --admin-listen), so nobody can approve: every ask is refused at"
          + " once");
    }
    if (isolation != null) {
      // Only CMD's namespace reaches these sockets: what arrives on them is CMD's, so it carries the execution id.
      builder.extraHttpListener(ISOLATED_HTTP, isolation.socket(ISOLATED_HTTP), executionId)
          .extraSocksListener(ISOLATED_SOCKS5, isolation.socket(ISOLATED_SOCKS5), executionId);
    }
    EgressdProxy proxy;
    try {
      proxy = builder.start();
    } catch (StartException e) {
      if (approvals) {
        adminAccess.remove();
      }
      logging.close();
      closeIsolation(isolation);
      System.err.println("egressd: " + e.getMessage());
      return Main.CONFIG_ERROR;
    }
    if (approvals) {
      try {
        adminAccess.publish(proxy.adminAddress());
      } catch (IOException e) {
        log.warn("cannot write {} ({}); egressd pending/approve need --admin-url", adminAccess.urlFile(),
            e.toString());
      }
    }
    PolicyReloader reloader = new PolicyReloader(() -> {
      DaemonConfig reloaded = configOptions.load(env);
      return reloaded.withTelemetry(telemetryOverrides(reloaded.telemetry()));
    }, proxy.config(), proxy.policy(), next -> {
      ProxyRoutes routes;
      try {
        routes = EgressdProxy.routesFor(next.upstream());
      } catch (StartException e) {
        throw new IllegalArgumentException(e.getMessage());
      }
      String loop = proxy.loopingParent(routes);
      if (loop != null) {
        throw new IllegalArgumentException(loop);
      }
      proxy.routes(routes); // new connections only; open ones keep their route
    });
    startReloading(reloader, config); // before the announcement: whoever waits for it may edit the file next
    // A wrapped command's standard output is its own, byte for byte: everything egressd says goes to stderr.
    Announcement.print(command.isEmpty() ? System.out : System.err, proxy);
    if (!command.isEmpty()) {
      System.err.println("egressd: execution id " + executionId + (isolation != null ? " (audited as execution.id"
          + " on every connection of " + command.get(0) + ")" : " (audited only with --isolate: without it,"
          + " egressd cannot tell " + command.get(0) + "'s connections from others')"));
    }
    Isolation isolated = isolation;
    boolean removeAdminFiles = approvals;
    Runnable stop = () -> {
      reloader.close();
      proxy.close(Duration.ofSeconds(command.isEmpty() ? shutdownGraceSeconds : 1));
      logging.close(); // after the server: connections it closed still write their tunnel_closed lines
      closeIsolation(isolated);
      if (removeAdminFiles) {
        adminAccess.remove();
      }
      stopLogging();
    };
    return command.isEmpty() ? serveUntilSignalled(stop) : runChild(proxy, stop, isolation, env);
  }


  /**
   * Writes what logback still holds (the async appender's queue, buffered audit lines) before the JVM exits; its
   * threads are daemons, so without this the last lines of a shutdown, "stopping" among them, could be lost.
   */
  private static void stopLogging() {
    if (LoggerFactory.getILoggerFactory() instanceof ch.qos.logback.classic.LoggerContext context) {
      context.stop();
    }
  }

  /** SIGHUP and, when the policy came from a file, a watch on that file, reload the policy. */
  private static void startReloading(PolicyReloader reloader, DaemonConfig config) {
    reloader.reloadOnSighup();
    if (config.source() != null) {
      try {
        reloader.watch(config.source());
      } catch (IOException e) {
        log.warn("cannot watch {} for changes ({}); SIGHUP still reloads", config.source(), e.toString());
      }
    }
  }

  private TelemetrySettings telemetryOverrides(TelemetrySettings settings) {
    TelemetrySettings result = settings;
    if (auditFile != null) {
      result = result.withAuditFile(auditFile);
    }
    if (adminListen != null) {
      result = result.withAdminListen(TelemetrySettings.parseAdminAddress(adminListen));
    }
    return result;
  }



  private void warnAbout(DaemonConfig config, Map<String, String> env) {
    config.warnings().forEach(w -> log.warn("{}", w));
    if (config.policy().allowsEverything()) {
      log.warn("the allow list contains \"*\": every public host is allowed; only deny rules and the local-address"
          + " check restrict egress");
    }
  }



  private static byte[] randomBytes() {
    byte[] bytes = new byte[6];
    new java.security.SecureRandom().nextBytes(bytes);
    return bytes;
  }

  private static void closeIsolation(Isolation isolation) {
    if (isolation != null) {
      isolation.close();
    }
  }


  private int serveUntilSignalled(Runnable stop) throws InterruptedException {
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      log.info("stopping: no new connections; open ones have {} s to finish", shutdownGraceSeconds);
      stop.run();
      stopped.countDown();
    }, "egressd-shutdown"));
    stopped.await();
    return 0;
  }

  private int runChild(EgressdProxy proxy, Runnable stop, Isolation isolation, Map<String, String> env)
      throws InterruptedException {
    DaemonConfig config = proxy.config();
    Interception interception = proxy.interception();
    InetSocketAddress http = proxy.httpAddress();
    InetSocketAddress socks = proxy.socksAddress();
    ProcessBuilder builder;
    if (isolation == null) {
      builder = new ProcessBuilder(command);
    } else {
      // Inside the namespace the bridge listens on loopback at the daemon's own port numbers.
      List<IsolationBridge.Forward> forwards = new ArrayList<>();
      http = new InetSocketAddress(InetAddress.getLoopbackAddress(), http.getPort());
      forwards.add(new IsolationBridge.Forward(http.getPort(), isolation.socket(ISOLATED_HTTP).getPath()));
      if (socks != null) {
        socks = new InetSocketAddress(InetAddress.getLoopbackAddress(), socks.getPort());
        forwards.add(new IsolationBridge.Forward(socks.getPort(), isolation.socket(ISOLATED_SOCKS5).getPath()));
      }
      builder = new ProcessBuilder(isolation.commandLine(forwards, command));
      log.info("running {} in a new network namespace: its only way out is this proxy", command.get(0));
    }
    builder.inheritIO();
    SocksCredentials credentials = config.listeners().socksCredentials();
    String userInfo = credentials == null ? null
        : ClientEnvironment.userInfo(credentials.username(), credentials.password());
    Map<String, String> childEnv = builder.environment();
    childEnv.putAll(ClientEnvironment.forChild(http, socks, userInfo, config.policy().allowLocalBinding(),
        env.get("JAVA_TOOL_OPTIONS"), interception == null ? null : interception.trust()));
    for (Credential credential : config.policy().credentials().all()) {
      // The agent gets the stand-in; the real secret is egressd's alone, so an inherited copy goes.
      if (credential.secretVariable() != null) {
        childEnv.remove(credential.secretVariable());
      }
      childEnv.put(credential.childVariable(), credential.dummy());
    }
    String ownSshCommand = env.get("GIT_SSH_COMMAND");
    if (ownSshCommand != null && !ownSshCommand.isBlank() && childEnv.containsKey("GIT_SSH_COMMAND")) {
      childEnv.put("GIT_SSH_COMMAND", ownSshCommand); // the user's own wins, as in the reference
      log.warn("keeping your GIT_SSH_COMMAND: git over ssh reaches its hosts through egressd only if that command"
          + " uses a ProxyCommand such as 'egressd ssh-proxy %h %p'");
    }
    if (isolation != null) {
      // The bridge is a JVM too: the proxy settings are the command's, so they travel under another name.
      String javaToolOptions = childEnv.remove("JAVA_TOOL_OPTIONS");
      if (javaToolOptions != null) {
        childEnv.put(IsolationBridge.CHILD_JAVA_TOOL_OPTIONS, javaToolOptions);
      }
    }
    try {
      Process child = builder.start();
      Runtime.getRuntime().addShutdownHook(new Thread(child::destroy, "egressd-child-stop"));
      return child.waitFor();
    } catch (IOException e) {
      System.err.println("egressd: cannot run " + command.get(0) + ": " + e.getMessage());
      return 127;
    } finally {
      stop.run();
    }
  }
}
