package dev.egressd.embed;

import dev.egressd.audit.AuditSink;
import dev.egressd.audit.otel.AuditMetadata;
import dev.egressd.audit.JsonText;
import dev.egressd.audit.otel.RuleHits;
import dev.egressd.audit.otel.Telemetry;
import dev.egressd.config.ConfigLoader;
import dev.egressd.config.DaemonConfig;
import dev.egressd.config.LimitSettings;
import dev.egressd.config.ListenerSettings;
import dev.egressd.config.SocksCredentials;
import dev.egressd.config.TelemetrySettings;
import dev.egressd.config.UpstreamSettings;
import dev.egressd.policy.NetworkPolicy;
import dev.egressd.policy.PolicyDecider;
import dev.egressd.policy.Rule;
import dev.egressd.proxy.InterfaceAddresses;
import dev.egressd.proxy.ProxyOptions;
import dev.egressd.proxy.ProxyServer;
import dev.egressd.proxy.admin.AdminEndpoints;
import dev.egressd.proxy.admin.AdminListener;
import dev.egressd.proxy.decider.Approvals;
import dev.egressd.proxy.decider.DeciderStep;
import dev.egressd.proxy.dns.SystemResolver;
import dev.egressd.proxy.mitm.CaException;
import dev.egressd.proxy.mitm.TlsImplementation;
import dev.egressd.proxy.mitm.UpstreamTrust;
import dev.egressd.proxy.socks5.Socks5Options;
import dev.egressd.proxy.socks5.Socks5ProxyInitializer;
import dev.egressd.proxy.tunnel.ParentProxy;
import dev.egressd.proxy.tunnel.ProxyRoutes;
import io.netty.handler.ssl.SslContext;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

/**
 * egressd running inside a Java program: the HTTP and SOCKS5 listeners, the policy, an optional decider (a lambda
 * or the config's webhook), TLS interception when the policy has {@code mitm = true}, audit to your sink and to the
 * config's OpenTelemetry exporters, and the admin listener. {@code egressd run} is built on this class, so an
 * embedded proxy decides exactly as the daemon does.
 *
 * <pre>{@code
 * try (EgressdProxy proxy = EgressdProxy.builder()
 *     .policy(NetworkPolicy.builder().addRule(Rule.allow("**.example.com", "my agent host")).build())
 *     .decider(request -> CompletableFuture.completedFuture(DeciderAnswer.deny("not in this task")),
 *         Duration.ofSeconds(2))
 *     .auditSink(event -> System.err.println(event))
 *     .start()) {
 *   HttpClient client = HttpClient.newBuilder().proxy(ProxySelector.of(proxy.httpAddress())).build();
 *   ...
 * }
 * }</pre>
 *
 * <p>Thread-safe. {@link #close} stops accepting, gives open connections a grace period, and releases everything.
 */
public final class EgressdProxy implements AutoCloseable {
  /** The SOCKS5 listener's name, for {@link #address}. */
  public static final String SOCKS5 = "socks5";
  /** How long open connections may finish when {@link #close()} is called. */
  public static final Duration DEFAULT_GRACE = Duration.ofSeconds(5);

  private final DaemonConfig config;
  private final ProxyServer server;
  private final LivePolicy policy;
  private final Interception interception;
  private final Approvals approvals;
  private final Telemetry telemetry;
  private final Deciders.Assembled decider;
  private final SystemResolver resolver;
  private final InterfaceAddresses hostAddresses;
  private final AtomicBoolean accepting;
  private final AtomicReference<ProxyRoutes> routes;
  private final AtomicBoolean closed = new AtomicBoolean();

  private EgressdProxy(DaemonConfig config, ProxyServer server, LivePolicy policy, Interception interception,
      Approvals approvals, Telemetry telemetry, Deciders.Assembled decider, SystemResolver resolver,
      InterfaceAddresses hostAddresses, AtomicBoolean accepting, AtomicReference<ProxyRoutes> routes) {
    this.config = config;
    this.server = server;
    this.policy = policy;
    this.interception = interception;
    this.approvals = approvals;
    this.telemetry = telemetry;
    this.decider = decider;
    this.resolver = resolver;
    this.hostAddresses = hostAddresses;
    this.accepting = accepting;
    this.routes = routes;
  }

