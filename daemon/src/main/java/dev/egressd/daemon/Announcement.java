package dev.egressd.daemon;

import dev.egressd.config.DaemonConfig;
import dev.egressd.config.SocksCredentials;
import dev.egressd.config.TelemetrySettings;
import dev.egressd.policy.NetworkPolicy;
import dev.egressd.embed.EgressdProxy;
import dev.egressd.embed.Interception;
import dev.egressd.proxy.tunnel.ProxyRoutes;
import dev.egressd.proxy.mitm.TlsImplementation;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;

/**
 * What {@code egressd run} says once it listens: where, under which policy, where audit goes, and the exports for a
 * shell. Standard output when serving (scripts read the ports from it), standard error when wrapping a command.
 */
final class Announcement {
  private Announcement() {}

  /** Prints the announcement of {@code proxy}, which has started. */
  static void print(PrintStream out, EgressdProxy proxy) {
    DaemonConfig config = proxy.config();
    Interception interception = proxy.interception();
    InetSocketAddress socks = proxy.socksAddress();
    NetworkPolicy policy = config.policy();
    out.println("egressd: HTTP proxy listening on " + hostPort(proxy.httpAddress()) + " ("
        + proxy.transportName() + ")");
    if (socks != null) {
      out.println("egressd: SOCKS5 proxy listening on " + hostPort(socks) + " (UDP "
          + (config.listeners().socksUdpEnabled() ? "on" : "off") + ")");
    }
    out.println("egressd: policy from " + policy.scope() + ": " + policy.rules().size() + " rules, mode "
        + policy.mode().configName() + ", allow_local_binding " + policy.allowLocalBinding());
    if (policy.report()) {
      out.println("egressd: REPORT MODE: the policy is NOT enforced: requests it refuses are let through and"
          + " audited with egressd.would_deny = true (local addresses, egressd itself and malformed requests are"
          + " still refused)");
    }
    long reportedRules = policy.rules().stream().filter(r -> Boolean.TRUE.equals(r.metadata().report())).count();
    if (reportedRules > 0) {
      out.println("egressd: " + reportedRules + (reportedRules == 1 ? " rule" : " rules") + " with report = true:"
          + " their refusals are let through and audited with egressd.would_deny = true");
    }
    SocksCredentials credentials = config.listeners().socksCredentials();
    String reference = credentials == null ? null
        : credentials.username() + ":${" + credentials.passwordVariable() + "}";
    if (config.telemetry().adminListen() != null) {
      out.println("egressd: admin listening on http://" + hostPort(proxy.adminAddress())
          + " (/metrics, /healthz, /readyz)");
    }
    out.println("egressd: audit " + auditDestinations(config));
    ProxyRoutes routes = proxy.routes();
    if (!routes.direct()) {
      out.println("egressd: upstream: https, CONNECT and SOCKS5 via " + (routes.secure() == null ? "direct"
          : routes.secure()) + "; plain http via " + (routes.plain() == null ? "direct" : routes.plain())
          + (config.upstream().noProxy().isEmpty() ? "" : "; direct for NO_PROXY "
          + String.join(",", config.upstream().noProxy())) + (routes.blocksUdp() ? "; SOCKS5 UDP refused" : "")
          + (routes.parentResolves() ? "; names resolved by the parent, unchecked" : ""));
    }
    if (interception != null) {
      out.println("egressd: TLS interception on (" + (policy.mode().configName().equals("limited")
          ? "every tunnel" : "hosts in mitm_domains") + "); CA " + interception.location().certificate()
          + "; clients must trust it: " + interception.trust().pemBundle());
      TlsImplementation tls = interception.tls();
      out.println("egressd: intercepted TLS by " + (tls == TlsImplementation.OPENSSL ? "BoringSSL"
          : "the JDK (BoringSSL not in use: " + tls.note() + ")"));
    }
    out.println(ClientEnvironment.exports(proxy.httpAddress(), socks, reference));
    if (interception != null) {
      out.println(ClientEnvironment.trustExports(interception.trust()));
    }
    out.flush();
  }

  /** {@code host:port}, IPv6 in brackets. */
  static String hostPort(InetSocketAddress address) {
    return ClientEnvironment.httpProxyUrl(address).substring("http://".length());
  }

  private static String auditDestinations(DaemonConfig config) {
    TelemetrySettings t = config.telemetry();
    List<String> to = new ArrayList<>(List.of("log lines on stderr"));
    if (t.auditFile() != null) {
      to.add("JSON lines to " + (t.auditPath() == null ? "standard output" : t.auditPath()));
    }
    if (!(t.exporter() instanceof TelemetrySettings.Exporter.None)) {
      to.add("OTLP log records to " + t.exporter());
    }
    return String.join(", ", to);
  }
}
