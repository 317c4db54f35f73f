package dev.egressd.config;

import dev.egressd.config.internal.ConfigAssembler;
import dev.egressd.config.internal.Diagnostics;
import dev.egressd.config.internal.LayerSelector;
import dev.egressd.config.internal.LimitsTableReader;
import dev.egressd.config.internal.MergedNetwork;
import dev.egressd.config.internal.NetworkTableReader;
import dev.egressd.config.internal.TableNode;
import dev.egressd.config.internal.TelemetryTableReader;
import dev.egressd.policy.NetworkPolicy;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.function.UnaryOperator;
import org.tomlj.Toml;
import org.tomlj.TomlParseOptions;
import org.tomlj.TomlParseResult;
import org.tomlj.TomlVersion;

/**
 * Reads the network settings of a Codex {@code config.toml} or a standalone {@code egressd.toml} (same keys) into a
 * validated {@link DaemonConfig}.
 *
 * <p><b>Which tables.</b> Up to three network tables are overlaid, lowest precedence first, as Codex does:
 * <ol>
 *   <li>{@code [features.network_proxy]}, when it is a table (the bool form {@code features.network_proxy = true}
 *       is Codex's switch for its embedded proxy and carries no settings);</li>
 *   <li>the top-level {@code [network]};</li>
 *   <li>{@code [permissions.<name>.network]}, where the name is the {@code profileOverride} ({@code --profile}) or
 *       else the top-level {@code default_permissions}. Built-in profiles ({@code :read-only}, {@code :workspace},
 *       {@code :danger-full-access}) have no network table; a named profile that does not exist is an error.</li>
 * </ol>
 * A scalar in a higher table replaces the lower one. Host rules accumulate across tables; an entry for the same
 * normalised pattern in a higher table replaces the lower one ({@code "none"} removes it), and within one table the
 * stronger entry wins (deny over allow). Both rule forms, the arrays {@code allowed_domains}/{@code denied_domains}
 * and the table {@code domains}, may be combined; at evaluation a matching deny always wins. Everything outside
 * these tables (model settings, filesystem permissions...) is ignored, except {@code [otel]}, {@code [audit]} and
 * {@code [admin]}, read into {@link TelemetrySettings}, and {@code [limits]}, read into {@link LimitSettings}.
 *
 * <p><b>Validation.</b> The file is parsed as TOML 1.0. Every problem is collected, then thrown together in one
 * {@link ConfigException}, each with {@code file:line:column} and the dotted key: syntax errors, unknown keys in a
 * network table (with a "did you mean" hint), wrong types, invalid patterns, a global {@code *} deny, relative unix
 * socket paths, invalid listener ports, and settings for features egressd does not implement (MITM hooks, the
 * credential broker) that ignoring would make the policy differ from what the file says. Nothing is auto-corrected.
 *
 * <p><b>Defaults</b> (a key absent from every table): {@code enabled = true} (the reference defaults to false; a
 * standalone file exists to run a proxy), {@code proxy_url = "http://127.0.0.1:3128"},
 * {@code socks_url = "http://127.0.0.1:8081"}, {@code enable_socks5 = true}, {@code enable_socks5_udp = true},
 * {@code allow_upstream_proxy = true}, {@code allow_local_binding = false}, {@code mode = "full"},
 * {@code mitm = false}, no rules (everything is blocked).
 */
public final class ConfigLoader {
  private static final TomlParseOptions TOML_1_0 = TomlParseOptions.defaults().withVersion(TomlVersion.V1_0_0);
  private static final String NO_FILE_WARNING = "no configuration file found; every destination is blocked. Allow "
      + "hosts with --allow example.com or a config file (see docs/configuration.md)";

  private ConfigLoader() {}

  /**
   * Loads and validates {@code file}.
   *
   * @param profileOverride the {@code --profile} name, or null to use {@code default_permissions}
   * @throws ConfigException listing every problem, including an unreadable or missing file
   */
  public static DaemonConfig load(Path file, String profileOverride) throws ConfigException {
    Objects.requireNonNull(file, "file");
    return parse(read(file), file.toString(), profileOverride, file, System::getenv);
  }

