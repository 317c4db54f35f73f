package dev.egressd.daemon;

import dev.egressd.audit.AuditSink;
import dev.egressd.audit.JsonText;
import dev.egressd.audit.ProxyMetrics;
import dev.egressd.config.ConfigException;
import dev.egressd.config.DaemonConfig;
import dev.egressd.embed.Deciders;
import dev.egressd.policy.AccessRequest;
import dev.egressd.policy.InnerRequest;
import dev.egressd.policy.Decision;
import dev.egressd.policy.Destination;
import dev.egressd.policy.HostName;
import dev.egressd.policy.InvalidHostException;
import dev.egressd.policy.PolicyEngine;
import dev.egressd.policy.Protocol;
import dev.egressd.proxy.InterfaceAddresses;
import dev.egressd.proxy.ProxyOptions;
import dev.egressd.proxy.dns.SystemResolver;
import dev.egressd.proxy.tunnel.LoopGuard;
import dev.egressd.proxy.tunnel.Tunnel;
import dev.egressd.proxy.tunnel.TunnelEstablisher;
import dev.egressd.proxy.tunnel.TunnelInterceptor;
import dev.egressd.proxy.tunnel.UpstreamConnector;
import dev.egressd.proxy.tunnel.Vetting;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.net.URI;
import java.net.URISyntaxException;
import java.time.Clock;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code egressd check}: what the proxy would decide for a target, through the same connection path the listener uses
 * (DNS included), without connecting. Exit 0 allowed, 1 denied or unresolvable, 2 configuration or usage error.
 */
@Command(name = "check", mixinStandardHelpOptions = true,
    description = "Print the decision for TARGET (a URL or host:port) without connecting.")
final class CheckCommand implements Callable<Integer> {
  @Mixin
  ConfigOptions configOptions;

  @Option(names = "--method", paramLabel = "M", description = "HTTP method for http:// targets, and for the"
      + " request inside an intercepted https:// tunnel (default GET).")
  String method = "GET";

  @Option(names = "--json", description = "Machine-readable output.")
  boolean json;

  @Parameters(index = "0", paramLabel = "TARGET",
      description = "http://host/path (plain HTTP), https://host (CONNECT), or host:port (CONNECT).")
  String target;

  @Override
  public Integer call() throws Exception {
    DaemonConfig config;
    AccessRequest request;
    try {
      config = configOptions.load(System.getenv());
      request = parseTarget(target, method);
    } catch (ConfigException e) {
      System.err.println("egressd: invalid configuration:\n" + e.getMessage());
      return Main.CONFIG_ERROR;
    } catch (IllegalArgumentException e) {
      System.err.println("egressd: invalid target " + target + ": " + e.getMessage());
      return Main.CONFIG_ERROR;
    }
    List<Vetting> vettings = vet(config, request, method.toUpperCase(Locale.ROOT), target);
    StringBuilder out = new StringBuilder();
    if (json) {
      out.append(toJson(vettings.get(0), config, vettings.size() > 1 ? vettings.get(1) : null)).append('\n');
    } else {
      vettings.forEach(vetting -> out.append(toText(vetting, config)));
    }
    System.out.print(out);
    return vettings.stream().allMatch(Vetting.Approved.class::isInstance) ? 0 : 1;
  }

