package dev.egressd.proxy.mitm;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.util.List;

/**
 * The trust files clients need while egressd intercepts their TLS: a PEM bundle of the system roots plus the egressd
 * CA (for curl, git, Python, pip, npm) and a PKCS12 trust store with the same certificates (for JVMs). Both are
 * rewritten on every start, so they follow the CA and the JDK's roots.
 *
 * @param pemBundle the PEM bundle
 * @param trustStore the PKCS12 trust store
 * @param caCertificate the egressd CA alone, in PEM (for {@code NODE_EXTRA_CA_CERTS}, which adds to Node's roots)
 */
public record ClientTrust(Path pemBundle, Path trustStore, Path caCertificate) {
  /** The trust store's password: it protects nothing secret, but PKCS12 readers want one. */
  public static final String TRUST_STORE_PASSWORD = "changeit";

  /**
   * Writes {@code ca-bundle.pem} and {@code truststore.p12} into {@code directory} (readable by all: they hold only
   * public certificates), replacing earlier versions atomically.
   */
  public static ClientTrust write(CertificateAuthority ca, Path caCertificate, Path directory) throws CaException {
    try {
      Files.createDirectories(directory);
      List<X509Certificate> roots = UpstreamTrust.systemRoots();
      StringBuilder pem = new StringBuilder(roots.size() * 2048);
      pem.append(ca.certificatePem());
      for (X509Certificate root : roots) {
        pem.append(Pem.encode(Pem.CERTIFICATE, root.getEncoded()));
      }
      Path bundle = directory.resolve("ca-bundle.pem");
      replace(bundle, pem.toString().getBytes(StandardCharsets.US_ASCII));
      KeyStore store = KeyStore.getInstance("PKCS12");
      store.load(null, null);
      store.setCertificateEntry("egressd-mitm-ca", ca.certificate());
      for (int i = 0; i < roots.size(); i++) {
        store.setCertificateEntry("system-root-" + i, roots.get(i));
      }
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      store.store(out, TRUST_STORE_PASSWORD.toCharArray());
      Path trustStore = directory.resolve("truststore.p12");
      replace(trustStore, out.toByteArray());
      return new ClientTrust(bundle, trustStore, caCertificate);
    } catch (IOException | GeneralSecurityException e) {
      throw new CaException("cannot write client trust files to " + directory + ": " + e.getMessage(), e);
    }
  }

  private static void replace(Path target, byte[] content) throws IOException {
    Path temp = Files.createTempFile(target.getParent(), "." + target.getFileName(), ".tmp");
    try {
      Files.write(temp, content);
      Files.setPosixFilePermissions(temp, CaFiles.CERT_MODE);
      Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } finally {
      Files.deleteIfExists(temp);
    }
  }
}