  /**
   * The parent proxies for {@code upstream}: each parent's name resolved once, here.
   *
   * @throws StartException when a parent does not resolve, or its {@code upstream_proxy_ca_bundle} cannot be read
   */
  public static ProxyRoutes routesFor(UpstreamSettings upstream) throws StartException {
    SslContext[] tls = new SslContext[1];
    return new ProxyRoutes(parent(upstream.secure(), upstream, tls), parent(upstream.plain(), upstream, tls),
        upstream.noProxy(), upstream.parentResolves());
  }

  /** One parent; {@code tls} holds the TLS context once built, shared by both kinds of traffic. */
  private static ParentProxy parent(UpstreamSettings.Parent parent, UpstreamSettings upstream, SslContext[] tls)
      throws StartException {
    if (parent == null) {
      return null;
    }
    InetSocketAddress address = new InetSocketAddress(parent.host(), parent.port());
    if (address.isUnresolved()) {
      throw new StartException("upstream proxy " + parent + ": cannot resolve " + parent.host(), null);
    }
    if (parent.tls() && tls[0] == null) {
      try {
        // The JDK's roots plus upstream_proxy_ca_bundle, as for origins: never trust-all.
        tls[0] = UpstreamTrust.clientContext(upstream.caBundle(), TlsImplementation.JDK);
      } catch (CaException e) {
        throw new StartException("upstream_proxy_ca_bundle: " + e.getMessage(), e);
      }
    }
    return new ParentProxy(address, parent.username(), parent.username() == null ? null : parent.password(),
        parent.toString(), parent.tls() ? tls[0] : null);
  }

  /**
   * Why a parent in {@code candidate} would loop back into this proxy (it is one of its own listeners, or this host
   * on a listener's port), or null.
   */
  public String loopingParent(ProxyRoutes candidate) {
    for (ParentProxy parent : java.util.Arrays.asList(candidate.secure(), candidate.plain())) {
      // The same guard that refuses proxy_loop destinations: listeners, wildcard binds, this host's addresses.
      if (parent == null || !server.connector().loopGuard().isListener(
          dev.egressd.policy.IpAddress.of(parent.address().getAddress()), parent.address().getPort())) {
        continue;
      }
      String name = List.of(ProxyServer.HTTP, SOCKS5, AdminListener.NAME).stream()
          .filter(n -> config.telemetry().adminListen() != null || !n.equals(AdminListener.NAME))
          .filter(n -> !n.equals(SOCKS5) || config.listeners().socksEnabled())
          .filter(n -> server.address(n).getPort() == parent.address().getPort()).findFirst().orElse("proxy");
      return "upstream proxy " + parent + " is egressd's own " + name + " listener (" + server.address(
          name.equals("proxy") ? ProxyServer.HTTP : name) + "): every connection would loop; unset the variable for"
          + " egressd or set upstream_proxy";
    }
    return null;
  }

  /** The parent proxies in force now. */
  public ProxyRoutes routes() {
    return routes.get();
  }

  /** Replaces the parent proxies for connections opened from now on (a reload). */
  public void routes(ProxyRoutes next) {
    routes.set(Objects.requireNonNull(next, "next"));
  }

  /** A builder: without a config, egressd's defaults on free loopback ports, with a policy that allows nothing. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Refuses a configuration that cannot serve, before anything is opened: today a policy with
   * {@code enabled = false}. {@link Builder#start} checks this too; a caller that does other work first (the CLI)
   * calls it early.
   *
   * @throws StartException saying what to change
   */
  public static void checkStartable(DaemonConfig config) throws StartException {
    NetworkPolicy policy = config.policy();
    if (!policy.enabled()) {
      throw new StartException("the network proxy is disabled (enabled = false in " + policy.scope()
          + "); nothing to serve. Set enabled = true to run it.", null);
    }
  }

  /** The HTTP listener's bound address (with the real port when 0 was asked for). */
  public InetSocketAddress httpAddress() {
    return server.httpAddress();
  }

