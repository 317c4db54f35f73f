package dev.egressd.proxy.mitm;

import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

/**
 * Who egressd trusts when it connects to origins on behalf of intercepted clients: the JDK's trust store, plus the
 * roots of an optional PEM bundle for internal CAs. There is deliberately no way to trust everything.
 */
public final class UpstreamTrust {
  private UpstreamTrust() {}

  /**
   * A client TLS context for origins (TLS 1.3 and 1.2, ALPN {@code http/1.1}) built on {@code implementation}.
   *
   * @param extraRoots a PEM bundle of additional trusted roots, or null
   * @throws CaException when the bundle cannot be read or holds no certificate
   */
  public static SslContext clientContext(Path extraRoots, TlsImplementation implementation) throws CaException {
    List<X509Certificate> roots = new ArrayList<>(systemRoots());
    if (extraRoots != null) {
      roots.addAll(readBundle(extraRoots));
    }
    try {
      return SslContextBuilder.forClient()
          .sslProvider(implementation.provider())
          .protocols("TLSv1.3", "TLSv1.2")
          .trustManager(roots.toArray(new X509Certificate[0]))
          .applicationProtocolConfig(new ApplicationProtocolConfig(ApplicationProtocolConfig.Protocol.ALPN,
              ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
              ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT, "http/1.1"))
          .build();
    } catch (IOException e) {
      throw new CaException("cannot build the upstream TLS context: " + e.getMessage(), e);
    }
  }

  /** The roots of the JDK's default trust store ({@code cacerts}, or {@code javax.net.ssl.trustStore}). */
  public static List<X509Certificate> systemRoots() throws CaException {
    try {
      TrustManagerFactory factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      factory.init((KeyStore) null);
      List<X509Certificate> roots = new ArrayList<>();
      for (var manager : factory.getTrustManagers()) {
        if (manager instanceof X509TrustManager x509) {
          roots.addAll(List.of(x509.getAcceptedIssuers()));
        }
      }
      return roots;
    } catch (GeneralSecurityException e) {
      throw new CaException("cannot read the JDK trust store: " + e.getMessage(), e);
    }
  }

  /** Every certificate in a PEM bundle. */
  public static List<X509Certificate> readBundle(Path bundle) throws CaException {
    try (InputStream in = Files.newInputStream(bundle)) {
      List<X509Certificate> certificates = new ArrayList<>();
      for (Certificate certificate : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
        certificates.add((X509Certificate) certificate);
      }
      if (certificates.isEmpty()) {
        throw new CaException("upstream CA bundle " + bundle + " holds no certificate");
      }
      return certificates;
    } catch (IOException | GeneralSecurityException e) {
      throw new CaException("cannot read upstream CA bundle " + bundle + ": " + e.getMessage(), e);
    }
  }
}
