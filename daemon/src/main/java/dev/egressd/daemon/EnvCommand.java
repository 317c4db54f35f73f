package dev.egressd.daemon;

import dev.egressd.config.ConfigException;
import dev.egressd.config.DaemonConfig;
import dev.egressd.config.ListenerSettings;
import dev.egressd.config.SocksCredentials;
import dev.egressd.daemon.ClientEnvironment.Reference;
import dev.egressd.daemon.ClientEnvironment.Segment;
import dev.egressd.daemon.ClientEnvironment.Text;
import dev.egressd.daemon.ClientEnvironment.Variable;
import dev.egressd.embed.Interception;
import dev.egressd.policy.Credential;
import dev.egressd.proxy.mitm.CaException;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code egressd env}: the variables a client needs to use a proxy running with the same configuration, written for
 * a shell or as an env file. They are the variables {@code egressd run -- CMD} gives its child
 * ({@link ClientEnvironment#variables}), with one difference: a SOCKS5 password is never printed; the SOCKS5 URL
 * refers to the variable named by {@code socks_password_env} instead, which the shell expands (so the password must
 * not need URL encoding there).
 */
@Command(name = "env", mixinStandardHelpOptions = true,
    description = {"Print the proxy variables for clients of a proxy run with the same configuration:",
        "  eval \"$(egressd env --config egressd.toml)\"                  (sh, bash, zsh)",
        "  egressd env --shell fish --config egressd.toml | source",
        "  egressd env --shell powershell --config egressd.toml | Invoke-Expression",
        "  egressd env --format dotenv --config egressd.toml > proxy.env   (Docker Compose env_file, python-dotenv)",
        "JAVA_TOOL_OPTIONS is appended to its current value (except in dotenv); see docs/clients.md."})
final class EnvCommand implements Callable<Integer> {
  /** Values of {@code --shell}. */
  enum Shell {
    sh(ShellSyntax.SH),
    fish(ShellSyntax.FISH),
    powershell(ShellSyntax.POWERSHELL);

    private final ShellSyntax syntax;

    Shell(ShellSyntax syntax) {
      this.syntax = syntax;
    }
  }

  /** Values of {@code --format}. */
  enum Format {
    shell,
    dotenv
  }

  @Mixin
  ConfigOptions configOptions;

  @Option(names = "--shell", paramLabel = "SHELL",
      description = "sh (default; also bash, zsh, dash, ksh), fish or powershell.")
  Shell shell;

  @Option(names = "--format", paramLabel = "FORMAT",
      description = "shell (default): commands for --shell; dotenv: NAME=value lines for an env file.")
  Format format = Format.shell;

  @Override
  public Integer call() {
    if (format == Format.dotenv && shell != null) {
      System.err.println("egressd: --shell " + shell + " with --format dotenv (expected: one of them; an env file"
          + " is the same for every shell)");
      return Main.CONFIG_ERROR;
    }
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
    ListenerSettings listeners = config.listeners();
    if (listeners.http().getPort() == 0 || listeners.socksEnabled() && listeners.socks().getPort() == 0) {
      System.err.println("egressd: a listener uses port 0 (a free port picked at start); give it a fixed port"
          + " (--listen, --socks-listen), or use run, which prints the exports for the ports it got");
      return Main.CONFIG_ERROR;
    }
    try {
      List<Variable> variables = ClientEnvironment.variables(listeners.http(),
          listeners.socksEnabled() ? listeners.socks() : null, socksUserInfo(listeners.socksCredentials()),
          config.policy().allowLocalBinding(), interception == null ? null : interception.trust());
      variables = new java.util.ArrayList<>(variables);
      for (Credential credential : config.policy().credentials().all()) {
        if (credential.secretVariable() != null && !credential.secretVariable().equals(credential.childVariable())) {
          variables.add(Variable.of(credential.secretVariable(), "")); // the agent's shell must not keep the secret
        }
        variables.add(Variable.of(credential.childVariable(), credential.dummy()));
      }
      System.out.print(syntax().render(variables));
      System.out.flush();
    } catch (IllegalArgumentException e) {
      System.err.println("egressd: cannot write the variables: " + e.getMessage());
      return Main.CONFIG_ERROR;
    }
    return 0;
  }

  private ShellSyntax syntax() {
    return format == Format.dotenv ? ShellSyntax.DOTENV : (shell == null ? Shell.sh : shell).syntax;
  }

  /** {@code user:} and a reference to the password's variable: the output names the secret, never contains it. */
  private static List<Segment> socksUserInfo(SocksCredentials credentials) {
    return credentials == null ? null : List.of(new Text(ClientEnvironment.urlEncode(credentials.username()) + ":"),
        new Reference(credentials.passwordVariable()));
  }
}