  /**
   * Parses and validates {@code toml}; {@link DaemonConfig#source()} is null.
   *
   * @param fileName used only in messages and rule origins
   * @param profileOverride the {@code --profile} name, or null to use {@code default_permissions}
   * @throws ConfigException listing every problem
   */
  public static DaemonConfig parse(String toml, String fileName, String profileOverride) throws ConfigException {
    return parse(toml, fileName, profileOverride, null, System::getenv);
  }

  /**
   * As {@link #parse(String, String, String)}, with the environment that secrets such as
   * {@code socks_password_env} are read from.
   */
  public static DaemonConfig parse(String toml, String fileName, String profileOverride,
      UnaryOperator<String> environment) throws ConfigException {
    return parse(toml, fileName, profileOverride, null, environment);
  }

  /**
   * The configuration used when no file exists: enabled, full mode, default listeners and an empty allowlist, so
   * everything is blocked; its one warning says how to allow hosts.
   */
  public static DaemonConfig defaults() {
    NetworkPolicy policy = NetworkPolicy.builder()
        .scope("a configuration file (none was found; --allow also works)")
        .build();
    return new DaemonConfig(null, null, ListenerSettings.defaults(), policy, List.of(NO_FILE_WARNING),
        UnixSocketSettings.NONE, true, MitmSettings.DEFAULTS, TelemetrySettings.DEFAULTS,
        LimitSettings.DEFAULTS, null, UpstreamSettings.DIRECT);
  }

  private static DaemonConfig parse(String toml, String fileName, String profileOverride, Path source,
      UnaryOperator<String> environment) throws ConfigException {
    Objects.requireNonNull(toml, "toml");
    Diagnostics diagnostics = new Diagnostics(Objects.requireNonNull(fileName, "fileName"));
    TomlParseResult document = parseToml(toml, fileName);
    // A document with syntax errors is incomplete; checking its settings would only add confusing follow-ups.
    document.errors().forEach(e -> diagnostics.error(e.position(), null, e.getMessage()));
    diagnostics.throwIfAny();
    LayerSelector.Selection selection = LayerSelector.select(TableNode.root(document), profileOverride, diagnostics);
    MergedNetwork merged = new MergedNetwork();
    for (int i = 0; i < selection.layers().size(); i++) {
      NetworkTableReader.read(selection.layers().get(i).node(), i, merged, diagnostics);
    }
    TelemetrySettings telemetry = TelemetryTableReader.read(TableNode.root(document), diagnostics);
    LimitSettings limits = LimitsTableReader.read(TableNode.root(document), diagnostics);
    DaemonConfig config = ConfigAssembler.assemble(selection, source, merged, diagnostics,
        Objects.requireNonNull(environment, "environment"), telemetry, limits);
    diagnostics.throwIfAny();
    return config;
  }

  /**
   * tomlj can fail on hostile input instead of reporting it: with assertions enabled, {@code [d#} followed by NUL
   * trips an internal {@code assert}. That is still a broken file, so it is reported as one rather than escaping.
   */
  private static TomlParseResult parseToml(String toml, String fileName) throws ConfigException {
    try {
      return Toml.parse(toml, TOML_1_0);
    } catch (RuntimeException | AssertionError e) {
      throw new ConfigException(List.of(new ConfigProblem(fileName, 0, 0, null,
          "not valid TOML: the parser failed with " + e + " (expected: a TOML 1.0 document)")));
    }
  }

  private static String read(Path file) throws ConfigException {
    try {
      return Files.readString(file);
    } catch (NoSuchFileException e) {
      throw single(file, "file not found");
    } catch (CharacterCodingException e) {
      throw single(file, "not valid UTF-8 (TOML files must be UTF-8)");
    } catch (IOException e) {
      throw single(file, "cannot read: " + e);
    }
  }

  private static ConfigException single(Path file, String message) {
    return new ConfigException(List.of(new ConfigProblem(file.toString(), 0, 0, null, message)));
  }
}
