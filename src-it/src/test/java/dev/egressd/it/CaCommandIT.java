package dev.egressd.it;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The interception CA on disk: {@code egressd ca path|init|export}, creation on first use by {@code run}, the file
 * modes, and the refusals (exit 2, a message naming the files) when the CA is half present, its key is readable by
 * others, or its key is a symlink; for {@code run} with {@code mitm = true}, {@code ca export} and {@code ca init}.
 */
@Timeout(value = 120, unit = SECONDS)
class CaCommandIT {
  private static final String MITM_CONFIG = """
      [network]
      mode = "limited"
      mitm = true
      allowed_domains = ["allowed.test", "127.0.0.1"]
      """;
  private static final String OWNER_ONLY = "rw-------";
  private static final String WORLD_READABLE = "rw-r--r--";

  @TempDir
  Path temp;

  private Path home;
  private Path config;
  private Path certificate;
  private Path key;

  /** What can be wrong with the CA files; each is applied to a CA made by {@code ca init}. */
  enum Damage {
    CERTIFICATE_WITHOUT_KEY("both paths") {
      @Override
      void apply(Path certificate, Path key) throws IOException {
        Files.delete(key);
      }
    },
    KEY_WITHOUT_CERTIFICATE("both paths") {
      @Override
      void apply(Path certificate, Path key) throws IOException {
        Files.delete(certificate);
      }
    },
    KEY_MODE_0644("0600") {
      @Override
      void apply(Path certificate, Path key) throws IOException {
        Files.setPosixFilePermissions(key, PosixFilePermissions.fromString(WORLD_READABLE));
      }
    },
    KEY_MODE_0640("0600") {
      @Override
      void apply(Path certificate, Path key) throws IOException {
        Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw-r-----"));
      }
    },
    KEY_IS_A_DIRECTORY("regular file") {
      @Override
      void apply(Path certificate, Path key) throws IOException {
        Files.delete(key);
        Files.createDirectory(key);
      }
    },
    KEY_IS_A_SYMLINK("symlink") {
      @Override
      void apply(Path certificate, Path key) throws IOException {
        Path real = Files.move(key, key.resolveSibling("real-ca.key"));
        Files.createSymbolicLink(key, real);
      }
    };

    /** What the refusal must say besides the key path ("both paths": the certificate path too). */
    final String says;

    Damage(String says) {
      this.says = says;
    }

    abstract void apply(Path certificate, Path key) throws IOException;
  }

  /** The commands that load the CA. */
  enum CaUser {
    RUN, EXPORT, INIT
  }

  static Stream<Arguments> everyDamageForEveryCommand() {
    return Arrays.stream(Damage.values())
        .flatMap(damage -> Arrays.stream(CaUser.values()).map(user -> Arguments.of(damage, user)));
  }

  @BeforeEach
  void paths() throws IOException {
    home = temp.resolve("egressd-home");
    config = Files.writeString(temp.resolve("egressd.toml"), MITM_CONFIG);
    certificate = home.resolve("proxy").resolve("ca.pem");
    key = home.resolve("proxy").resolve("ca.key");
  }

  private ProcessResult egressd(String... args) {
    return Egressd.cli(Map.of("EGRESSD_HOME", home.toString(), "CODEX_HOME", temp.resolve("codex").toString(),
        "HOME", temp.toString()), args);
  }

  private ProcessResult ca(String action) {
    return egressd("ca", action, "--config", config.toString());
  }

  private ProcessResult runChild(String... command) {
    List<String> args = new ArrayList<>(List.of("run", "--config", config.toString(), "--listen",
        "127.0.0.1:0", "--socks-listen", "127.0.0.1:0", "--"));
    args.addAll(List.of(command));
    return egressd(args.toArray(String[]::new));
  }

  private static String mode(Path path) throws IOException {
    return PosixFilePermissions.toString(Files.getPosixFilePermissions(path, LinkOption.NOFOLLOW_LINKS));
  }

  @Test
  void caPathPrintsTheCertificateAndKeyUnderEgressdHomeWithoutCreatingThem() {
    ProcessResult result = ca("path");

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(result.stdout()).isEqualTo(certificate + "\n" + key + "\n");
    assertThat(home).doesNotExist();
  }

