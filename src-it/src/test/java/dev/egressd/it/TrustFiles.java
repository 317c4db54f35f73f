package dev.egressd.it;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/** Reads the trust files egressd writes (CA PEM, PEM bundle, PKCS12 trust store) into what a Java client uses. */
final class TrustFiles {
  private TrustFiles() {}

  /** Every certificate in a PEM file, in order. */
  static List<X509Certificate> certificates(Path pem) {
    try (InputStream in = Files.newInputStream(pem)) {
      return CertificateFactory.getInstance("X.509").generateCertificates(in).stream()
          .map(X509Certificate.class::cast).toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("not a PEM certificate file: " + pem, e);
    }
  }

  /** The single certificate in a PEM file. */
  static X509Certificate certificate(Path pem) {
    List<X509Certificate> all = certificates(pem);
    if (all.size() != 1) {
      throw new AssertionError("expected one certificate in " + pem + ", found " + all.size());
    }
    return all.get(0);
  }

  /** A TLS client context that trusts exactly the certificates of a PEM file. */
  static SSLContext trusting(Path pem) {
    try {
      KeyStore store = KeyStore.getInstance("PKCS12");
      store.load(null, null);
      int i = 0;
      for (Certificate certificate : certificates(pem)) {
        store.setCertificateEntry("trusted-" + i++, certificate);
      }
      return context(store);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  /** A PKCS12 trust store as a key store. */
  static KeyStore loadTrustStore(Path p12, String password) {
    try (InputStream in = Files.newInputStream(p12)) {
      KeyStore store = KeyStore.getInstance("PKCS12");
      store.load(in, password.toCharArray());
      return store;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("cannot read the PKCS12 trust store " + p12, e);
    }
  }

  /** A TLS client context that trusts the certificate entries of a key store. */
  static SSLContext context(KeyStore trusted) {
    try {
      TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(trusted);
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(null, tmf.getTrustManagers(), null);
      return context;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }
}
