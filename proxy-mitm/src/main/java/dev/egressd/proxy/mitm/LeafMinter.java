package dev.egressd.proxy.mitm;

import static java.util.Objects.requireNonNull;

import dev.egressd.policy.HostName;
import dev.egressd.policy.IpAddress;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolConfig.Protocol;
import io.netty.handler.ssl.ApplicationProtocolConfig.SelectedListenerFailureBehavior;
import io.netty.handler.ssl.ApplicationProtocolConfig.SelectorFailureBehavior;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.io.IOException;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyStore;
import java.security.NoSuchAlgorithmException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import javax.net.ssl.SSLException;
import javax.net.ssl.TrustManagerFactory;
import org.bouncycastle.asn1.ASN1OctetString;
import org.bouncycastle.asn1.DEROctetString;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.AuthorityKeyIdentifier;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.asn1.x509.SubjectKeyIdentifier;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;

/**
 * Mints the leaf certificates egressd presents to clients inside intercepted tunnels, signed by the
 * {@link CertificateAuthority}, and caches them with their server {@link SslContext}.
 *
 * <h2>Leaf certificates</h2>
 * One per host, which callers take from the CONNECT request, never from a client-chosen SNI. Subject
 * {@code CN=<host>} (omitted for names longer than 64 characters, the X.509 limit; the SAN is then critical), a
 * subjectAltName {@code dNSName} for names or {@code iPAddress} for IP literals, extendedKeyUsage serverAuth,
 * keyUsage digitalSignature (critical), basicConstraints CA:false, the CA's key identifier, a random serial, and
 * validity from one hour ago (clock skew) for seven days, never beyond the CA's own validity.
 *
 * <h2>One key pair</h2>
 * Every leaf of a minter carries the same ECDSA P-256 public key, generated once in the constructor and held only
 * in memory. A key pair per host (what the reference does, per tunnel) buys nothing here: the key never leaves the
 * process, and any client that trusts the CA accepts any leaf anyway. Sharing it makes minting a single signature
 * (a key generation per host would make each cache miss about 1.5 times as slow).
 *
 * <h2>Cache</h2>
 * The most recently used {@code cacheSize} hosts keep their certificate and {@link SslContext}, so repeated tunnels
 * to a host share one context object. A leaf within a day of its expiry is minted again. Methods are thread-safe:
 * they are called from several event loops, and minting happens outside the lock so one loop's signing does not
 * stall the others.
 *
 * <h2>TLS</h2>
 * Contexts use the given {@link TlsImplementation} (the JDK's unless told otherwise), TLS 1.3 and 1.2, present the
 * chain leaf + CA, and offer only {@code http/1.1} over ALPN (HTTP/2 inner requests are not policed yet, so {@code
 * h2} is never negotiated).
 */
public final class LeafMinter {
  private static final Duration BACKDATE = Duration.ofHours(1);
  private static final Duration VALIDITY = Duration.ofDays(7);
  private static final Duration RENEW_BEFORE = Duration.ofDays(1);
  /** RFC 5280 ub-common-name. */
  private static final int MAX_COMMON_NAME = 64;
  private static final ApplicationProtocolConfig HTTP_1_1_ONLY = new ApplicationProtocolConfig(Protocol.ALPN,
      SelectorFailureBehavior.NO_ADVERTISE, SelectedListenerFailureBehavior.ACCEPT, ApplicationProtocolNames.HTTP_1_1);

  private final CertificateAuthority ca;
  private final TlsImplementation tls;
  private final Clock clock;
  private final KeyPair leafKeys;
  private final TrustManagerFactory clientCertificateTrust;
  private final X500Name issuer;
  private final AuthorityKeyIdentifier authorityKeyId;
  private final Object lock = new Object();
  private final Map<HostName, Leaf> cache; // guarded by lock

  /**
   * A minter for leaves signed by {@code ca}, timed by {@code clock}, caching up to {@code cacheSize} hosts.
   *
   * @throws IllegalArgumentException when {@code cacheSize} is not positive
   */
  public LeafMinter(CertificateAuthority ca, Clock clock, int cacheSize) {
    this(ca, clock, cacheSize, TlsImplementation.JDK);
  }

  /**
   * A minter whose server contexts use {@code tls}; otherwise as {@link #LeafMinter(CertificateAuthority, Clock,
   * int)}.
   */
  public LeafMinter(CertificateAuthority ca, Clock clock, int cacheSize, TlsImplementation tls) {
    this.tls = requireNonNull(tls, "tls");
    this.ca = requireNonNull(ca, "ca");
    this.clock = requireNonNull(clock, "clock");
    if (cacheSize <= 0) {
      throw new IllegalArgumentException("cacheSize: " + cacheSize + " (expected: > 0)");
    }
    this.leafKeys = Certificates.newEcKeyPair();
    this.clientCertificateTrust = trustingOnly(ca.certificate());
    this.issuer = X500Name.getInstance(ca.certificate().getSubjectX500Principal().getEncoded());
    this.authorityKeyId = authorityKeyId(ca.certificate());
    this.cache = new LinkedHashMap<>(16, 0.75f, true) {
      @Override
      protected boolean removeEldestEntry(Map.Entry<HostName, Leaf> eldest) {
        return size() > cacheSize;
      }
    };
  }

  /**
   * The TLS server context for {@code host}: its leaf certificate (minted or cached), the CA certificate, and ALPN
   * offering only {@code http/1.1}. Repeated calls for a cached host return the same object.
   */
  public SslContext serverContext(HostName host) {
    return leaf(host).context();
  }