  @Test
  void caPathPrintsConfiguredPathsResolvedAgainstTheConfigFile() throws IOException {
    Files.writeString(config, MITM_CONFIG + "mitm_ca_cert_path = \"ca/my-ca.pem\"\n"
        + "mitm_ca_key_path = \"ca/my-ca.key\"\n");

    ProcessResult result = ca("path");

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(result.stdout()).isEqualTo(temp.resolve("ca/my-ca.pem") + "\n" + temp.resolve("ca/my-ca.key") + "\n");
  }

  @Test
  void caPathUsesCodexHomeWhenTheConfigIsCodexsOwn() throws IOException {
    Path codexHome = Files.createDirectories(temp.resolve("codex"));
    Path codexConfig = Files.writeString(codexHome.resolve("config.toml"), MITM_CONFIG);

    ProcessResult explicit = egressd("ca", "path", "--config", codexConfig.toString());
    ProcessResult discovered = egressd("ca", "path");

    String expected = codexHome.resolve("proxy/ca.pem") + "\n" + codexHome.resolve("proxy/ca.key") + "\n";
    assertThat(explicit.exitCode()).as("%s", explicit).isZero();
    assertThat(explicit.stdout()).isEqualTo(expected);
    assertThat(discovered.exitCode()).as("%s", discovered).isZero();
    assertThat(discovered.stdout()).isEqualTo(expected);
  }

  @Test
  void onlyOneConfiguredCaPathIsAConfigurationError() throws IOException {
    Files.writeString(config, MITM_CONFIG + "mitm_ca_cert_path = \"ca/my-ca.pem\"\n");

    ProcessResult result = ca("path");

    assertThat(result.exitCode()).as("%s", result).isEqualTo(2);
    assertThat(result.stderr()).contains("mitm_ca_cert_path", "mitm_ca_key_path");
  }

  @Test
  void caInitCreatesAnOwnerOnlyKeyAndAPublicCertificate() throws Exception {
    ProcessResult result = ca("init");

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(mode(key)).isEqualTo(OWNER_ONLY);
    assertThat(mode(certificate)).isEqualTo(WORLD_READABLE);
    assertThat(Files.readString(key)).contains("PRIVATE KEY");
  }

  @Test
  void caInitMakesASelfSignedP256CaWithABoundedValidity() throws Exception {
    ca("init");

    X509Certificate ca = TrustFiles.certificate(certificate);

    ca.verify(ca.getPublicKey()); // self-signed
    assertThat(ca.getSubjectX500Principal()).isEqualTo(ca.getIssuerX500Principal());
    assertThat(ca.getSubjectX500Principal().getName()).containsIgnoringCase("egressd");
    assertThat(ca.getBasicConstraints()).as("basicConstraints CA").isGreaterThanOrEqualTo(0);
    assertThat(ca.getKeyUsage()[5]).as("keyCertSign").isTrue();
    assertThat(ca.getPublicKey()).isInstanceOf(ECPublicKey.class);
    assertThat(((ECPublicKey) ca.getPublicKey()).getParams().getOrder().bitLength()).isEqualTo(256);
    assertThat(ca.getSigAlgName()).isEqualToIgnoringCase("SHA256withECDSA");
    Instant now = Instant.now();
    assertThat(ca.getNotBefore().toInstant()).isBeforeOrEqualTo(now);
    assertThat(ca.getNotAfter().toInstant()).isAfter(now.plus(Duration.ofDays(30)))
        .isBefore(now.plus(Duration.ofDays(3 * 366)));
  }

  @Test
  void caInitTwiceKeepsTheExistingCa() throws Exception {
    ca("init");
    byte[] firstCertificate = Files.readAllBytes(certificate);
    byte[] firstKey = Files.readAllBytes(key);

    ProcessResult again = ca("init");

    assertThat(again.exitCode()).as("%s", again).isZero();
    assertThat(Files.readAllBytes(certificate)).isEqualTo(firstCertificate);
    assertThat(Files.readAllBytes(key)).isEqualTo(firstKey);
  }

