package dev.egressd.proxy.mitm;

import java.math.BigInteger;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.Provider;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Date;
import java.util.Optional;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * The Bouncy Castle plumbing shared by the CA and the leaf minter. The provider is passed explicitly to every
 * builder and converter and never installed globally, so egressd does not change the JVM's provider list.
 */
final class Certificates {
  /** One instance: constructing the provider is expensive. */
  static final Provider PROVIDER = new BouncyCastleProvider();

  private static final SecureRandom RANDOM = new SecureRandom();

  private Certificates() {}

  /** A new ECDSA P-256 (secp256r1) key pair. */
  static KeyPair newEcKeyPair() {
    try {
      KeyPairGenerator generator = KeyPairGenerator.getInstance("EC", PROVIDER);
      generator.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
      return generator.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("cannot generate an EC P-256 key pair", e);
    }
  }

  /** A random positive 128-bit serial number (RFC 5280 4.1.2.2: positive, at most 20 octets, unpredictable). */
  static BigInteger randomSerial() {
    BigInteger serial;
    do {
      serial = new BigInteger(128, RANDOM);
    } while (serial.signum() == 0);
    return serial;
  }

  /** The SHA-256 signature algorithm for {@code key}, if egressd can sign with keys of its type. */
  static Optional<String> signatureAlgorithm(PublicKey key) {
    return signatureAlgorithm(key.getAlgorithm());
  }

  /** The SHA-256 signature algorithm for {@code key}, if egressd can sign with keys of its type. */
  static Optional<String> signatureAlgorithm(PrivateKey key) {
    return signatureAlgorithm(key.getAlgorithm());
  }

  /** Signs the certificate in {@code builder} with {@code issuerKey}. */
  static X509Certificate sign(X509v3CertificateBuilder builder, PrivateKey issuerKey) {
    String algorithm = signatureAlgorithm(issuerKey).orElseThrow(() -> new IllegalArgumentException(
        "issuerKey: " + issuerKey.getAlgorithm() + " (expected: EC or RSA)"));
    try {
      var signer = new JcaContentSignerBuilder(algorithm).setProvider(PROVIDER).build(issuerKey);
      return new JcaX509CertificateConverter().setProvider(PROVIDER).getCertificate(builder.build(signer));
    } catch (OperatorCreationException | GeneralSecurityException e) {
      throw new IllegalStateException("cannot sign a certificate with " + algorithm, e);
    }
  }

  /** True when {@code privateKey} is the private half of {@code publicKey}: what one signs, the other verifies. */
  static boolean isKeyPair(PublicKey publicKey, PrivateKey privateKey) {
    Optional<String> algorithm = signatureAlgorithm(privateKey);
    if (algorithm.isEmpty() || !algorithm.equals(signatureAlgorithm(publicKey))) {
      return false;
    }
    try {
      byte[] challenge = new byte[32];
      RANDOM.nextBytes(challenge);
      Signature signer = Signature.getInstance(algorithm.get(), PROVIDER);
      signer.initSign(privateKey);
      signer.update(challenge);
      Signature verifier = Signature.getInstance(algorithm.get(), PROVIDER);
      verifier.initVerify(publicKey);
      verifier.update(challenge);
      return verifier.verify(signer.sign());
    } catch (GeneralSecurityException e) {
      return false;
    }
  }

  /** {@code instant} as an X.509 time: certificates carry whole seconds. */
  static Date x509Time(Instant instant) {
    return Date.from(instant.truncatedTo(ChronoUnit.SECONDS));
  }

  private static Optional<String> signatureAlgorithm(String keyAlgorithm) {
    switch (keyAlgorithm) {
      case "EC":
      case "ECDSA":
        return Optional.of("SHA256withECDSA");
      case "RSA":
        return Optional.of("SHA256withRSA");
      default:
        return Optional.empty();
    }
  }
}