  /** The SOCKS5 listener's bound address, or null when SOCKS5 is off. */
  public InetSocketAddress socksAddress() {
    return config.listeners().socksEnabled() ? server.address(SOCKS5) : null;
  }

  /** The admin listener's bound address, or null when it is off. */
  public InetSocketAddress adminAddress() {
    return config.telemetry().adminListen() != null ? server.address(AdminListener.NAME) : null;
  }

  /** The bound address of the listener called {@code name} ({@link Builder#extraHttpListener} and the like). */
  public InetSocketAddress address(String name) {
    return server.address(name);
  }

  /** The network transport in use: {@code epoll} or {@code nio}. */
  public String transportName() {
    return server.transportName();
  }

  /** The configuration it runs with, overrides applied. */
  public DaemonConfig config() {
    return config;
  }

  /** The policy in force; {@link LivePolicy#set} replaces it for the decisions to come. */
  public LivePolicy policy() {
    return policy;
  }

  /** The interception stage (CA location, trust files for clients), or null when {@code mitm} is off. */
  public Interception interception() {
    return interception;
  }

  /** Where asked requests wait, to answer them in code, or null when asks are refused at once. */
  public Approvals approvals() {
    return approvals;
  }

  /** The Prometheus text of the metrics, as the admin listener's {@code /metrics} serves it. */
  public byte[] metricsText() {
    return telemetry.prometheusText();
  }

  /** Stops with {@link #DEFAULT_GRACE}. */
  @Override
  public void close() {
    close(DEFAULT_GRACE);
  }

  /**
   * Stops accepting (readiness turns false), lets open connections finish for up to {@code grace}, then closes them
   * and releases the resolver, the decider's connections and the exporters (flushing queued audit events). Calling
   * it again does nothing.
   */
  public void close(Duration grace) {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    accepting.set(false);
    server.close(grace);
    decider.close();
    resolver.close();
    hostAddresses.close();
    telemetry.close();
  }

  /** Assembles and starts an {@link EgressdProxy}. Not thread-safe; use one builder per proxy. */
  public static final class Builder {
    private DaemonConfig config;
    private NetworkPolicy policy;
    private InetSocketAddress httpListen;
    private InetSocketAddress socksListen;
    private Boolean socks;
    private PolicyDecider decider;
    private Duration deciderTimeout;
    private final List<AuditSink> sinks = new ArrayList<>();
    private Approvals approvals;
    private String approvalToken;
    private Map<String, String> environment = System.getenv();
    private String version = "embedded";
    private ProxyOptions.TransportChoice transport = ProxyOptions.TransportChoice.AUTO;
    private final List<Extra> extras = new ArrayList<>();

    private record Extra(String name, SocketAddress address, boolean socks, String executionId) {}

    private Builder() {}

    /**
     * Everything a config file says ({@code ConfigLoader.load}): listeners, policy, interception, limits, decider,
     * telemetry. The other setters override parts of it.
     */
    public Builder config(DaemonConfig config) {
      this.config = Objects.requireNonNull(config, "config");
      return this;
    }

    /** The policy, built in code; replaces the config's. */
    public Builder policy(NetworkPolicy policy) {
      this.policy = Objects.requireNonNull(policy, "policy");
      return this;
    }

    /**
     * Where the HTTP proxy listens (port 0 for a free one). Must be a loopback address unless the config sets
     * {@code dangerously_allow_non_loopback_proxy}.
     */
    public Builder httpListen(InetSocketAddress address) {
      this.httpListen = Objects.requireNonNull(address, "address");
      return this;
    }

    /** Where the SOCKS5 listener listens (port 0 for a free one); loopback as for {@link #httpListen}. */
    public Builder socksListen(InetSocketAddress address) {
      this.socksListen = Objects.requireNonNull(address, "address");
      return this;
    }

    /** Whether to run the SOCKS5 listener (default: as the config says, which defaults to on). */
    public Builder socks(boolean enabled) {
      this.socks = enabled;
      return this;
    }

