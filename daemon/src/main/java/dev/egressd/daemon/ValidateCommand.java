package dev.egressd.daemon;

import dev.egressd.config.ConfigException;
import dev.egressd.config.ConfigLoader;
import dev.egressd.config.DaemonConfig;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code egressd validate}: load a config file and report every problem with file:line, or exit 0. */
@Command(name = "validate", mixinStandardHelpOptions = true,
    description = "Check a config file; print every problem with file:line:column. Exit 0 valid, 2 invalid.")
final class ValidateCommand implements Callable<Integer> {
  @Option(names = "--config", paramLabel = "FILE", required = true, description = "The file to check.")
  Path config;

  @Option(names = "--profile", paramLabel = "NAME", description = "Validate with this profile selected.")
  String profile;

  @Override
  public Integer call() {
    try {
      DaemonConfig loaded = ConfigLoader.load(config, profile);
      loaded.warnings().forEach(w -> System.out.println("warning: " + w));
      System.out.println("OK: " + loaded.policy().scope() + ": " + loaded.policy().rules().size() + " rules, mode "
          + loaded.policy().mode().configName());
      return 0;
    } catch (ConfigException e) {
      System.err.println(e.getMessage());
      return Main.CONFIG_ERROR;
    }
  }
}
