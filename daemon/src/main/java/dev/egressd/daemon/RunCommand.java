package dev.egressd.daemon;

import dev.egressd.config.ConfigException;
import dev.egressd.config.DaemonConfig;
import dev.egressd.config.ListenerSettings;
import dev.egressd.config.SocksCredentials;
import dev.egressd.policy.NetworkPolicy;
import dev.egressd.policy.PolicyEngine;
import dev.egressd.proxy.ProxyOptions;
import dev.egressd.proxy.ProxyServer;
import dev.egressd.proxy.dns.SystemResolver;
import dev.egressd.proxy.mitm.CaException;
import dev.egressd.proxy.socks5.Socks5Options;
import dev.egressd.proxy.socks5.Socks5ProxyInitializer;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
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
  private static final String SOCKS5 = "socks5";

  @Mixin
  ConfigOptions configOptions;

  @Option(names = "--transport", paramLabel = "T", description = "auto (default), epoll or nio.")
  ProxyOptions.TransportChoice transport = ProxyOptions.TransportChoice.AUTO;

  @Option(names = "--shutdown-grace", paramLabel = "SECONDS",
      description = "How long open connections may finish after a stop signal (default: 5).")
  int shutdownGraceSeconds = 5;

  @Parameters(paramLabel = "CMD", arity = "0..*", description = "Command to run through the proxy (after --).")
  List<String> command = new ArrayList<>();

  @Override
  public Integer call() throws Exception {
    Map<String, String> env = System.getenv();
    DaemonConfig config;
    try {
      config = configOptions.load(env);
    } catch (ConfigException e) {
      System.err.println("egressd: invalid configuration:\n" + e.getMessage());
      return Main.CONFIG_ERROR;
    }
    NetworkPolicy policy = config.policy();
    if (!policy.enabled()) {
      System.err.println("egressd: the network proxy is disabled (enabled = false in " + policy.scope()
          + "); nothing to serve. Set enabled = true to run it.");
      return Main.CONFIG_ERROR;
    }
    warnAbout(config, env);
    Interception interception;
    try {
      interception = Interception.prepare(config, env);
    } catch (CaException e) {
      System.err.println("egressd: TLS interception (mitm = true) cannot start: " + e.getMessage());
      return Main.CONFIG_ERROR;
    }
    ProxyOptions options = ProxyOptions.builder().httpListen(config.listeners().http()).transport(transport).build();
    PolicyEngine engine = new PolicyEngine(policy, interception != null);
    SystemResolver resolver = new SystemResolver(16, 4096);
    ProxyServer server;
    try {
      server = ProxyServer.start(options, () -> engine, resolver, new LoggingAuditSink(), socksListener(config),
          interception == null ? null : interception.factory());
    } catch (Exception e) {
      resolver.close();
      System.err.println("egressd: cannot start the listeners (" + options.httpListen()
          + (config.listeners().socksEnabled() ? ", SOCKS5 " + config.listeners().socks() : "") + "): " + e);
      return Main.CONFIG_ERROR;
    }
    announce(System.out, server, config, interception);
    return command.isEmpty() ? serveUntilSignalled(server, resolver)
        : runChild(server, resolver, config, interception, env);
  }

  private void warnAbout(DaemonConfig config, Map<String, String> env) {
    config.warnings().forEach(w -> log.warn("{}", w));
    if (config.policy().allowsEverything()) {
      log.warn("the allow list contains \"*\": every public host is allowed; only deny rules and the local-address"
          + " check restrict egress");
    }
    if (config.allowUpstreamProxy()) {
      for (String key : List.of("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")) {
        if (!env.getOrDefault(key, "").isBlank()) {
          log.warn("{} is set in egressd's own environment, but upstream proxy chaining is not supported yet;"
              + " egressd connects directly", key);
          break;
        }
      }
    }
  }

  private static List<ProxyServer.Listener> socksListener(DaemonConfig config) {
    ListenerSettings listeners = config.listeners();
    if (!listeners.socksEnabled()) {
      return List.of();
    }
    SocksCredentials credentials = listeners.socksCredentials();
    Socks5Options socks = new Socks5Options(listeners.socksUdpEnabled(), credentials == null ? null
        : new Socks5Options.Credentials(credentials.username(), credentials.password()));
    return List.of(new ProxyServer.Listener(SOCKS5, listeners.socks(), Socks5ProxyInitializer.frontEnd(socks)));
  }

  private static void announce(PrintStream out, ProxyServer server, DaemonConfig config,
      Interception interception) {
    NetworkPolicy policy = config.policy();
    out.println("egressd: HTTP proxy listening on " + hostPort(server.httpAddress()) + " ("
        + server.transportName() + ")");
    InetSocketAddress socks = socksAddress(server, config);
    if (socks != null) {
      out.println("egressd: SOCKS5 proxy listening on " + hostPort(socks) + " (UDP "
          + (config.listeners().socksUdpEnabled() ? "on" : "off") + ")");
    }
    out.println("egressd: policy from " + policy.scope() + ": " + policy.rules().size() + " rules, mode "
        + policy.mode().configName() + ", allow_local_binding " + policy.allowLocalBinding());
    SocksCredentials credentials = config.listeners().socksCredentials();
    String reference = credentials == null ? null
        : credentials.username() + ":${" + credentials.passwordVariable() + "}";
    if (interception != null) {
      out.println("egressd: TLS interception on (" + (config.policy().mode().configName().equals("limited")
          ? "every tunnel" : "hosts in mitm_domains") + "); CA " + interception.location().certificate()
          + "; clients must trust it: " + interception.trust().pemBundle());
    }
    out.println(ClientEnvironment.exports(server.httpAddress(), socks, reference));
    if (interception != null) {
      out.println(ClientEnvironment.trustExports(interception.trust()));
    }
    out.flush();
  }

  private static InetSocketAddress socksAddress(ProxyServer server, DaemonConfig config) {
    return config.listeners().socksEnabled() ? server.address(SOCKS5) : null;
  }

  private static String hostPort(InetSocketAddress address) {
    return ClientEnvironment.httpProxyUrl(address).substring("http://".length());
  }

  private int serveUntilSignalled(ProxyServer server, SystemResolver resolver) throws InterruptedException {
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      log.info("stopping: no new connections; open ones have {} s to finish", shutdownGraceSeconds);
      server.close(Duration.ofSeconds(shutdownGraceSeconds));
      resolver.close();
      stopped.countDown();
    }, "egressd-shutdown"));
    stopped.await();
    return 0;
  }

  private int runChild(ProxyServer server, SystemResolver resolver, DaemonConfig config, Interception interception,
      Map<String, String> env) throws InterruptedException {
    ProcessBuilder builder = new ProcessBuilder(command).inheritIO();
    SocksCredentials credentials = config.listeners().socksCredentials();
    String userInfo = credentials == null ? null
        : ClientEnvironment.userInfo(credentials.username(), credentials.password());
    builder.environment().putAll(ClientEnvironment.forChild(server.httpAddress(), socksAddress(server, config),
        userInfo, config.policy().allowLocalBinding(), env.get("JAVA_TOOL_OPTIONS"),
        interception == null ? null : interception.trust()));
    try {
      Process child = builder.start();
      Runtime.getRuntime().addShutdownHook(new Thread(child::destroy, "egressd-child-stop"));
      return child.waitFor();
    } catch (IOException e) {
      System.err.println("egressd: cannot run " + command.get(0) + ": " + e.getMessage());
      return 127;
    } finally {
      server.close(Duration.ofSeconds(1));
      resolver.close();
    }
  }
}
