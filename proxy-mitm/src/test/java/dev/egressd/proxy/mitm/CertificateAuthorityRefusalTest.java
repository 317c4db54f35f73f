package dev.egressd.proxy.mitm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CertificateAuthorityRefusalTest {
  private static final Instant NOW = Instant.parse("2026-03-01T12:00:00Z");
  private static final Clock CLOCK = Clock.fixed(NOW, ZoneOffset.UTC);

  @TempDir Path dir;
  private Path cert;
  private Path key;

  @BeforeEach
  void paths() {
    cert = dir.resolve("ca.pem");
    key = dir.resolve("ca.key");
  }

  @Test
  void onlyCertificateIsRefused() throws Exception {
    createCa();
    Files.delete(key);

    assertRefused("both MITM CA files must exist (cert=" + cert + ", key=" + key + "); " + key
        + " is missing: restore it, or remove " + cert + " to create a new CA");
  }

  @Test
  void onlyKeyIsRefused() throws Exception {
    createCa();
    Files.delete(cert);

    assertRefused("both MITM CA files must exist (cert=" + cert + ", key=" + key + "); " + cert
        + " is missing: restore it, or remove " + key + " to create a new CA");
  }

  @Test
  void symlinkedKeyIsRefused() throws Exception {
    Path real = dir.resolve("real");
    CertificateAuthority.loadOrCreate(real.resolve("ca.pem"), real.resolve("ca.key"), CLOCK);
    Files.copy(real.resolve("ca.pem"), cert);
    Files.createSymbolicLink(key, real.resolve("ca.key"));

    assertRefused("refusing to use symlink for MITM CA key " + key);
  }

  @Test
  void keyThatIsNotARegularFileIsRefused() throws Exception {
    createCa();
    Files.delete(key);
    Files.createDirectory(key);

    assertRefused("MITM CA key " + key + " is not a regular file");
  }

  @Test
  void groupReadableKeyIsRefused() throws Exception {
    createCa();
    Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw-r--r--"));

    assertRefused("MITM CA key " + key + " must not be group/world accessible (mode=0644; expected 0600); "
        + "fix it with: chmod 600 " + key);
  }

  @Test
  void groupWritableKeyIsRefused() throws Exception {
    createCa();
    Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw--w----"));

    assertThatThrownBy(() -> CertificateAuthority.load(cert, key, CLOCK)).hasMessageContaining("(mode=0620;");
  }

  @Test
  void ownerOnlyKeyWithStricterModeIsAccepted() throws Exception {
    createCa();
    Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("r--------"));

    assertThat(CertificateAuthority.load(cert, key, CLOCK).certificate()).isNotNull();
  }

  @Test
  void garbageCertificateIsRefused() throws Exception {
    createCa();
    Files.writeString(cert, "this is not PEM\n");

    assertRefused("cannot parse MITM CA certificate " + cert + ": no PEM block found");
  }

  @Test
  void keyInTheCertificateFileIsRefused() throws Exception {
    createCa();
    Files.copy(key, cert, StandardCopyOption.REPLACE_EXISTING);

    assertThatThrownBy(() -> CertificateAuthority.load(cert, key, CLOCK))
        .hasMessageStartingWith("cannot parse MITM CA certificate " + cert + ": expected a PEM CERTIFICATE block");
  }

  @Test
  void garbageKeyIsRefusedWithoutQuotingIt() throws Exception {
    createCa();
    writeKey("-----BEGIN PRIVATE KEY-----\nc2VjcmV0IGJ1dCBub3QgYSBrZXk=\n-----END PRIVATE KEY-----\n");

    assertThatThrownBy(() -> CertificateAuthority.load(cert, key, CLOCK))
        .isInstanceOf(CaException.class)
        .hasMessageStartingWith("cannot parse MITM CA key " + key + ": ")
        .hasMessageNotContaining("c2VjcmV0");
  }

  @Test
  void keyOfAnotherCaIsRefused() throws Exception {
    createCa();
    Path other = dir.resolve("other");
    CertificateAuthority.loadOrCreate(other.resolve("ca.pem"), other.resolve("ca.key"), CLOCK);
    Files.copy(other.resolve("ca.key"), key, StandardCopyOption.REPLACE_EXISTING);

    assertRefused("MITM CA key " + key + " does not match the public key of certificate " + cert);
  }

  @Test
  void certificateThatIsNotACaIsRefused() throws Exception {
    KeyPair keys = Certificates.newEcKeyPair();
    writePair(selfSigned(keys, new BasicConstraints(false), null), keys);

    assertRefused("MITM CA certificate " + cert + " is not a CA certificate (expected: basicConstraints CA:true)");
  }

  @Test
  void caCertificateWithoutKeyCertSignIsRefused() throws Exception {
    KeyPair keys = Certificates.newEcKeyPair();
    writePair(selfSigned(keys, new BasicConstraints(true), new KeyUsage(KeyUsage.digitalSignature)), keys);

    assertRefused("MITM CA certificate " + cert + " may not sign certificates (expected: keyUsage keyCertSign)");
  }

  @Test
  void expiredCertificateIsRefused() throws Exception {
    CertificateAuthority ca = createCa();
    Instant later = NOW.plus(Duration.ofDays(3 * 365));

    assertThatThrownBy(() -> CertificateAuthority.load(cert, key, Clock.fixed(later, ZoneOffset.UTC)))
        .isInstanceOf(CaException.class)
        .hasMessage("MITM CA certificate " + cert + " expired at " + ca.certificate().getNotAfter().toInstant()
            + " (now " + later + "); remove both CA files to create a new CA, and trust the new one in clients");
  }

  @Test
  void certificateNotYetValidIsRefused() throws Exception {
    createCa();
    Instant earlier = NOW.minus(Duration.ofDays(1));

    assertThatThrownBy(() -> CertificateAuthority.loadOrCreate(cert, key, Clock.fixed(earlier, ZoneOffset.UTC)))
        .isInstanceOf(CaException.class)
        .hasMessageStartingWith("MITM CA certificate " + cert + " is not valid before ")
        .hasMessageEndingWith("; check the system clock");
  }

  @Test
  void traditionalEcPrivateKeyIsAccepted() throws Exception {
    CertificateAuthority ca = createCa();
    StringWriter sec1 = new StringWriter();
    try (JcaPEMWriter writer = new JcaPEMWriter(sec1)) {
      writer.writeObject(new KeyPair(ca.certificate().getPublicKey(), ca.privateKey()));
    }
    writeKey(sec1.toString());

    assertThat(sec1.toString()).startsWith("-----BEGIN EC PRIVATE KEY-----");
    assertThat(CertificateAuthority.load(cert, key, CLOCK).certificate()).isEqualTo(ca.certificate());
  }

  private CertificateAuthority createCa() throws CaException {
    return CertificateAuthority.loadOrCreate(cert, key, CLOCK);
  }

  private void assertRefused(String message) {
    assertThatThrownBy(() -> CertificateAuthority.loadOrCreate(cert, key, CLOCK))
        .isInstanceOf(CaException.class)
        .hasMessage(message);
    assertThatThrownBy(() -> CertificateAuthority.load(cert, key, CLOCK))
        .isInstanceOf(CaException.class)
        .hasMessage(message);
  }

  private void writeKey(String pem) throws IOException {
    Files.deleteIfExists(key);
    Files.writeString(key, pem);
    Files.setPosixFilePermissions(key, CaFiles.KEY_MODE);
  }

  private void writePair(X509Certificate certificate, KeyPair keys) throws Exception {
    Files.writeString(cert, Pem.encode(Pem.CERTIFICATE, certificate.getEncoded()));
    writeKey(Pem.encodePrivateKey(keys.getPrivate()));
  }

  private static X509Certificate selfSigned(KeyPair keys, BasicConstraints constraints,
      KeyUsage usage) throws IOException {
    X500Name name = new X500Name("CN=not a CA");
    X509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(name, Certificates.randomSerial(),
        Certificates.x509Time(NOW.minus(Duration.ofDays(1))), Certificates.x509Time(NOW.plus(Duration.ofDays(1))),
        name, keys.getPublic());
    builder.addExtension(Extension.basicConstraints, true, constraints);
    if (usage != null) {
      builder.addExtension(Extension.keyUsage, true, usage);
    }
    return Certificates.sign(builder, keys.getPrivate());
  }
}
