package dev.egressd.config.internal;

import dev.egressd.config.DaemonConfig;
import dev.egressd.config.DeciderSettings;
import dev.egressd.config.LimitSettings;
import dev.egressd.config.ListenerSettings;
import dev.egressd.config.MitmSettings;
import dev.egressd.config.SocksCredentials;
import dev.egressd.config.TelemetrySettings;
import dev.egressd.config.UnixSocketSettings;
import dev.egressd.config.UpstreamSettings;
import dev.egressd.policy.AccessMode;
import dev.egressd.policy.AddressClass;
import dev.egressd.policy.AddressClassifier;
import dev.egressd.policy.BroadPatterns;
import dev.egressd.policy.Credential;
import dev.egressd.policy.DummyTokens;
import dev.egressd.policy.HostPattern;
import dev.egressd.policy.IpAddress;
import dev.egressd.policy.MitmHook;
import dev.egressd.policy.NetworkPolicy;
import dev.egressd.policy.Rule;
import dev.egressd.policy.Secret;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;

/**
 * Turns merged, validated settings into a {@link DaemonConfig}, applying the defaults and the checks that need
 * more than one key: listener clamping (which depends on the unix-socket settings) and the rule set.
 *
 * <p>{@code enabled} defaults to true, unlike the reference: a standalone egressd.toml exists to run a proxy, so
 * a file that leaves the key out should serve; {@code enabled = false} still disables it.
 */
public final class ConfigAssembler {
  private final LayerSelector.Selection selection;
  private final Path source;
  private final MergedNetwork merged;
  private final Diagnostics diagnostics;
  private final UnaryOperator<String> environment;
  private final TelemetrySettings telemetry;
  private final LimitSettings limits;

  private ConfigAssembler(LayerSelector.Selection selection, Path source, MergedNetwork merged,
      Diagnostics diagnostics, UnaryOperator<String> environment, TelemetrySettings telemetry,
      LimitSettings limits) {
    this.selection = selection;
    this.source = source;
    this.merged = merged;
    this.diagnostics = diagnostics;
    this.environment = environment;
    this.telemetry = telemetry;
    this.limits = limits;
  }

  /**
   * Builds the configuration; new problems and warnings go to {@code diagnostics}.
   *
   * @param source the file, or null when the text did not come from one
   * @param environment looks up environment variables (secrets named by the file)
   * @param telemetry the {@code [otel]}, {@code [audit]} and {@code [admin]} settings; a relative audit file is
   *     resolved against the config file's directory
   * @param limits the {@code [limits]} settings
   */
  public static DaemonConfig assemble(LayerSelector.Selection selection, Path source, MergedNetwork merged,
      Diagnostics diagnostics, UnaryOperator<String> environment, TelemetrySettings telemetry,
      LimitSettings limits) {
    return new ConfigAssembler(selection, source, merged, diagnostics, environment, telemetry, limits).assemble();
  }

  private DaemonConfig assemble() {
    UnixSocketSettings sockets = new UnixSocketSettings(
        merged.sockets().entries(RuleTable.Action.ALLOW).stream().map(RuleTable.Entry::payload).toList(),
        merged.flag("dangerously_allow_all_unix_sockets", false));
    ListenerSettings listeners = listeners(sockets);
    NetworkPolicy policy = policy();
    MitmSettings mitm = mitmSettings();
    DeciderSettings decider = decider();
    UpstreamSettings upstream = upstream();
    return new DaemonConfig(source, selection.profile(), listeners, policy,
        diagnostics.warnings(), sockets, merged.flag("allow_upstream_proxy", true), mitm, telemetry(),
        limits, decider, upstream);
  }

