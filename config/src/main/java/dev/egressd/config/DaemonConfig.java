package dev.egressd.config;

import dev.egressd.policy.NetworkPolicy;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * Everything the daemon needs from a configuration file, validated: the listeners, the compiled policy and the
 * switches that are neither. Produced by {@link ConfigLoader}; the daemon adapts it into the option records of the
 * proxy modules, which never see TOML.
 *
 * @param source the file it was read from, or null for {@link ConfigLoader#defaults()} and text passed to
 *     {@link ConfigLoader#parse}
 * @param profile the permission profile that was selected ({@code --profile} or {@code default_permissions}),
 *     including built-in names such as {@code :workspace}; null when no profile was selected
 * @param listeners where to listen
 * @param policy the host rules and policy switches; its {@link NetworkPolicy#scope()} names the table to edit
 * @param warnings things the operator should know at startup (a global {@code *} allow, clamped listen addresses,
 *     ignored keys), each prefixed with {@code file:line:column: key:} where it has a position
 * @param unixSockets which unix sockets may be reached
 * @param allowUpstreamProxy {@code allow_upstream_proxy}: whether outbound connections honour the proxy process's
 *     own {@code HTTP_PROXY}/{@code HTTPS_PROXY}/{@code ALL_PROXY}
 * @param mitm where the interception CA lives and which extra roots are trusted upstream
 * @param telemetry where audit events, metrics and health go
 * @param limits connection limits and timeouts
 * @param decider the program asked about allowlist misses ({@code [network.decider]}), or null for none
 * @param upstream the parent proxies allowed traffic goes through ({@code upstream_proxy} or the environment)
 */
public record DaemonConfig(
    Path source,
    String profile,
    ListenerSettings listeners,
    NetworkPolicy policy,
    List<String> warnings,
    UnixSocketSettings unixSockets,
    boolean allowUpstreamProxy,
    MitmSettings mitm,
    TelemetrySettings telemetry,
    LimitSettings limits,
    DeciderSettings decider,
    UpstreamSettings upstream) {

  /** Null checks and a defensive copy of {@code warnings}. */
  public DaemonConfig {
    Objects.requireNonNull(listeners, "listeners");
    Objects.requireNonNull(policy, "policy");
    warnings = List.copyOf(Objects.requireNonNull(warnings, "warnings"));
    Objects.requireNonNull(unixSockets, "unixSockets");
    Objects.requireNonNull(mitm, "mitm");
    Objects.requireNonNull(telemetry, "telemetry");
    Objects.requireNonNull(limits, "limits");
    Objects.requireNonNull(upstream, "upstream");
  }

  /** A copy with another policy, for CLI overrides such as {@code --allow} and {@code --mode}. */
  public DaemonConfig withPolicy(NetworkPolicy policy) {
    return new DaemonConfig(source, profile, listeners, policy, warnings, unixSockets, allowUpstreamProxy, mitm,
        telemetry, limits, decider, upstream);
  }

  /** A copy with other listeners, for {@code --listen}. */
  public DaemonConfig withListeners(ListenerSettings listeners) {
    return new DaemonConfig(source, profile, listeners, policy, warnings, unixSockets, allowUpstreamProxy, mitm,
        telemetry, limits, decider, upstream);
  }

  /** A copy with other telemetry settings, for {@code --audit-file} and {@code --admin-listen}. */
  public DaemonConfig withTelemetry(TelemetrySettings telemetry) {
    return new DaemonConfig(source, profile, listeners, policy, warnings, unixSockets, allowUpstreamProxy, mitm,
        telemetry, limits, decider, upstream);
  }

  /** A copy with other warnings, for command-line overrides. */
  public DaemonConfig withWarnings(List<String> warnings) {
    return new DaemonConfig(source, profile, listeners, policy, warnings, unixSockets, allowUpstreamProxy, mitm,
        telemetry, limits, decider, upstream);
  }

  /** A copy with other parent proxies, for the environment of a run without a config file. */
  public DaemonConfig withUpstream(UpstreamSettings upstream) {
    return new DaemonConfig(source, profile, listeners, policy, warnings, unixSockets, allowUpstreamProxy, mitm,
        telemetry, limits, decider, upstream);
  }
}
