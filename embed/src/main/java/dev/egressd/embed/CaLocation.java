package dev.egressd.embed;

import dev.egressd.config.DaemonConfig;
import java.nio.file.Path;
import java.util.Map;

/**
 * Where the MITM CA lives: the paths set in the config; else {@code $CODEX_HOME/proxy/} when the config is Codex's
 * own {@code $CODEX_HOME/config.toml} (the same files Codex uses); else {@code $EGRESSD_HOME/proxy/} (default
 * {@code ~/.egressd/proxy/}).
 *
 * @param certificate {@code ca.pem}
 * @param key {@code ca.key}
 */
public record CaLocation(Path certificate, Path key) {
  /**
   * Where the CA is for {@code config}, with {@code env} supplying {@code EGRESSD_HOME} and {@code CODEX_HOME}.
   */
  public static CaLocation of(DaemonConfig config, Map<String, String> env) {
    if (config.mitm().hasCaPaths()) {
      return new CaLocation(config.mitm().caCertificate(), config.mitm().caKey());
    }
    Path dir = home(env, "EGRESSD_HOME", ".egressd").resolve("proxy");
    Path codexHome = home(env, "CODEX_HOME", ".codex");
    if (config.source() != null
        && config.source().toAbsolutePath().normalize().equals(codexHome.resolve("config.toml").normalize())) {
      dir = codexHome.resolve("proxy");
    }
    return new CaLocation(dir.resolve("ca.pem"), dir.resolve("ca.key"));
  }

  /** The directory client trust files are written to. */
  public Path directory() {
    return certificate.toAbsolutePath().getParent();
  }

  /** {@code $VARIABLE}, or {@code ~/DEFAULT_NAME} when it is unset or blank; absolute. */
  public static Path home(Map<String, String> env, String variable, String defaultName) {
    String value = env.getOrDefault(variable, "");
    return (value.isBlank() ? Path.of(System.getProperty("user.home"), defaultName) : Path.of(value))
        .toAbsolutePath();
  }
}