  /**
   * {@code upstream_proxy} (both kinds of traffic, credentials from {@code upstream_proxy_username} and the
   * variable {@code upstream_proxy_password_env} names), else the environment's parents when
   * {@code allow_upstream_proxy}, else direct.
   */
  private UpstreamSettings upstream() {
    Optional<Located<String>> url = merged.setting("upstream_proxy", String.class);
    Optional<Located<String>> username = merged.setting("upstream_proxy_username", String.class);
    Optional<Located<String>> passwordEnv = merged.setting("upstream_proxy_password_env", String.class);
    if (username.isPresent() != passwordEnv.isPresent()) {
      Located<String> given = username.isPresent() ? username.get() : passwordEnv.get();
      diagnostics.error(given.position(), given.key(),
          "upstream_proxy_username and upstream_proxy_password_env must be set together");
      return UpstreamSettings.DIRECT;
    }
    String password = null;
    if (passwordEnv.isPresent()) {
      password = environment.apply(passwordEnv.get().value());
      if (password == null || password.isEmpty()) {
        diagnostics.error(passwordEnv.get().position(), passwordEnv.get().key(), "environment variable "
            + passwordEnv.get().value() + " is not set or empty");
        return UpstreamSettings.DIRECT;
      }
    }
    UpstreamSettings upstream;
    if (url.isPresent()) {
      try {
        UpstreamSettings.Parent parent = UpstreamSettings.parse(url.get().value(), "upstream_proxy", false);
        upstream = new UpstreamSettings(parent, parent, List.of());
      } catch (IllegalArgumentException e) {
        diagnostics.error(url.get().position(), url.get().key(), e.getMessage());
        return UpstreamSettings.DIRECT;
      }
    } else if (merged.flag("allow_upstream_proxy", true)) {
      List<String> warnings = new ArrayList<>();
      upstream = UpstreamSettings.fromEnvironment(environment, warnings);
      warnings.forEach(w -> diagnostics.warn(null, null, w));
    } else {
      upstream = UpstreamSettings.DIRECT;
    }
    if (username.isPresent() && !upstream.direct()) {
      String user = username.get().value();
      String secret = password;
      UnaryOperator<UpstreamSettings.Parent> withCredentials = p -> p == null ? null
          : new UpstreamSettings.Parent(p.tls(), p.host(), p.port(), user, secret, p.source());
      upstream = new UpstreamSettings(withCredentials.apply(upstream.secure()), withCredentials.apply(upstream.plain()),
          upstream.noProxy());
    }
    Path bundle = merged.setting("upstream_proxy_ca_bundle", String.class).map(b -> resolve(b.value())).orElse(null);
    Optional<Located<String>> resolution = merged.setting("upstream_resolution", String.class);
    boolean parentResolves = resolution.map(r -> r.value().equals("parent")).orElse(false);
    if (parentResolves && !upstream.direct()) {
      diagnostics.warn(resolution.get(), "upstream_resolution = \"parent\": names going through the parent proxy"
          + " are not resolved by egressd, so a name that resolves to a loopback, private or link-local address is"
          + " not refused; only the parent's own rules stand between it and the internal network");
    } else if (parentResolves) {
      diagnostics.warn(resolution.get(), "upstream_resolution = \"parent\" has no effect: no parent proxy is set");
    }
    return upstream.with(bundle, parentResolves);
  }

  private TelemetrySettings telemetry() {
    Path file = telemetry.auditPath();
    if (file == null || file.isAbsolute() || source == null) {
      return telemetry;
    }
    Path directory = source.toAbsolutePath().getParent();
    return telemetry.withAuditFile(directory.resolve(file).normalize().toString());
  }

  private MitmSettings mitmSettings() {
    Optional<Located<String>> cert = merged.setting("mitm_ca_cert_path", String.class);
    Optional<Located<String>> key = merged.setting("mitm_ca_key_path", String.class);
    if (cert.isPresent() != key.isPresent()) {
      Located<String> given = cert.isPresent() ? cert.get() : key.get();
      diagnostics.error(given.position(), given.key(), "mitm_ca_cert_path and mitm_ca_key_path must be set together");
      return MitmSettings.DEFAULTS;
    }
    Path bundle = merged.setting("mitm_upstream_ca_bundle", String.class).map(b -> resolve(b.value())).orElse(null);
    return new MitmSettings(cert.map(c -> resolve(c.value())).orElse(null),
        key.map(k -> resolve(k.value())).orElse(null), bundle);
  }

