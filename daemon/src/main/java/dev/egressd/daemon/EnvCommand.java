package dev.egressd.daemon;

import dev.egressd.config.ConfigException;
import dev.egressd.config.DaemonConfig;
import dev.egressd.config.SocksCredentials;
import dev.egressd.proxy.mitm.CaException;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/**
 * {@code egressd env}: the {@code export} lines a shell needs to use a proxy running with the same configuration
 * (its configured listener addresses, and the CA trust variables when TLS interception is on).
 */
@Command(name = "env", mixinStandardHelpOptions = true,
    description = {"Print shell exports for clients of a proxy run with the same configuration:",
        "  eval \"$(egressd env --config egressd.toml)\""})
final class EnvCommand implements Callable<Integer> {
  @Mixin
  ConfigOptions configOptions;

  @Override
  public Integer call() {
    DaemonConfig config;
    Interception interception;
    try {
      config = configOptions.load(System.getenv());
      interception = Interception.prepare(config, System.getenv());
    } catch (ConfigException e) {
      System.err.println("egressd: invalid configuration:\n" + e.getMessage());
      return Main.CONFIG_ERROR;
    } catch (CaException e) {
      System.err.println("egressd: " + e.getMessage());
      return Main.CONFIG_ERROR;
    }
    if (config.listeners().http().getPort() == 0) {
      System.err.println("egressd: the HTTP listener uses port 0 (a free port picked at start); run prints the"
          + " exports for the port it got");
      return Main.CONFIG_ERROR;
    }
    SocksCredentials credentials = config.listeners().socksCredentials();
    String reference = credentials == null ? null
        : credentials.username() + ":${" + credentials.passwordVariable() + "}";
    System.out.println(ClientEnvironment.exports(config.listeners().http(),
        config.listeners().socksEnabled() ? config.listeners().socks() : null, reference));
    if (interception != null) {
      System.out.println(ClientEnvironment.trustExports(interception.trust()));
      System.out.println("export JAVA_TOOL_OPTIONS=\"${JAVA_TOOL_OPTIONS:+$JAVA_TOOL_OPTIONS }"
          + ClientEnvironment.trustStoreOptions(interception.trust()) + "\"");
    }
    return 0;
  }
}