    /**
     * A decider asked about allowlist misses, instead of the config's {@code [network.decider]}. Pending calls for
     * the same host, port and protocol share one answer, and answers with a cache time are reused. Fails closed:
     * a decider that throws, fails, answers null or takes longer than {@code timeout} refuses the request.
     */
    public Builder decider(PolicyDecider decider, Duration timeout) {
      this.decider = Objects.requireNonNull(decider, "decider");
      this.deciderTimeout = Objects.requireNonNull(timeout, "timeout");
      return this;
    }

    /** Also sends every audit event to {@code sink} (before the config's exporters); may be called repeatedly. */
    public Builder auditSink(AuditSink sink) {
      sinks.add(Objects.requireNonNull(sink, "sink"));
      return this;
    }

    /**
     * Lets asked requests wait for an answer given through {@code approvals} (in code, or through the admin API with
     * {@link #approvalToken}) for up to the policy's {@code ask_timeout}. Without it every ask is refused at once.
     */
    public Builder approvals(Approvals approvals) {
      this.approvals = Objects.requireNonNull(approvals, "approvals");
      return this;
    }

    /**
     * Serves the approval API ({@code GET /approvals}, {@code POST /approvals/ID/approve}) on the admin listener
     * to callers presenting {@code token} (at least 32 characters) as {@code Authorization: Bearer}. Needs
     * {@link #approvals} and an admin listener ({@code [admin] listen}).
     */
    public Builder approvalToken(String token) {
      this.approvalToken = Objects.requireNonNull(token, "token");
      return this;
    }

    /** Where {@code EGRESSD_HOME}, {@code CODEX_HOME} and the audit metadata variables are read (default: the JVM's). */
    public Builder environment(Map<String, String> environment) {
      this.environment = Map.copyOf(environment);
      return this;
    }

    /** The version audit events carry as {@code service.version} (default {@code embedded}). */
    public Builder version(String version) {
      this.version = Objects.requireNonNull(version, "version");
      return this;
    }

    /** The network transport: {@code AUTO} (epoll where available), {@code EPOLL} or {@code NIO}. */
    public Builder transport(ProxyOptions.TransportChoice transport) {
      this.transport = Objects.requireNonNull(transport, "transport");
      return this;
    }

    /** Also serves the HTTP proxy on {@code address} (e.g. a Unix socket), as the listener {@code name}. */
    public Builder extraHttpListener(String name, SocketAddress address) {
      return extra(name, address, false, null);
    }

    /** Also serves SOCKS5 (with the config's SOCKS5 settings) on {@code address}, as the listener {@code name}. */
    public Builder extraSocksListener(String name, SocketAddress address) {
      return extra(name, address, true, null);
    }

    /**
     * As {@link #extraHttpListener}, for a listener only one execution can reach (a run's isolation bridge): every
     * request on it is audited with {@code execution.id = executionId}.
     */
    public Builder extraHttpListener(String name, SocketAddress address, String executionId) {
      return extra(name, address, false, executionId);
    }

    /** As {@link #extraSocksListener}, for a listener only the execution {@code executionId} can reach. */
    public Builder extraSocksListener(String name, SocketAddress address, String executionId) {
      return extra(name, address, true, executionId);
    }

    private Builder extra(String name, SocketAddress address, boolean isSocks, String executionId) {
      if (executionId != null && !dev.egressd.policy.AccessRequest.validExecutionId(executionId)) {
        throw new IllegalArgumentException("executionId: \"" + executionId + "\" (expected: "
            + dev.egressd.policy.AccessRequest.EXECUTION_ID_FORM + ")");
      }
      extras.add(new Extra(Objects.requireNonNull(name, "name"), Objects.requireNonNull(address, "address"),
          isSocks, executionId));
      return this;
    }