  /**
   * {@code [network.decider]}: exactly one of {@code url} (plain HTTP to a loopback address: the decider decides
   * what the agent may reach, so its traffic must not leave the host) and {@code unix_socket}.
   */
  private DeciderSettings decider() {
    Optional<Located<String>> url = merged.setting("decider.url", String.class);
    Optional<Located<String>> socket = merged.setting("decider.unix_socket", String.class);
    Optional<Located<String>> path = merged.setting("decider.path", String.class);
    Optional<Located<Number>> timeout = merged.setting("decider.timeout", Number.class);
    Optional<Located<String>> tokenEnv = merged.setting("decider.token_env", String.class);
    Optional<Located<?>> any = Stream.of(url, socket, path, timeout, tokenEnv).flatMap(Optional::stream)
        .<Located<?>>map(l -> l).findFirst();
    if (any.isEmpty()) {
      return null;
    }
    merged.setting("default", String.class).filter(d -> d.value().equals("ask")).ifPresent(d -> diagnostics.warn(d,
        "\"ask\" holds every allowlist miss for a person, so [network.decider] is never consulted; remove one of"
            + " them"));
    if (url.isPresent() == socket.isPresent()) {
      Located<?> at = url.isPresent() ? url.get() : any.get();
      diagnostics.error(at.position(), "network.decider", "set exactly one of url and unix_socket");
      return null;
    }
    URI uri = null;
    Path unixSocket = null;
    String requestPath = "/";
    if (url.isPresent()) {
      uri = deciderUrl(url.get());
      if (uri == null) {
        return null;
      }
      if (path.isPresent()) {
        diagnostics.error(path.get().position(), path.get().key(), "only with unix_socket; put the path in url");
        return null;
      }
      requestPath = (uri.getRawPath().isEmpty() ? "/" : uri.getRawPath())
          + (uri.getRawQuery() == null ? "" : "?" + uri.getRawQuery());
    } else {
      unixSocket = resolve(socket.get().value());
      if (path.isPresent()) {
        requestPath = path.get().value();
        if (!requestPath.startsWith("/") || requestPath.chars().anyMatch(c -> c <= ' ' || c >= 0x7f)) {
          diagnostics.error(path.get().position(), path.get().key(),
              "expected a request path starting with / and without spaces, found \"" + requestPath + "\"");
          return null;
        }
      }
    }
    Duration wait = seconds(timeout, DeciderSettings.DEFAULT_TIMEOUT, 600);
    if (wait == null) {
      return null;
    }
    String token = null;
    if (tokenEnv.isPresent()) {
      token = environment.apply(tokenEnv.get().value());
      if (token == null || token.isEmpty()) {
        diagnostics.error(tokenEnv.get().position(), tokenEnv.get().key(), "environment variable "
            + tokenEnv.get().value() + " is not set or empty");
        return null;
      }
      if (token.chars().anyMatch(c -> c <= ' ' || c >= 0x7f)) {
        diagnostics.error(tokenEnv.get().position(), tokenEnv.get().key(), "environment variable "
            + tokenEnv.get().value() + " holds spaces, control or non-ASCII characters; a bearer token cannot");
        return null;
      }
    }
    return new DeciderSettings(uri, unixSocket, requestPath, wait, tokenEnv.map(Located::value).orElse(null), token);
  }

  /** Seconds from 0.001 to {@code max}; null after reporting a value out of range. */
  private Duration seconds(Optional<Located<Number>> setting, Duration fallback, int max) {
    if (setting.isEmpty()) {
      return fallback;
    }
    double seconds = setting.get().value().doubleValue();
    if (!(seconds >= 0.001 && seconds <= max)) {
      diagnostics.error(setting.get().position(), setting.get().key(),
          "expected seconds from 0.001 to " + max + ", found " + setting.get().value());
      return null;
    }
    return Duration.ofNanos(Math.round(seconds * 1e9));
  }

  private URI deciderUrl(Located<String> url) {
    URI uri;
    try {
      uri = new URI(url.value());
    } catch (URISyntaxException e) {
      diagnostics.error(url.position(), url.key(), "not a URL: " + e.getMessage());
      return null;
    }
    String problem = null;
    if (!"http".equalsIgnoreCase(uri.getScheme())) {
      problem = "expected an http:// URL (the decider is on this host, so TLS adds nothing), found \"" + url.value()
          + "\"";
    } else if (uri.getHost() == null || uri.getRawUserInfo() != null || uri.getRawFragment() != null) {
      problem = "expected http://HOST:PORT/path without credentials or fragment, found \"" + url.value() + "\"";
    } else if (!isLoopback(uri.getHost())) {
      problem = "the decider must be on a loopback address (127.0.0.1, [::1] or localhost), found \""
          + uri.getHost() + "\"";
    }
    if (problem != null) {
      diagnostics.error(url.position(), url.key(), problem);
      return null;
    }
    return uri;
  }