  /** The leaf certificate {@link #serverContext} presents for {@code host}; for tests and diagnostics. */
  public X509Certificate leafCertificate(HostName host) {
    return leaf(host).certificate();
  }

  /** The number of hosts whose leaf is cached now. */
  public int cachedHosts() {
    synchronized (lock) {
      return cache.size();
    }
  }

  /** A new leaf for {@code host} issued at {@code now}, not cached. */
  X509Certificate mint(HostName host, Instant now) {
    Instant notBefore = latest(now.minus(BACKDATE), ca.certificate().getNotBefore().toInstant());
    Instant notAfter = earliest(now.plus(VALIDITY), caNotAfter());
    X500Name subject = subject(host);
    X509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(issuer, Certificates.randomSerial(),
        Certificates.x509Time(notBefore), Certificates.x509Time(notAfter), subject, leafKeys.getPublic());
    try {
      // RFC 5280 4.2.1.6: with an empty subject the SAN must be critical.
      builder.addExtension(Extension.subjectAlternativeName, subject.getRDNs().length == 0, alternativeName(host))
          .addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth))
          .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature))
          .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
          .addExtension(Extension.authorityKeyIdentifier, false, authorityKeyId);
    } catch (IOException e) {
      throw new IllegalStateException("cannot build the leaf certificate for " + host, e);
    }
    return Certificates.sign(builder, ca.privateKey());
  }

  /** A new server context presenting {@code leaf} (which must carry the shared leaf key) and the CA. */
  SslContext contextFor(X509Certificate leaf) {
    try {
      return SslContextBuilder.forServer(new LeafKeyManager(leafKeys.getPrivate(), leaf, ca.certificate()))
          .sslProvider(tls.provider())
          .protocols("TLSv1.3", "TLSv1.2")
          .applicationProtocolConfig(HTTP_1_1_ONLY)
          .trustManager(clientCertificateTrust)
          .build();
    } catch (SSLException e) {
      throw new IllegalStateException("cannot build a TLS server context for " + leaf.getSubjectX500Principal(), e);
    }
  }

  /**
   * Clients are never asked for a certificate, but without a trust manager Netty's BoringSSL server context loads
   * the JDK's whole {@code cacerts} for every new context (12 ms per new host instead of 0.2). One that trusts only
   * the CA, built once, is never consulted.
   */
  private static TrustManagerFactory trustingOnly(X509Certificate certificate) {
    try {
      KeyStore store = KeyStore.getInstance("PKCS12");
      store.load(null, null);
      store.setCertificateEntry("ca", certificate);
      TrustManagerFactory factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      factory.init(store);
      return factory;
    } catch (GeneralSecurityException | IOException e) {
      throw new IllegalStateException("cannot build the client certificate trust", e);
    }
  }

  private Leaf leaf(HostName host) {
    requireNonNull(host, "host");
    Instant now = clock.instant();
    Leaf cached;
    synchronized (lock) {
      cached = cache.get(host);
    }
    if (cached != null && !needsRenewal(cached, now)) {
      return cached;
    }
    X509Certificate certificate = mint(host, now);
    Leaf minted = new Leaf(certificate, contextFor(certificate));
    synchronized (lock) {
      // Another loop may have minted this host meanwhile; keep its leaf so every caller shares one context.
      Leaf current = cache.get(host);
      if (current != null && !needsRenewal(current, now)) {
        return current;
      }
      cache.put(host, minted);
      return minted;
    }
  }

  /**
   * True when {@code leaf} expires within a day, unless it already ends with the CA (minting again would not help),
   * or when the clock has gone back before it starts.
   */
  private boolean needsRenewal(Leaf leaf, Instant now) {
    Instant notAfter = leaf.certificate().getNotAfter().toInstant();
    boolean expiring = !now.plus(RENEW_BEFORE).isBefore(notAfter) && notAfter.isBefore(caNotAfter());
    return expiring || now.isBefore(leaf.certificate().getNotBefore().toInstant());
  }

  private Instant caNotAfter() {
    return ca.certificate().getNotAfter().toInstant();
  }

  private static X500Name subject(HostName host) {
    X500NameBuilder name = new X500NameBuilder(BCStyle.INSTANCE);
    if (host.value().length() <= MAX_COMMON_NAME) {
      name.addRDN(BCStyle.CN, host.value());
    }
    return name.build();
  }

  private static GeneralNames alternativeName(HostName host) {
    GeneralName name = host.ip()
        .map(IpAddress::bytes)
        .map(bytes -> new GeneralName(GeneralName.iPAddress, new DEROctetString(bytes)))
        .orElseGet(() -> new GeneralName(GeneralName.dNSName, host.value()));
    return new GeneralNames(name);
  }

  /** The CA's own subject key identifier when it has one (a CA made elsewhere may compute it differently). */
  private static AuthorityKeyIdentifier authorityKeyId(X509Certificate caCertificate) {
    byte[] extension = caCertificate.getExtensionValue(Extension.subjectKeyIdentifier.getId());
    if (extension != null) {
      byte[] keyId = SubjectKeyIdentifier.getInstance(ASN1OctetString.getInstance(extension).getOctets())
          .getKeyIdentifier();
      return new AuthorityKeyIdentifier(keyId);
    }
    try {
      return new JcaX509ExtensionUtils().createAuthorityKeyIdentifier(caCertificate.getPublicKey());
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("cannot compute the CA key identifier", e);
    }
  }

  private static Instant latest(Instant a, Instant b) {
    return a.isAfter(b) ? a : b;
  }

  private static Instant earliest(Instant a, Instant b) {
    return a.isBefore(b) ? a : b;
  }

  private record Leaf(X509Certificate certificate, SslContext context) {}
}
