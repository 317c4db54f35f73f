package dev.egressd.proxy.mitm;

import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.Base64;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.openssl.PEMEncryptedKeyPair;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.pkcs.PKCS8EncryptedPrivateKeyInfo;

/** PEM encoding and decoding of the CA's certificate and key (RFC 7468). Parse errors never quote the input. */
final class Pem {
  static final String CERTIFICATE = "CERTIFICATE";
  static final String PRIVATE_KEY = "PRIVATE KEY";

  private static final Base64.Encoder BASE64 = Base64.getMimeEncoder(64, new byte[] {'\n'});

  private Pem() {}

  /** {@code der} as a PEM block of {@code type}, with 64-character lines and a final newline. */
  static String encode(String type, byte[] der) {
    return "-----BEGIN " + type + "-----\n" + new String(BASE64.encode(der), StandardCharsets.US_ASCII)
        + "\n-----END " + type + "-----\n";
  }

  /** The private key as an unencrypted PKCS#8 {@code PRIVATE KEY} block. */
  static String encodePrivateKey(PrivateKey key) {
    return encode(PRIVATE_KEY, key.getEncoded());
  }

  /** The first block of {@code text}, which must be a {@code CERTIFICATE}. */
  static X509Certificate decodeCertificate(String text) throws IOException {
    Object block = firstBlock(text);
    if (!(block instanceof X509CertificateHolder)) {
      throw new IOException("expected a PEM CERTIFICATE block, found " + describe(block));
    }
    try {
      return new JcaX509CertificateConverter().setProvider(Certificates.PROVIDER)
          .getCertificate((X509CertificateHolder) block);
    } catch (CertificateException e) {
      throw new IOException("malformed certificate: " + e.getMessage(), e);
    }
  }

  /**
   * The first block of {@code text}, which must be an unencrypted private key: PKCS#8 {@code PRIVATE KEY}, or the
   * traditional {@code EC PRIVATE KEY} / {@code RSA PRIVATE KEY} that OpenSSL writes.
   */
  static PrivateKey decodePrivateKey(String text) throws IOException {
    Object block = firstBlock(text);
    JcaPEMKeyConverter converter = new JcaPEMKeyConverter().setProvider(Certificates.PROVIDER);
    if (block instanceof PrivateKeyInfo) {
      return converter.getPrivateKey((PrivateKeyInfo) block);
    }
    if (block instanceof PEMKeyPair) {
      return converter.getKeyPair((PEMKeyPair) block).getPrivate();
    }
    if (block instanceof PKCS8EncryptedPrivateKeyInfo || block instanceof PEMEncryptedKeyPair) {
      throw new IOException("the key is encrypted (expected: an unencrypted PKCS#8 PRIVATE KEY, mode 0600)");
    }
    throw new IOException("expected a PEM PRIVATE KEY block, found " + describe(block));
  }

  private static Object firstBlock(String text) throws IOException {
    try (PEMParser parser = new PEMParser(new StringReader(text))) {
      Object block = parser.readObject();
      if (block == null) {
        throw new IOException("no PEM block found");
      }
      return block;
    } catch (RuntimeException e) {
      // Bouncy Castle reports some malformed DER as unchecked exceptions.
      throw new IOException("malformed PEM: " + e.getMessage(), e);
    }
  }

  private static String describe(Object block) {
    return block.getClass().getSimpleName();
  }
}