  @Test
  void caExportPrintsTheCaCertificateAndNoKey() throws Exception {
    ca("init");

    ProcessResult result = ca("export");

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(result.stdout()).isEqualTo(Files.readString(certificate));
    assertThat(result.stdout()).startsWith("-----BEGIN CERTIFICATE-----").doesNotContain("PRIVATE KEY");
  }

  @Test
  void caExportWithoutACaFailsNamingTheFilesAndCreatesNothing() {
    ProcessResult result = ca("export");

    assertThat(result.exitCode()).as("%s", result).isEqualTo(2);
    assertThat(result.stdout()).isEmpty();
    assertThat(result.stderr()).contains(certificate.toString(), key.toString(), "ca init");
    assertThat(home).doesNotExist();
  }

  @Test
  void runWithMitmCreatesTheCaAndTheClientTrustFilesOnFirstUse() throws Exception {
    ProcessResult result = runChild("sh", "-c", "echo child-ran");

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(result.stdout()).isEqualTo("child-ran\n");
    assertThat(result.stderr()).contains("CA " + certificate);
    assertThat(mode(key)).isEqualTo(OWNER_ONLY);
    assertThat(mode(certificate)).isEqualTo(WORLD_READABLE);
    assertThat(certificate.resolveSibling("ca-bundle.pem")).isRegularFile();
    assertThat(certificate.resolveSibling("truststore.p12")).isRegularFile();
  }

  @Test
  void runReusesTheCaThatCaInitMade() throws Exception {
    ca("init");
    byte[] made = Files.readAllBytes(certificate);

    ProcessResult result = runChild("sh", "-c", "echo child-ran");

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(Files.readAllBytes(certificate)).isEqualTo(made);
  }

  @Test
  void runWithoutMitmNeverCreatesACa() throws Exception {
    Files.writeString(config, MITM_CONFIG.replace("mitm = true", "mitm = false"));

    ProcessResult result = runChild("sh", "-c", "echo child-ran");

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(result.stdout()).doesNotContain("TLS interception");
    assertThat(certificate).doesNotExist();
    assertThat(key).doesNotExist();
  }

  @Test
  void ownerReadOnlyKeyIsAccepted() throws Exception {
    ca("init");
    Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("r--------"));

    ProcessResult export = ca("export");
    ProcessResult run = runChild("sh", "-c", "echo child-ran");

    assertThat(export.exitCode()).as("%s", export).isZero();
    assertThat(run.exitCode()).as("%s", run).isZero();
    assertThat(run.stdout()).contains("child-ran");
  }

  @ParameterizedTest(name = "{1} refuses a CA with {0}")
  @MethodSource("everyDamageForEveryCommand")
  void damagedCaIsRefusedWithExit2AndAMessageNamingTheFiles(Damage damage, CaUser user) throws Exception {
    ProcessResult init = ca("init");
    assertThat(init.exitCode()).as("%s", init).isZero();
    damage.apply(certificate, key);
    List<String> before = listing();

    ProcessResult result = switch (user) {
      case RUN -> runChild("sh", "-c", "echo child-ran");
      case EXPORT -> ca("export");
      case INIT -> ca("init");
    };

    assertThat(result.exitCode()).as("%s", result).isEqualTo(2);
    assertThat(result.stdout()).doesNotContain("child-ran", "BEGIN CERTIFICATE");
    assertThat(result.stderr()).contains(key.toString());
    if (damage.says.equals("both paths")) {
      assertThat(result.stderr()).contains(certificate.toString());
    } else {
      assertThat(result.stderr()).contains(damage.says);
    }
    assertThat(listing()).as("nothing created or replaced").isEqualTo(before);
  }

  /** The entries of the CA directory, each with its content hash (symlinks and directories by name). */
  private List<String> listing() throws IOException {
    try (Stream<Path> files = Files.list(certificate.getParent())) {
      return files.sorted().map(CaCommandIT::describe).toList();
    }
  }

  private static String describe(Path path) {
    try {
      if (Files.isSymbolicLink(path)) {
        return path.getFileName() + " -> " + Files.readSymbolicLink(path);
      }
      return Files.isDirectory(path) ? path.getFileName() + "/"
          : path.getFileName() + " " + TestData.sha256(Files.readAllBytes(path));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