  private static boolean isLoopback(String host) {
    if (host.equalsIgnoreCase("localhost")) {
      return true;
    }
    String literal = host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
    return IpAddress.parse(literal).map(ip -> AddressClassifier.classify(ip) == AddressClass.LOOPBACK)
        .orElse(false);
  }

  /** Relative paths are relative to the config file's directory, as in Codex's G1 layout. */
  private Path resolve(String path) {
    Path p = Path.of(path);
    Path dir = source == null ? null : source.toAbsolutePath().getParent();
    return p.isAbsolute() || dir == null ? p : dir.resolve(p).normalize();
  }

  private ListenerSettings listeners(UnixSocketSettings sockets) {
    Optional<Located<Boolean>> dangerous = merged.setting("dangerously_allow_non_loopback_proxy", Boolean.class)
        .filter(Located::value);
    if (dangerous.isPresent() && sockets.anyAllowed()) {
      diagnostics.warn(dangerous.get(), "overridden: unix sockets are allowed, so the listeners stay on loopback");
    }
    boolean nonLoopback = dangerous.isPresent() && !sockets.anyAllowed();
    boolean socksEnabled = merged.flag("enable_socks5", true);
    return new ListenerSettings(
        listen("proxy_url", ListenerSettings.DEFAULT_HTTP_PORT, nonLoopback),
        socksEnabled,
        listen("socks_url", ListenerSettings.DEFAULT_SOCKS_PORT, nonLoopback),
        socksEnabled && merged.flag("enable_socks5_udp", true),
        nonLoopback,
        socksCredentials(),
        merged.setting("proxy_url", String.class).isPresent(),
        merged.setting("socks_url", String.class).isPresent());
  }

  /**
   * {@code socks_username} with the password read from the environment variable named by
   * {@code socks_password_env}, so no secret is written in the file. Both or neither.
   */
  private SocksCredentials socksCredentials() {
    Optional<Located<String>> user = merged.setting("socks_username", String.class);
    Optional<Located<String>> passwordEnv = merged.setting("socks_password_env", String.class);
    if (user.isEmpty() && passwordEnv.isEmpty()) {
      return null;
    }
    if (user.isEmpty() || passwordEnv.isEmpty()) {
      Located<String> given = user.isPresent() ? user.get() : passwordEnv.get();
      diagnostics.error(given.position(), given.key(), "socks_username and socks_password_env must be set together");
      return null;
    }
    String password = environment.apply(passwordEnv.get().value());
    if (password == null || password.isEmpty()) {
      diagnostics.error(passwordEnv.get().position(), passwordEnv.get().key(), "environment variable "
          + passwordEnv.get().value() + " is not set or empty");
      return null;
    }
    try {
      return new SocksCredentials(user.get().value(), password, passwordEnv.get().value());
    } catch (IllegalArgumentException e) {
      diagnostics.error(user.get().position(), user.get().key(), e.getMessage());
      return null;
    }
  }

  private InetSocketAddress listen(String name, int defaultPort, boolean nonLoopback) {
    Located<String> url = merged.setting(name, String.class)
        .orElse(new Located<>("http://127.0.0.1:" + defaultPort, null, name));
    List<String> warnings = new ArrayList<>();
    try {
      InetSocketAddress address = ListenAddresses.parse(url.value(), defaultPort, nonLoopback, warnings);
      warnings.forEach(warning -> diagnostics.warn(url, warning));
      return address;
    } catch (IllegalArgumentException e) {
      diagnostics.error(url.position(), url.key(), e.getMessage());
      return new InetSocketAddress(0);
    }
  }

  /** Today, for review_by: UTC, so a CI runner and a laptop agree. */
  private final LocalDate today = LocalDate.now(ZoneOffset.UTC);