    /**
     * Runs the daemon's start-up checks and starts: the policy must be enabled, the interception CA must load (or be
     * created), the exporters must start and every listener must bind. On failure everything opened is closed again.
     *
     * @throws StartException saying what failed and what to change
     * @throws InterruptedException if interrupted while binding
     */
    public EgressdProxy start() throws StartException, InterruptedException {
      DaemonConfig effective = effectiveConfig();
      checkStartable(effective);
      if (approvalToken != null && (approvals == null || effective.telemetry().adminListen() == null)) {
        throw new StartException("an approval token needs approvals and an admin listener ([admin] listen)", null);
      }
      Interception interception;
      try {
        interception = Interception.prepare(effective, environment);
      } catch (CaException e) {
        throw new StartException("TLS interception (mitm = true) cannot start: " + e.getMessage(), e);
      }
      Telemetry telemetry;
      try {
        telemetry = Telemetry.start(effective.telemetry(), metadata(effective.telemetry()));
      } catch (IOException | RuntimeException e) {
        throw new StartException("cannot start audit export: " + e.getMessage(), e);
      }
      AtomicReference<ProxyRoutes> routes = new AtomicReference<>(routesFor(effective.upstream()));
      LimitSettings limits = effective.limits();
      InterfaceAddresses hostAddresses = InterfaceAddresses.live();
      LivePolicy live = new LivePolicy(effective.policy(), interception != null, hostAddresses);
      SystemResolver resolver = new SystemResolver(16, 4096);
      AuditSink exported = telemetry.auditSink();
      List<AuditSink> all = List.copyOf(sinks);
      AuditSink audit = event -> {
        for (AuditSink sink : all) {
          sink.record(event);
        }
        exported.record(event);
      };
      DeciderStep.Asking asking = approvals == null ? null
          : new DeciderStep.Asking(approvals, audit, Clock.systemUTC());
      Deciders.Assembled assembled = decider != null
          ? Deciders.assemble(decider, deciderTimeout, telemetry.proxyMetrics(), asking)
          : Deciders.assemble(effective.decider(), telemetry.proxyMetrics(), asking);
      ProxyOptions options = ProxyOptions.builder().httpListen(effective.listeners().http()).transport(transport)
          .metrics(telemetry.proxyMetrics()).maxConnections(limits.maxConnections())
          .connectTimeout(limits.connectTimeout()).resolveTimeout(limits.dnsTimeout())
          .requestHeadTimeout(limits.headerTimeout()).idleTimeout(limits.idleTimeout())
          .maxReadBytes(limits.maxBufferedBytes()).hostAddresses(hostAddresses).decisions(assembled.step())
          .routes(routes::get).build();
      AtomicBoolean accepting = new AtomicBoolean(true);
      List<ProxyServer.Listener> listeners = new ArrayList<>();
      ProxyServer.FrontEnd socksFrontEnd = socksFrontEnd(effective.listeners());
      if (effective.listeners().socksEnabled()) {
        listeners.add(new ProxyServer.Listener(SOCKS5, effective.listeners().socks(), socksFrontEnd));
      }
      for (Extra extra : extras) {
        if (!extra.socks()) {
          listeners.add(new ProxyServer.Listener(extra.name(), extra.address(), ProxyServer.httpFrontEnd(), true,
              extra.executionId()));
        } else if (effective.listeners().socksEnabled()) {
          listeners.add(new ProxyServer.Listener(extra.name(), extra.address(), socksFrontEnd, true,
              extra.executionId()));
        }
      }
      if (effective.telemetry().adminListen() != null) {
        listeners.add(AdminListener.at(effective.telemetry().adminListen(), adminEndpoints(telemetry, accepting, live),
            approvalToken == null ? null : new AdminListener.ApprovalControl(approvals, approvalToken)));
      }
      ProxyServer server;
      try {
        server = ProxyServer.start(options, live::engine, resolver, audit, listeners,
            interception == null ? null : interception.factory());
      } catch (InterruptedException e) {
        release(assembled, resolver, hostAddresses, telemetry);
        throw e;
      } catch (Exception e) {
        release(assembled, resolver, hostAddresses, telemetry);
        throw new StartException("cannot start: " + (e instanceof ProxyServer.BindException ? e.getMessage()
            : "the listeners (" + options.httpListen() + (effective.listeners().socksEnabled() ? ", SOCKS5 "
            + effective.listeners().socks() : "") + "): " + e), e);
      }
      EgressdProxy proxy = new EgressdProxy(effective, server, live, interception, approvals, telemetry, assembled,
          resolver, hostAddresses, accepting, routes);
      String loop = proxy.loopingParent(routes.get());
      if (loop != null) {
        proxy.close(Duration.ZERO);
        throw new StartException(loop, null);
      }
      return proxy;
    }

