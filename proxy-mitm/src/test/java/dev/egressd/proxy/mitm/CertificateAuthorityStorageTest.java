package dev.egressd.proxy.mitm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CertificateAuthorityStorageTest {
  private static final Clock CLOCK = Clock.fixed(Instant.parse("2026-03-01T12:00:00Z"), ZoneOffset.UTC);

  @TempDir Path dir;

  @Test
  void creationWritesKeyOwnerOnlyAndCertificateWorldReadable() throws Exception {
    Path cert = dir.resolve("ca.pem");
    Path key = dir.resolve("ca.key");

    CertificateAuthority.loadOrCreate(cert, key, CLOCK);

    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(key))).isEqualTo("rw-------");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(cert))).isEqualTo("rw-r--r--");
  }

  @Test
  void creationWritesPemCertificateAndPkcs8Key() throws Exception {
    Path cert = dir.resolve("ca.pem");
    Path key = dir.resolve("ca.key");

    CertificateAuthority ca = CertificateAuthority.loadOrCreate(cert, key, CLOCK);

    assertThat(Files.readString(cert)).startsWith("-----BEGIN CERTIFICATE-----\n")
        .endsWith("-----END CERTIFICATE-----\n")
        .isEqualTo(ca.certificatePem());
    assertThat(Files.readString(key)).startsWith("-----BEGIN PRIVATE KEY-----\n")
        .endsWith("-----END PRIVATE KEY-----\n");
  }

  @Test
  void creationMakesMissingParentDirectoriesOwnerOnly() throws Exception {
    Path home = dir.resolve("home");
    Path proxy = home.resolve("proxy");

    CertificateAuthority.loadOrCreate(proxy.resolve("ca.pem"), proxy.resolve("ca.key"), CLOCK);

    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(home))).isEqualTo("rwx------");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(proxy))).isEqualTo("rwx------");
  }

  @Test
  void creationLeavesNoTempFiles() throws Exception {
    CertificateAuthority.loadOrCreate(dir.resolve("ca.pem"), dir.resolve("ca.key"), CLOCK);

    try (Stream<Path> files = Files.list(dir)) {
      assertThat(files.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("ca.pem", "ca.key");
    }
  }

  @Test
  void reloadGivesTheSameCertificateAndKey() throws Exception {
    Path cert = dir.resolve("ca.pem");
    Path key = dir.resolve("ca.key");
    CertificateAuthority created = CertificateAuthority.loadOrCreate(cert, key, CLOCK);

    CertificateAuthority loaded = CertificateAuthority.load(cert, key, CLOCK);
    CertificateAuthority reloaded = CertificateAuthority.loadOrCreate(cert, key, CLOCK);

    assertThat(loaded.certificate()).isEqualTo(created.certificate());
    assertThat(reloaded.certificate()).isEqualTo(created.certificate());
    assertThat(loaded.privateKey().getEncoded()).isEqualTo(created.privateKey().getEncoded());
    assertThat(loaded.certificatePem()).isEqualTo(created.certificatePem());
  }

  @Test
  void failureWritingTheCertificateRemovesTheKeyWrittenBefore() throws IOException {
    Files.writeString(dir.resolve("blocker"), "a regular file where the certificate's directory should be");
    Path cert = dir.resolve("blocker").resolve("ca.pem");
    Path key = dir.resolve("keys").resolve("ca.key");

    assertThatThrownBy(() -> CertificateAuthority.loadOrCreate(cert, key, CLOCK))
        .isInstanceOf(CaException.class)
        .hasMessageStartingWith("cannot write MITM CA certificate " + cert + ": ")
        .hasMessageEndingWith("(removed the key " + key + " written just before)");
    assertThat(key).doesNotExist();
    try (Stream<Path> files = Files.list(dir.resolve("keys"))) {
      assertThat(files).isEmpty();
    }
  }

  @Test
  void existingKeyWithoutCertificateIsRefusedAndLeftUnchanged() throws IOException {
    Path cert = dir.resolve("ca.pem");
    Path key = dir.resolve("ca.key");
    Files.writeString(key, "precious\n");
    Files.setPosixFilePermissions(key, CaFiles.KEY_MODE);

    assertThatThrownBy(() -> CertificateAuthority.loadOrCreate(cert, key, CLOCK))
        .isInstanceOf(CaException.class)
        .hasMessageStartingWith("both MITM CA files must exist (cert=" + cert + ", key=" + key + ")");
    assertThat(Files.readString(key)).isEqualTo("precious\n");
    assertThat(cert).doesNotExist();
  }

  @Test
  void writeNewRefusesToOverwriteAnExistingFile() throws IOException {
    Path target = dir.resolve("ca.key");
    Files.writeString(target, "precious\n");

    assertThatThrownBy(() -> CaFiles.writeNew(target, bytes("new\n"), CaFiles.KEY_MODE))
        .isInstanceOf(CaException.class)
        .hasMessage("refusing to overwrite existing file " + target);
    assertThat(Files.readString(target)).isEqualTo("precious\n");
  }

  @Test
  void writeNewRefusesADanglingSymlink() throws IOException {
    Path target = dir.resolve("ca.key");
    Path elsewhere = dir.resolve("elsewhere");
    Files.createSymbolicLink(target, elsewhere);

    assertThatThrownBy(() -> CaFiles.writeNew(target, bytes("new\n"), CaFiles.KEY_MODE))
        .isInstanceOf(CaException.class)
        .hasMessage("refusing to overwrite existing file " + target);
    assertThat(elsewhere).doesNotExist();
  }

  @Test
  void loadNeverCreates() {
    Path cert = dir.resolve("ca.pem");
    Path key = dir.resolve("ca.key");

    assertThatThrownBy(() -> CertificateAuthority.load(cert, key, CLOCK))
        .isInstanceOf(CaException.class)
        .hasMessage("MITM CA not found (cert=" + cert + ", key=" + key + "); create it with `egressd ca init`");
    assertThat(dir).isEmptyDirectory();
  }

  @Test
  void toStringNamesTheSubjectButNotTheKey() throws Exception {
    CertificateAuthority ca = CertificateAuthority.loadOrCreate(dir.resolve("ca.pem"), dir.resolve("ca.key"), CLOCK);

    assertThat(ca.toString()).contains("egressd MITM CA").doesNotContain("PRIVATE");
  }

  private static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.US_ASCII);
  }
}