  private NetworkPolicy policy() {
    AccessMode mode = merged.setting("mode", AccessMode.class).map(Located::value).orElse(AccessMode.FULL);
    boolean mitm = merged.flag("mitm", false);
    if (mode == AccessMode.LIMITED && !mitm) {
      diagnostics.warn(merged.setting("mode", AccessMode.class).orElseThrow(), "limited mode without mitm: HTTPS "
          + "(CONNECT) requests are refused, because their methods cannot be checked");
    }
    merged.setting("enforcement", String.class).filter(e -> e.value().equals("report")).ifPresent(e ->
        diagnostics.warn(e, "enforcement = \"report\": the policy is not enforced; refused requests are let through"
            + " and audited with egressd.would_deny = true"));
    NetworkPolicy.Builder builder = NetworkPolicy.builder()
        .enabled(merged.flag("enabled", true))
        .mode(mode)
        .allowLocalBinding(merged.flag("allow_local_binding", false))
        .mitm(mitm)
        .askOnMiss(merged.setting("default", String.class).map(d -> d.value().equals("ask")).orElse(false))
        .report(merged.setting("enforcement", String.class).map(e -> e.value().equals("report")).orElse(false))
        .scope(selection.scopeLabel() + " in " + diagnostics.file());
    Duration askTimeout = seconds(merged.setting("ask_timeout", Number.class), NetworkPolicy.DEFAULT_ASK_TIMEOUT, 3600);
    if (askTimeout != null) {
      builder.askTimeout(askTimeout);
    }
    addRules(builder);
    interceptionList("mitm_domains").forEach(e -> builder.addInterceptedHost(e.payload(), e.origin()));
    interceptionList("mitm_bypass").forEach(e -> builder.addInterceptionBypass(e.payload(), e.origin()));
    addHooks(builder, mitm);
    addCredentials(builder, mitm);
    if (!mitm && merged.setting("mitm_domains", List.class).isPresent()) {
      diagnostics.warn(merged.setting("mitm_domains", List.class).get(), "has no effect without mitm = true");
    }
    warnIfNothingAllowed();
    return builder.build();
  }

  /**
   * {@code mitm_hooks} with their secrets read now, from the environment or an absolute file: a secret that is not
   * there is an error, never a hook that injects nothing. No message ever contains a secret's value.
   */
  @SuppressWarnings("unchecked")
  private void addHooks(NetworkPolicy.Builder builder, boolean mitm) {
    Optional<Located<List>> located = merged.setting("mitm_hooks", List.class);
    if (located.isEmpty() || located.get().value().isEmpty()) {
      return;
    }
    if (!mitm) {
      diagnostics.error(located.get().position(), located.get().key(), "network.mitm_hooks requires network.mitm ="
          + " true");
      return;
    }
    for (HookReader.Spec spec : (List<HookReader.Spec>) located.get().value()) {
      List<MitmHook.InjectedHeader> injected = new ArrayList<>();
      for (HookReader.InjectSpec inject : spec.inject()) {
        Secret secret = secret(inject.secret());
        if (secret != null) {
          injected.add(new MitmHook.InjectedHeader(inject.name(), secret, inject.prefix()));
        }
      }
      if (injected.size() == spec.inject().size()) {
        builder.addHook(new MitmHook(spec.host(), spec.methods(), spec.pathPrefixes(), spec.query(), spec.headers(),
            spec.strip(), injected, diagnostics.origin(spec.position(), spec.key())));
      }
    }
  }


  /**
   * {@code [network.credentials.NAME]}: the secret read now, and its stand-in made; like hooks, they need
   * {@code mitm = true}, since the swap happens inside intercepted tunnels.
   */
  @SuppressWarnings("unchecked")
  private void addCredentials(NetworkPolicy.Builder builder, boolean mitm) {
    Optional<Located<List>> located = merged.setting("credentials", List.class);
    if (located.isEmpty() || located.get().value().isEmpty()) {
      return;
    }
    if (!mitm) {
      diagnostics.error(located.get().position(), located.get().key(), "network.credentials requires network.mitm ="
          + " true (the secret is swapped in inside intercepted tunnels)");
      return;
    }
    for (CredentialReader.Spec spec : (List<CredentialReader.Spec>) located.get().value()) {
      Secret secret = secret(spec.secret());
      if (secret == null) {
        continue;
      }
      try {
        builder.addCredential(new Credential(spec.name(), secret, DummyTokens.of(spec.name(), secret.reveal()),
            spec.hosts(), spec.header(), spec.childVariable(), spec.secret().envVar(),
            diagnostics.origin(spec.position(), spec.key())));
      } catch (IllegalArgumentException e) {
        diagnostics.error(spec.position(), spec.key(), "the secret in " + secret.source() + ": " + e.getMessage());
      }
    }
  }