    private DaemonConfig effectiveConfig() throws StartException {
      DaemonConfig result = config != null ? config
          : ConfigLoader.defaults().withListeners(ConfigLoader.defaults().listeners().withFreeDefaultPorts());
      if (policy != null) {
        result = result.withPolicy(policy);
      }
      ListenerSettings listeners = result.listeners();
      if (httpListen != null) {
        listeners = listeners.withHttp(loopbackUnlessAllowed(httpListen, listeners));
      }
      if (socksListen != null) {
        listeners = listeners.withSocks(loopbackUnlessAllowed(socksListen, listeners));
      }
      if (socks != null && socks != listeners.socksEnabled()) {
        listeners = new ListenerSettings(listeners.http(), socks, listeners.socks(), listeners.socksUdpEnabled(),
            listeners.nonLoopbackAllowed(), listeners.socksCredentials(), listeners.httpNamed(),
            listeners.socksNamed());
      }
      return result.withListeners(listeners);
    }

    private static InetSocketAddress loopbackUnlessAllowed(InetSocketAddress address, ListenerSettings listeners)
        throws StartException {
      if (address.getAddress() == null || !address.getAddress().isLoopbackAddress() && !listeners.nonLoopbackAllowed()) {
        throw new StartException("listener " + address + " is not a loopback address; set"
            + " dangerously_allow_non_loopback_proxy = true in the config to listen there", null);
      }
      return address;
    }

    private AuditMetadata metadata(TelemetrySettings settings) {
      return new AuditMetadata(version,
          nonBlank(environment.get("EGRESSD_CONVERSATION_ID"), settings.conversationId()),
          nonBlank(environment.get("EGRESSD_USER_ACCOUNT_ID"), settings.userAccountId()));
    }

    private static String nonBlank(String preferred, String fallback) {
      return preferred != null && !preferred.isBlank() ? preferred : fallback;
    }

    private static ProxyServer.FrontEnd socksFrontEnd(ListenerSettings listeners) {
      SocksCredentials credentials = listeners.socksCredentials();
      Socks5Options socks = new Socks5Options(listeners.socksUdpEnabled(), credentials == null ? null
          : new Socks5Options.Credentials(credentials.username(), credentials.password()));
      return Socks5ProxyInitializer.frontEnd(socks);
    }

    private static void release(Deciders.Assembled decider, SystemResolver resolver,
        InterfaceAddresses hostAddresses, Telemetry telemetry) {
      decider.close();
      resolver.close();
      hostAddresses.close();
      telemetry.close();
    }

    private static AdminEndpoints adminEndpoints(Telemetry telemetry, AtomicBoolean accepting, LivePolicy live) {
      return new AdminEndpoints() {
        @Override
        public byte[] rules() {
          StringBuilder json = new StringBuilder("{\"scope\":").append(JsonText.quote(live.current().scope()))
              .append(",\"enforcement\":\"").append(live.current().report() ? "report" : "enforce")
              .append("\",\"rules\":[");
          String separator = "";
          for (Rule rule : live.current().rules()) {
            RuleHits.Hit hit = telemetry.ruleHits().of(rule);
            json.append(separator).append("{\"rule\":").append(JsonText.quote(hit.rule()))
                .append(",\"origin\":").append(JsonText.quote(hit.origin()))
                .append(",\"action\":\"").append(hit.action()).append("\",\"hits\":").append(hit.hits())
                .append(",\"last_hit\":").append(hit.lastHitMillis() == 0 ? "null"
                    : JsonText.quote(java.time.Instant.ofEpochMilli(hit.lastHitMillis()).toString()))
                .append('}');
            separator = ",";
          }
          return json.append("]}\n").toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
        }

        @Override
        public byte[] metrics() {
          return telemetry.prometheusText();
        }

        @Override
        public String metricsContentType() {
          return Telemetry.prometheusContentType();
        }

        @Override
        public boolean ready() {
          return accepting.get();
        }
      };
    }
  }
}
