package dev.egressd.proxy.mitm;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.NoSuchAlgorithmException;
import java.security.PrivateKey;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.Period;
import java.time.ZoneOffset;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The egressd MITM certificate authority: the certificate and private key that sign the leaf certificates
 * {@link LeafMinter} presents to clients inside intercepted tunnels.
 *
 * <p>Anyone holding the key can impersonate any site to a client that trusts the certificate, so the key is
 * treated like an SSH private key. It is kept as two PEM files, by default {@code ca.pem} (the certificate, mode
 * 0644) and {@code ca.key} (an unencrypted PKCS#8 {@code PRIVATE KEY}, mode 0600) in the {@code proxy} directory of
 * the egressd or Codex home; Codex uses the same two files.
 *
 * <h2>A generated CA</h2>
 * {@link #loadOrCreate} generates one when neither file exists: a self-signed ECDSA P-256 / SHA-256 certificate
 * named {@code CN=egressd MITM CA (<host> <date>), O=egressd}, valid from one hour ago (clock skew) for two years,
 * with a random 128-bit serial, a subject key identifier, {@code basicConstraints CA:true, pathlen:0} (critical: it
 * signs leaves only) and {@code keyUsage keyCertSign, cRLSign} (critical). The key is written before the
 * certificate, each through a temp file created with its final mode, synced, and hard-linked into place (so an
 * existing file is never replaced and a crash never leaves a partial file); if the certificate cannot be written
 * the key is removed again, so a failed start leaves either both files or neither.
 *
 * <h2>Checks on every load</h2>
 * Each failure is a {@link CaException} naming the file(s) and the fix:
 * <ol>
 *   <li>both files exist (one alone means a half-finished or half-deleted CA: egressd will not guess);</li>
 *   <li>the key is not a symlink, is a regular file, and has no group or other permission bits (POSIX only);</li>
 *   <li>both parse as PEM, the key is EC or RSA, and it is the private half of the certificate's public key;</li>
 *   <li>the certificate is a CA (basicConstraints CA, and keyCertSign when keyUsage is present) and valid now.</li>
 * </ol>
 *
 * <p>Instances are immutable and thread-safe.
 */
public final class CertificateAuthority {
  private static final Logger log = LoggerFactory.getLogger(CertificateAuthority.class);
  private static final Duration BACKDATE = Duration.ofHours(1);
  private static final Period VALIDITY = Period.ofYears(2);
  private static final Duration EXPIRY_WARNING = Duration.ofDays(30);
  /** RFC 5280 ub-common-name. */
  private static final int MAX_COMMON_NAME = 64;

  private final X509Certificate certificate;
  private final PrivateKey privateKey;
  private final String certificatePem;

  private CertificateAuthority(X509Certificate certificate, PrivateKey privateKey) {
    this.certificate = certificate;
    this.privateKey = privateKey;
    this.certificatePem = Pem.encode(Pem.CERTIFICATE, encoded(certificate));
  }

  /**
   * Loads the CA from {@code certPem} and {@code keyPem}, or creates both files when neither exists (parent
   * directories are created with mode 0700).
   *
   * @throws CaException when only one file exists, a file cannot be read, written or parsed, or a check listed in
   *     the class documentation fails
   */
  public static CertificateAuthority loadOrCreate(Path certPem, Path keyPem, Clock clock) throws CaException {
    requireNonNull(certPem, "certPem");
    requireNonNull(keyPem, "keyPem");
    requireNonNull(clock, "clock");
    if (!CaFiles.exists(certPem) && !CaFiles.exists(keyPem)) {
      return create(certPem, keyPem, clock);
    }
    return load(certPem, keyPem, clock);
  }

  /**
   * Loads the CA from {@code certPem} and {@code keyPem}; never creates anything.
   *
   * @throws CaException when either file is missing, cannot be read or parsed, or a check listed in the class
   *     documentation fails
   */
  public static CertificateAuthority load(Path certPem, Path keyPem, Clock clock) throws CaException {
    requireNonNull(certPem, "certPem");
    requireNonNull(keyPem, "keyPem");
    requireNonNull(clock, "clock");
    requireBoth(certPem, keyPem);
    CaFiles.checkKeyFile(keyPem);
    X509Certificate certificate = readCertificate(certPem);
    PrivateKey key = readKey(keyPem);
    checkPair(certificate, key, certPem, keyPem);
    checkIsCa(certificate, certPem);
    checkValidity(certificate, certPem, clock.instant());
    return new CertificateAuthority(certificate, key);
  }

  /** The CA certificate, which clients must trust. */
  public X509Certificate certificate() {
    return certificate;
  }

  /** The CA certificate as one PEM {@code CERTIFICATE} block, for {@code egressd ca export} and CA bundles. */
  public String certificatePem() {
    return certificatePem;
  }

  /** The CA's private key; only for signing leaves. */
  PrivateKey privateKey() {
    return privateKey;
  }

  /** The subject and validity; never the key. */
  @Override
  public String toString() {
    return "CertificateAuthority{subject=" + certificate.getSubjectX500Principal() + ", notAfter="
        + certificate.getNotAfter().toInstant() + "}";
  }

  /** A new CA, not yet stored, issued at {@code now} on the machine named {@code machine}. */
  static CertificateAuthority generate(Instant now, String machine) {
    KeyPair keys = Certificates.newEcKeyPair();
    X500Name name = new X500NameBuilder(BCStyle.INSTANCE)
        .addRDN(BCStyle.O, "egressd")
        .addRDN(BCStyle.CN, commonName(machine, now))
        .build();
    Instant notAfter = now.atOffset(ZoneOffset.UTC).plus(VALIDITY).toInstant();
    X509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(name, Certificates.randomSerial(),
        Certificates.x509Time(now.minus(BACKDATE)), Certificates.x509Time(notAfter), name, keys.getPublic());
    try {
      builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(0))
          .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign))
          .addExtension(Extension.subjectKeyIdentifier, false,
              new JcaX509ExtensionUtils().createSubjectKeyIdentifier(keys.getPublic()));
    } catch (IOException | NoSuchAlgorithmException e) {
      throw new IllegalStateException("cannot build the MITM CA certificate", e);
    }
    return new CertificateAuthority(Certificates.sign(builder, keys.getPrivate()), keys.getPrivate());
  }

  private static CertificateAuthority create(Path certPem, Path keyPem, Clock clock) throws CaException {
    CertificateAuthority ca = generate(clock.instant(), machineName());
    ca.store(certPem, keyPem);
    log.info("generated MITM CA (cert_path={}, key_path={}, subject={})", certPem, keyPem,
        ca.certificate.getSubjectX500Principal());
    return ca;
  }

  /** Key first: a certificate must never exist without its key, and a lone key is removed again below. */
  private void store(Path certPem, Path keyPem) throws CaException {
    try {
      CaFiles.writeNew(keyPem, ascii(Pem.encodePrivateKey(privateKey)), CaFiles.KEY_MODE);
    } catch (IOException e) {
      throw new CaException("cannot write MITM CA key " + keyPem + ": " + e, e);
    }
    try {
      CaFiles.writeNew(certPem, ascii(certificatePem), CaFiles.CERT_MODE);
    } catch (IOException | CaException e) {
      String cleanup = deleteKey(keyPem, e);
      String why = e instanceof CaException ? e.getMessage() : "cannot write MITM CA certificate " + certPem + ": " + e;
      throw new CaException(why + cleanup, e);
    }
  }

  private static String deleteKey(Path keyPem, Exception failure) {
    try {
      Files.deleteIfExists(keyPem);
      return " (removed the key " + keyPem + " written just before)";
    } catch (IOException e) {
      failure.addSuppressed(e);
      return " (and could not remove the key " + keyPem + " written just before: remove it by hand)";
    }
  }

  private static void requireBoth(Path certPem, Path keyPem) throws CaException {
    boolean cert = CaFiles.exists(certPem);
    boolean key = CaFiles.exists(keyPem);
    if (!cert && !key) {
      throw new CaException("MITM CA not found (cert=" + certPem + ", key=" + keyPem
          + "); create it with `egressd ca init`");
    }
    if (!cert || !key) {
      Path missing = cert ? keyPem : certPem;
      Path present = cert ? certPem : keyPem;
      throw new CaException("both MITM CA files must exist (cert=" + certPem + ", key=" + keyPem + "); " + missing
          + " is missing: restore it, or remove " + present + " to create a new CA");
    }
  }

  private static X509Certificate readCertificate(Path certPem) throws CaException {
    String text = read(certPem, "certificate");
    try {
      return Pem.decodeCertificate(text);
    } catch (IOException e) {
      throw new CaException("cannot parse MITM CA certificate " + certPem + ": " + e.getMessage(), e);
    }
  }

  private static PrivateKey readKey(Path keyPem) throws CaException {
    String text = read(keyPem, "key");
    try {
      return Pem.decodePrivateKey(text);
    } catch (IOException e) {
      throw new CaException("cannot parse MITM CA key " + keyPem + ": " + e.getMessage(), e);
    }
  }

  private static String read(Path file, String what) throws CaException {
    try {
      return Files.readString(file, StandardCharsets.ISO_8859_1);
    } catch (IOException e) {
      throw new CaException("cannot read MITM CA " + what + " " + file + ": " + e, e);
    }
  }

  private static void checkPair(X509Certificate certificate, PrivateKey key, Path certPem, Path keyPem)
      throws CaException {
    if (Certificates.signatureAlgorithm(key).isEmpty()) {
      throw new CaException("MITM CA key " + keyPem + " is a " + key.getAlgorithm() + " key (expected: EC or RSA)");
    }
    if (!Certificates.isKeyPair(certificate.getPublicKey(), key)) {
      throw new CaException("MITM CA key " + keyPem + " does not match the public key of certificate " + certPem);
    }
  }

  private static void checkIsCa(X509Certificate certificate, Path certPem) throws CaException {
    if (certificate.getBasicConstraints() < 0) {
      throw new CaException("MITM CA certificate " + certPem
          + " is not a CA certificate (expected: basicConstraints CA:true)");
    }
    boolean[] keyUsage = certificate.getKeyUsage();
    if (keyUsage != null && (keyUsage.length <= 5 || !keyUsage[5])) {
      throw new CaException("MITM CA certificate " + certPem
          + " may not sign certificates (expected: keyUsage keyCertSign)");
    }
  }

  private static void checkValidity(X509Certificate certificate, Path certPem, Instant now) throws CaException {
    Instant notBefore = certificate.getNotBefore().toInstant();
    Instant notAfter = certificate.getNotAfter().toInstant();
    if (now.isAfter(notAfter)) {
      throw new CaException("MITM CA certificate " + certPem + " expired at " + notAfter + " (now " + now
          + "); remove both CA files to create a new CA, and trust the new one in clients");
    }
    if (now.isBefore(notBefore)) {
      throw new CaException("MITM CA certificate " + certPem + " is not valid before " + notBefore + " (now " + now
          + "); check the system clock");
    }
    if (now.plus(EXPIRY_WARNING).isAfter(notAfter)) {
      log.warn("MITM CA certificate {} expires at {}", certPem, notAfter);
    }
  }

  private static String commonName(String machine, Instant now) {
    String date = LocalDate.ofInstant(now, ZoneOffset.UTC).toString();
    String prefix = "egressd MITM CA (";
    int room = MAX_COMMON_NAME - prefix.length() - date.length() - 2;
    String host = machine.length() > room ? machine.substring(0, room) : machine;
    return prefix + host + " " + date + ")";
  }

  private static String machineName() {
    String fromEnvironment = System.getenv("HOSTNAME");
    if (fromEnvironment != null && !fromEnvironment.isBlank()) {
      return fromEnvironment.strip();
    }
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (IOException e) {
      return "unknown host";
    }
  }

  private static byte[] ascii(String pem) {
    return pem.getBytes(StandardCharsets.US_ASCII);
  }

  private static byte[] encoded(X509Certificate certificate) {
    try {
      return certificate.getEncoded();
    } catch (CertificateEncodingException e) {
      throw new IllegalStateException("cannot encode the MITM CA certificate", e);
    }
  }
}