  /**
   * The decisions {@code run} would make: the request's, and for a tunnel the policy intercepts, the inner request's
   * too ({@code https} with {@code method}), as the interception stage decides each request inside.
   */
  private static List<Vetting> vet(DaemonConfig config, AccessRequest request, String innerMethod, String target)
      throws Exception {
    ProxyOptions defaults = ProxyOptions.builder().build();
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    AutoCloseable closeLater = null;
    try (SystemResolver resolver = new SystemResolver(1, 1)) {
      // run installs the interception stage whenever the policy has mitm = true (or does not start at all).
      boolean intercepting = config.policy().mitm();
      PolicyEngine engine = new PolicyEngine(config.policy(), intercepting, InterfaceAddresses.snapshot());
      UpstreamConnector connector = new UpstreamConnector(() -> engine, resolver, AuditSink.NONE,
          NioSocketChannel.class, defaults.connectTimeout(), defaults.resolveTimeout(), Clock.systemUTC(),
          LoopGuard.NONE, ProxyMetrics.NONE);
      // A configured decider is asked as run asks it: check answers what run would do now.
      Deciders.Assembled decider = Deciders.assemble(config.decider(), ProxyMetrics.NONE);
      closeLater = decider;
      TunnelEstablisher establisher = new TunnelEstablisher(connector, decider.step(), connector,
          intercepting ? CHECK_ONLY : null, defaults.idleTimeout());
      long timeout = defaults.resolveTimeout().toMillis() + 5000
          + (config.decider() == null ? 0 : config.decider().timeout().toMillis());
      Vetting outer = establisher.vet(request, group.next()).get(timeout, TimeUnit.MILLISECONDS);
      if (!(outer instanceof Vetting.Approved approved) || !approved.intercept()) {
        return List.of(outer);
      }
      AccessRequest inner = request.inner(request.destination(), Protocol.HTTPS, innerMethod, false);
      return List.of(outer, establisher.vet(inner, innerRequest(innerMethod, target), group.next(), null)
          .get(timeout, TimeUnit.MILLISECONDS));
    } finally {
      if (closeLater != null) {
        closeLater.close();
      }
      group.shutdownGracefully(0, 0, TimeUnit.SECONDS);
    }
  }

  /** The request inside the tunnel as hooks see it: the target URL's method, path and query, and no headers. */
  private record TargetRequest(String method, String path, String query) implements InnerRequest {
    @Override
    public List<String> headerValues(String name) {
      return List.of();
    }
  }

  private static InnerRequest innerRequest(String method, String target) {
    if (!target.contains("://")) {
      return new TargetRequest(method, "/", null);
    }
    java.net.URI uri = java.net.URI.create(target);
    String path = uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath();
    return new TargetRequest(method, path, uri.getRawQuery());
  }

  /** Stands in for the interception stage: check only vets, it never establishes a tunnel. */
  private static final TunnelInterceptor CHECK_ONLY = (client, tunnel, establisher, early) -> {
    Tunnel.releaseAll(early);
    client.close();
  };

  /** Parses {@code http://...}, {@code https://...} or {@code host:port}. */
  static AccessRequest parseTarget(String target, String method) {
    String lower = target.toLowerCase(Locale.ROOT);
    if (lower.startsWith("http://") || lower.startsWith("https://")) {
      URI uri;
      try {
        uri = new URI(target);
      } catch (URISyntaxException e) {
        throw new IllegalArgumentException(e.getMessage());
      }
      if (uri.getRawAuthority() == null || uri.getRawUserInfo() != null) {
        throw new IllegalArgumentException("expected http://host[:port]/... without userinfo");
      }
      boolean https = lower.startsWith("https://");
      String authority = uri.getRawAuthority();
      Destination destination = authority.matches(".*:\\d*$") && !authority.endsWith("]")
          ? Destination.parseAuthority(authority)
          : new Destination(HostName.parse(authority), https ? 443 : 80);
      return https ? AccessRequest.of(destination, Protocol.HTTPS_CONNECT, "CONNECT", "check")
          : AccessRequest.of(destination, Protocol.HTTP, method.toUpperCase(Locale.ROOT), "check");
    }
    try {
      return AccessRequest.of(Destination.parseAuthority(target), Protocol.HTTPS_CONNECT, "CONNECT", "check");
    } catch (InvalidHostException e) {
      throw new IllegalArgumentException(e.getMessage() + " (expected a URL or host:port)");
    }
  }

  private static Decision decisionOf(Vetting vetting) {
    if (vetting instanceof Vetting.Approved a) {
      return a.decision();
    }
    return vetting instanceof Vetting.Refused r ? r.decision() : null;
  }

