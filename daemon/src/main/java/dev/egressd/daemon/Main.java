package dev.egressd.daemon;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code egressd} command line. Exit codes: 0 success/allowed, 1 denied, 2 configuration or usage error. */
@Command(name = "egressd", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
    description = "Egress-policy forward proxy for AI coding agents and CI jobs.",
    subcommands = {RunCommand.class, CheckCommand.class, ValidateCommand.class, ReviewCommand.class, LearnCommand.class,
        CaCommand.class, EnvCommand.class,
        SshProxyCommand.class, ApprovalCommands.Pending.class, ApprovalCommands.Approve.class,
        ApprovalCommands.Deny.class, ApprovalCommands.Watch.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {
  /** Exit status for configuration and usage errors. */
  static final int CONFIG_ERROR = 2;

  @CommandLine.Spec
  CommandLine.Model.CommandSpec spec;

  /** Runs the command line and exits with its status. */
  public static void main(String[] args) {
    selectLogFormat(args, System.getenv("EGRESSD_LOG_FORMAT"));
    System.exit(commandLine().execute(args));
  }

  /**
   * Sets {@code egressd.log.format} for {@link LoggingConfigurator} from {@code --log-format} (or the environment) before the first
   * logger exists; picocli still validates the option. Arguments after {@code --} belong to the child command.
   */
  static void selectLogFormat(String[] args, String fromEnvironment) {
    String format = fromEnvironment;
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--")) {
        break;
      } else if (args[i].equals("--log-format") && i + 1 < args.length) {
        format = args[i + 1];
      } else if (args[i].startsWith("--log-format=")) {
        format = args[i].substring("--log-format=".length());
      }
    }
    if ("json".equals(format) || "text".equals(format)) {
      System.setProperty("egressd.log.format", format);
    }
  }

  /** The configured command line, without exiting; used by tests. */
  static CommandLine commandLine() {
    CommandLine cli = new CommandLine(new Main());
    cli.setExitCodeExceptionMapper(e -> CONFIG_ERROR);
    return cli;
  }

  @Override
  public void run() {
    throw new CommandLine.ParameterException(spec.commandLine(), "missing command: run, check or validate");
  }

  /** Reads the version Maven wrote into the jar. */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() throws IOException {
      return new String[] {"egressd " + version()};
    }

    static String version() throws IOException {
      Properties properties = new Properties();
      try (InputStream in = Main.class.getResourceAsStream("/egressd-version.properties")) {
        if (in != null) {
          properties.load(in);
        }
      }
      return properties.getProperty("version", "unknown");
    }
  }
}
