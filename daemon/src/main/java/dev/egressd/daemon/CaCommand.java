package dev.egressd.daemon;

import dev.egressd.config.ConfigException;
import dev.egressd.config.DaemonConfig;
import dev.egressd.embed.CaLocation;
import dev.egressd.proxy.mitm.CaException;
import dev.egressd.proxy.mitm.CertificateAuthority;
import java.time.Clock;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/** {@code egressd ca path|export|init}: where the MITM CA is, its certificate, or create it now. */
@Command(name = "ca", mixinStandardHelpOptions = true,
    description = {"Manage the TLS interception CA.",
        "  path    print the certificate and key paths",
        "  export  print the CA certificate (PEM) to stdout, e.g. to add it to a trust store",
        "  init    create the CA if it does not exist yet (it is also created on first use by run)"})
final class CaCommand implements Callable<Integer> {
  @Mixin
  ConfigOptions configOptions;

  @Parameters(index = "0", paramLabel = "ACTION", description = "path, export or init")
  String action;

  @Override
  public Integer call() {
    DaemonConfig config;
    try {
      config = configOptions.load(System.getenv());
    } catch (ConfigException e) {
      System.err.println("egressd: invalid configuration:\n" + e.getMessage());
      return Main.CONFIG_ERROR;
    }
    CaLocation location = CaLocation.of(config, System.getenv());
    try {
      switch (action) {
        case "path" -> {
          System.out.println(location.certificate());
          System.out.println(location.key());
        }
        case "export" -> System.out.print(
            CertificateAuthority.load(location.certificate(), location.key(), Clock.systemUTC()).certificatePem());
        case "init" -> {
          CertificateAuthority ca = CertificateAuthority.loadOrCreate(location.certificate(), location.key(),
              Clock.systemUTC());
          System.out.println("egressd: CA " + ca.certificate().getSubjectX500Principal().getName() + " at "
              + location.certificate());
        }
        default -> {
          System.err.println("egressd: unknown ca action " + action + " (expected: path, export or init)");
          return Main.CONFIG_ERROR;
        }
      }
      return 0;
    } catch (CaException e) {
      System.err.println("egressd: " + e.getMessage());
      return Main.CONFIG_ERROR;
    }
  }
}