  private static String toText(Vetting vetting, DaemonConfig config) {
    AccessRequest r = vetting.request();
    StringBuilder sb = new StringBuilder();
    Decision d = decisionOf(vetting);
    String verdict = d == null ? "UNRESOLVED" : d.verdict().label().toUpperCase(Locale.ROOT);
    sb.append(verdict).append(' ').append(r.destination()).append(" (").append(r.protocol().label()).append(' ')
        .append(r.method()).append(")").append(d != null && d.reported()
            ? ": let through by report mode; enforced, this is " + d.wouldDeny().verdict().label().toUpperCase(Locale.ROOT)
            : "").append('\n');
    if (d != null) {
      sb.append("  reason:  ").append(d.reason().code());
      if (d.reason().proxyError() != null) {
        sb.append(" (x-proxy-error: ").append(d.reason().proxyError()).append(')');
      }
      if (!d.reasonText().isEmpty()) {
        sb.append("\n  decider: ").append(d.reasonText());
      }
      sb.append("\n  source:  ").append(d.source().label())
          .append("\n  rule:    ").append(d.rule().map(rule -> rule.pattern().text() + " (" + rule.origin() + ")")
              .orElse("none"))
          .append('\n');
    }
    sb.append("  policy:  ").append(config.policy().scope()).append('\n');
    if (vetting instanceof Vetting.Approved a && a.hook() != null) {
      sb.append("  hook:    ").append(a.hook().origin()).append(a.hook().injectHeaders().isEmpty() ? ""
          : " (injects " + String.join(", ", a.hook().injectHeaders().stream().map(h -> h.name()).toList()) + ")")
          .append('\n');
    }
    if (vetting instanceof Vetting.Approved a) {
      sb.append("  address: ").append(a.addresses().stream().map(Object::toString)
          .collect(Collectors.joining(", "))).append('\n');
    } else if (vetting instanceof Vetting.Unresolved u) {
      sb.append("  error:   ").append(u.failure().message()).append(": ").append(u.detail()).append('\n');
    } else {
      sb.append("  message: ").append(d.message()).append('\n');
    }
    return sb.toString();
  }

  private static String toJson(Vetting vetting, DaemonConfig config, Vetting inner) {
    AccessRequest r = vetting.request();
    Decision d = decisionOf(vetting);
    StringBuilder sb = new StringBuilder("{");
    field(sb, "decision", d == null ? "unresolved" : d.verdict().label());
    if (d != null && d.reported()) {
      sb.append("\"would_deny\":true,");
    }
    // As the 403 body words it: a decider's own reason text where it gave one.
    field(sb, "reason", d == null ? ((Vetting.Unresolved) vetting).failure().code() : d.reasonLabel());
    field(sb, "source", d == null ? null : d.source().label());
    field(sb, "proxy_error", d == null ? ((Vetting.Unresolved) vetting).failure().proxyError()
        : d.reason().proxyError());
    field(sb, "rule", d == null ? null : d.rule().map(rule -> rule.pattern().text()).orElse(null));
    field(sb, "rule_origin", d == null ? null : d.rule().map(rule -> rule.origin()).orElse(null));
    field(sb, "policy", config.policy().scope());
    field(sb, "profile", config.profile());
    field(sb, "protocol", r.protocol().label());
    field(sb, "host", r.destination().host().value());
    sb.append("\"port\":").append(r.destination().port()).append(',');
    field(sb, "method", r.method());
    field(sb, "message", d == null ? ((Vetting.Unresolved) vetting).detail() : d.message());
    sb.append("\"addresses\":[");
    if (vetting instanceof Vetting.Approved a) {
      sb.append(a.addresses().stream().map(ip -> JsonText.quote(ip.toString())).collect(Collectors.joining(",")));
    }
    sb.append("]");
    if (inner != null) {
      sb.append(",\"inner\":").append(toJson(inner, config, null));
    }
    return sb.append("}").toString();
  }

  private static void field(StringBuilder sb, String name, String value) {
    sb.append(JsonText.quote(name)).append(':').append(value == null ? "null" : JsonText.quote(value)).append(',');
  }
}