  private Secret secret(SecretSource from) {
    String envVar = from.envVar();
    Path file = from.file();
    org.tomlj.TomlPosition position = from.position();
    String key = from.key();
    String value;
    String source;
    if (envVar != null) {
      source = "environment variable " + envVar;
      value = environment.apply(envVar);
      if (value == null || value.isEmpty()) {
        diagnostics.error(position, key, "missing required environment variable " + envVar);
        return null;
      }
    } else {
      source = "file " + file;
      try {
        value = java.nio.file.Files.readString(file).trim();
      } catch (java.io.IOException | java.io.UncheckedIOException e) {
        diagnostics.error(position, key, "cannot read secret_file " + file + " (" + e.getClass().getSimpleName()
            + ")");
        return null;
      }
      if (value.isEmpty()) {
        diagnostics.error(position, key, "secret_file " + file + " is empty");
        return null;
      }
    }
    if (!HookReader.printable(value)) {
      diagnostics.error(position, key, "the secret in " + source + " contains a line break or control character,"
          + " which cannot go into a header");
      return null;
    }
    return new Secret(value, source);
  }

  @SuppressWarnings("unchecked")
  private List<RuleTable.Entry<HostPattern>> interceptionList(String key) {
    return merged.setting(key, List.class).map(l -> (List<RuleTable.Entry<HostPattern>>) l.value()).orElse(List.of());
  }

  private void warnIfNothingAllowed() {
    if (!merged.hosts().entries(RuleTable.Action.ALLOW).isEmpty() || !merged.hosts().entries(RuleTable.Action.ASK)
        .isEmpty() || merged.setting("default", String.class).filter(d -> d.value().equals("ask")).isPresent()) {
      return;
    }
    if (selection.layers().isEmpty()) {
      diagnostics.warn(null, null, "no network settings found ([network], [permissions.<name>.network] or "
          + "[features.network_proxy]); every destination is blocked");
    } else {
      diagnostics.warn(null, null, "no allow rules in " + selection.scopeLabel() + "; every destination is blocked."
          + " Add hosts to allowed_domains or the domains table");
    }
  }

  private void addRules(NetworkPolicy.Builder builder) {
    for (RuleTable.Entry<HostPattern> entry : merged.hosts().effective()) {
      Rule.Action ruleAction = switch (entry.action()) {
        case DENY -> Rule.Action.DENY;
        case ASK -> Rule.Action.ASK;
        case ALLOW, NONE -> Rule.Action.ALLOW; // effective() holds no NONE
      };
      try {
        builder.addRule(new Rule(entry.payload(), ruleAction, entry.origin(), entry.metadata()));
      } catch (IllegalArgumentException e) {
        // The readers reject a global deny already; this keeps any other builder check a config problem.
        diagnostics.error(entry.position(), entry.key(), e.getMessage());
      }
      String broad = ruleAction == Rule.Action.DENY ? null : BroadPatterns.why(entry.payload());
      if (broad != null && !entry.metadata().justified()) {
        diagnostics.warn(entry.position(), entry.key(), "\"" + entry.payload().text() + "\" " + broad + " and has no"
            + " justification: narrow it to the hosts you use, or write why with { action = \""
            + ruleAction.name().toLowerCase(java.util.Locale.ROOT) + "\", justification = \"...\" }");
      }
      LocalDate reviewBy = entry.metadata().reviewBy();
      if (reviewBy != null && reviewBy.isBefore(today)) {
        diagnostics.warn(entry.position(), entry.key(), "\"" + entry.payload().text() + "\" was due for review on "
            + reviewBy + (entry.metadata().owner() == null ? "" : " (owner " + entry.metadata().owner() + ")")
            + ": check it is still needed, then move review_by");
      }
      if (ruleAction == Rule.Action.ALLOW && entry.payload().kind() == HostPattern.Kind.ANY) {
        String where = entry.payload().port() == 0 ? "" : " on port " + entry.payload().port();
        diagnostics.warn(entry.position(), entry.key(), "\"" + entry.payload().text() + "\" allows every host" + where
            + "; only deny rules restrict traffic");
      }
    }
  }
}
