package dev.egressd.proxy.mitm;

import static org.assertj.core.api.Assertions.assertThat;

import java.security.interfaces.ECPublicKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.cert.jcajce.JcaX509CertificateHolder;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class CaCertificateContentsTest {
  private static final Instant NOW = Instant.parse("2026-03-01T12:00:00Z");

  private static X509Certificate ca;

  @BeforeAll
  static void generate() {
    ca = CertificateAuthority.generate(NOW, "build-host").certificate();
  }

  @Test
  void isSelfSigned() throws Exception {
    assertThat(ca.getIssuerX500Principal()).isEqualTo(ca.getSubjectX500Principal());
    ca.verify(ca.getPublicKey());
  }

  @Test
  void nameSaysWhatItIs() {
    assertThat(ca.getSubjectX500Principal().getName())
        .isEqualTo("CN=egressd MITM CA (build-host 2026-03-01),O=egressd");
  }

  @Test
  void longMachineNameIsShortenedToFitTheCommonName() {
    String machine = "a-very-long-machine-name-that-goes-on-and-on.example.internal";
    X509Certificate certificate = CertificateAuthority.generate(NOW, machine).certificate();

    String cn = certificate.getSubjectX500Principal().getName().split(",")[0].substring("CN=".length());
    assertThat(cn).hasSize(64).startsWith("egressd MITM CA (a-very-long").endsWith(" 2026-03-01)");
  }

  @Test
  void isCaForLeavesOnlyAndCritical() throws Exception {
    assertThat(ca.getBasicConstraints()).isZero();
    assertThat(ca.getCriticalExtensionOIDs())
        .contains(Extension.basicConstraints.getId(), Extension.keyUsage.getId());
  }

  @Test
  void mayOnlySignCertificatesAndCrls() {
    boolean[] keyUsage = ca.getKeyUsage();
    // digitalSignature, nonRepudiation, keyEncipherment, dataEncipherment, keyAgreement, keyCertSign, cRLSign
    assertThat(keyUsage).startsWith(false, false, false, false, false, true, true);
  }

  @Test
  void usesEcdsaP256WithSha256() {
    assertThat(ca.getSigAlgName()).isEqualToIgnoringCase("SHA256withECDSA");
    assertThat(ca.getPublicKey()).isInstanceOf(ECPublicKey.class);
    assertThat(((ECPublicKey) ca.getPublicKey()).getParams().getCurve().getField().getFieldSize()).isEqualTo(256);
    assertThat(ca.getPublicKey().getEncoded()).hasSize(91); // SubjectPublicKeyInfo of a named-curve P-256 key
  }

  @Test
  void isValidFromAnHourAgoForTwoYears() {
    assertThat(ca.getNotBefore().toInstant()).isEqualTo(NOW.minus(Duration.ofHours(1)));
    assertThat(ca.getNotAfter().toInstant()).isEqualTo(Instant.parse("2028-03-01T12:00:00Z"));
  }

  @Test
  void hasARandomPositive128BitSerial() {
    X509Certificate other = CertificateAuthority.generate(NOW, "build-host").certificate();

    assertThat(ca.getSerialNumber().signum()).isPositive();
    assertThat(ca.getSerialNumber().bitLength()).isBetween(100, 128);
    assertThat(other.getSerialNumber()).isNotEqualTo(ca.getSerialNumber());
  }

  @Test
  void hasASubjectKeyIdentifier() throws Exception {
    assertThat(new JcaX509CertificateHolder(ca).getExtension(Extension.subjectKeyIdentifier)).isNotNull();
  }
}
