package dev.egressd.proxy.mitm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.egressd.policy.HostName;
import java.net.InetAddress;
import java.nio.file.Path;
import java.security.cert.CertPathValidator;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Date;
import java.util.List;
import java.util.Set;
import org.bouncycastle.asn1.ASN1OctetString;
import org.bouncycastle.asn1.x509.AuthorityKeyIdentifier;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.SubjectKeyIdentifier;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LeafCertificateTest {
  private static final Instant NOW = Instant.parse("2026-03-01T12:00:00Z");
  private static final String SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
  private static final int DNS_NAME = 2;
  private static final int IP_ADDRESS = 7;

  private static CertificateAuthority ca;
  private static LeafMinter minter;

  @BeforeAll
  static void createCa(@TempDir Path dir) throws CaException {
    Clock clock = Clock.fixed(NOW, ZoneOffset.UTC);
    ca = CertificateAuthority.loadOrCreate(dir.resolve("ca.pem"), dir.resolve("ca.key"), clock);
    minter = new LeafMinter(ca, clock, 16);
  }

  @Test
  void nameGetsDnsSanAndCommonName() throws Exception {
    X509Certificate leaf = minter.leafCertificate(HostName.parse("api.example.com"));

    assertThat(leaf.getSubjectAlternativeNames()).containsExactly(List.of(DNS_NAME, "api.example.com"));
    assertThat(leaf.getSubjectX500Principal().getName()).isEqualTo("CN=api.example.com");
  }

  @Test
  void ipv4LiteralGetsIpSan() throws Exception {
    X509Certificate leaf = minter.leafCertificate(HostName.parse("10.1.2.3"));

    assertThat(leaf.getSubjectAlternativeNames()).containsExactly(List.of(IP_ADDRESS, "10.1.2.3"));
  }

  @Test
  void ipv6LiteralGetsIpSan() throws Exception {
    X509Certificate leaf = minter.leafCertificate(HostName.parse("[::1]"));

    assertThat(leaf.getSubjectAlternativeNames()).hasSize(1);
    List<?> name = leaf.getSubjectAlternativeNames().iterator().next();
    assertThat(name.get(0)).isEqualTo(IP_ADDRESS);
    assertThat(InetAddress.getByName((String) name.get(1)).getHostAddress()).isEqualTo("0:0:0:0:0:0:0:1");
  }

  @Test
  void nameLongerThan64CharactersGetsNoCommonNameAndACriticalSan() throws Exception {
    String longName = "a".repeat(60) + ".example.com";
    X509Certificate leaf = minter.leafCertificate(HostName.parse(longName));

    assertThat(leaf.getSubjectX500Principal().getName()).isEmpty();
    assertThat(leaf.getSubjectAlternativeNames()).containsExactly(List.of(DNS_NAME, longName));
    assertThat(leaf.getCriticalExtensionOIDs()).contains(Extension.subjectAlternativeName.getId());
  }

  @Test
  void isForServerAuthenticationOnlyAndNotACa() throws Exception {
    X509Certificate leaf = minter.leafCertificate(HostName.parse("example.com"));

    assertThat(leaf.getExtendedKeyUsage()).containsExactly(SERVER_AUTH);
    assertThat(leaf.getKeyUsage()).startsWith(true, false, false, false, false, false, false);
    assertThat(leaf.getBasicConstraints()).isEqualTo(-1);
    assertThat(leaf.getCriticalExtensionOIDs()).contains(Extension.keyUsage.getId());
  }

  @Test
  void isSignedByTheCaAndNamesItsKey() throws Exception {
    X509Certificate leaf = minter.leafCertificate(HostName.parse("example.com"));

    leaf.verify(ca.certificate().getPublicKey());
    assertThat(leaf.getIssuerX500Principal()).isEqualTo(ca.certificate().getSubjectX500Principal());
    assertThat(authorityKeyId(leaf)).isEqualTo(subjectKeyId(ca.certificate()));
  }

  @Test
  void chainsToTheCaUnderPkixValidation() throws Exception {
    X509Certificate leaf = minter.leafCertificate(HostName.parse("example.com"));
    PKIXParameters parameters = new PKIXParameters(Set.of(new TrustAnchor(ca.certificate(), null)));
    parameters.setRevocationEnabled(false);
    parameters.setDate(Date.from(NOW));

    CertPathValidator.getInstance("PKIX")
        .validate(CertificateFactory.getInstance("X.509").generateCertPath(List.of(leaf)), parameters);
  }

  @Test
  void isValidFromAnHourAgoForSevenDays() {
    X509Certificate leaf = minter.leafCertificate(HostName.parse("example.com"));

    assertThat(leaf.getNotBefore().toInstant()).isEqualTo(NOW.minus(Duration.ofHours(1)));
    assertThat(leaf.getNotAfter().toInstant()).isEqualTo(NOW.plus(Duration.ofDays(7)));
  }

  @Test
  void validityNeverOutlastsTheCa() {
    Instant caNotAfter = ca.certificate().getNotAfter().toInstant();
    Instant nearCaExpiry = caNotAfter.minus(Duration.ofDays(2));

    X509Certificate leaf = minter.mint(HostName.parse("example.com"), nearCaExpiry);

    assertThat(leaf.getNotAfter().toInstant()).isEqualTo(caNotAfter);
  }

  @Test
  void everyHostSharesOneEcP256KeyButGetsItsOwnSerial() {
    X509Certificate a = minter.leafCertificate(HostName.parse("a.example"));
    X509Certificate b = minter.leafCertificate(HostName.parse("b.example"));

    assertThat(a.getPublicKey()).isEqualTo(b.getPublicKey());
    assertThat(a.getPublicKey()).isInstanceOf(ECPublicKey.class);
    assertThat(a.getPublicKey()).isNotEqualTo(ca.certificate().getPublicKey());
    assertThat(a.getSerialNumber()).isNotEqualTo(b.getSerialNumber());
  }

  @Test
  void separateMintersHaveSeparateKeys() {
    LeafMinter other = new LeafMinter(ca, Clock.fixed(NOW, ZoneOffset.UTC), 1);
    HostName host = HostName.parse("example.com");

    assertThat(other.leafCertificate(host).getPublicKey()).isNotEqualTo(minter.leafCertificate(host).getPublicKey());
  }

  private static byte[] authorityKeyId(X509Certificate certificate) {
    byte[] extension = certificate.getExtensionValue(Extension.authorityKeyIdentifier.getId());
    return AuthorityKeyIdentifier.getInstance(ASN1OctetString.getInstance(extension).getOctets())
        .getKeyIdentifierOctets();
  }

  private static byte[] subjectKeyId(X509Certificate certificate) {
    byte[] extension = certificate.getExtensionValue(Extension.subjectKeyIdentifier.getId());
    return SubjectKeyIdentifier.getInstance(ASN1OctetString.getInstance(extension).getOctets()).getKeyIdentifier();
  }
}
