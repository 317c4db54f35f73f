package dev.egressd.proxy.mitm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.egressd.policy.HostName;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

class LeafKeyManagerTest {
  private static final Instant NOW = Instant.parse("2026-03-01T12:00:00Z");

  private final CertificateAuthority ca = CertificateAuthority.generate(NOW, "test-host");
  private final X509Certificate leaf =
      new LeafMinter(ca, Clock.fixed(NOW, ZoneOffset.UTC), 1).leafCertificate(HostName.parse("example.com"));
  private final LeafKeyManager keyManager = new LeafKeyManager(ca.privateKey(), leaf, ca.certificate());

  @Test
  void offersTheLeafChainForEcKeyExchanges() {
    String alias = keyManager.chooseEngineServerAlias("EC", null, null);

    assertThat(alias).isNotNull();
    assertThat(keyManager.chooseServerAlias("EC", null, null)).isEqualTo(alias);
    assertThat(keyManager.getServerAliases("EC", null)).containsExactly(alias);
    assertThat(keyManager.getCertificateChain(alias)).containsExactly(leaf, ca.certificate());
    assertThat(keyManager.getPrivateKey(alias)).isSameAs(ca.privateKey());
  }

  @Test
  void offersNothingForOtherKeyTypes() {
    assertThat(keyManager.chooseEngineServerAlias("RSA", null, null)).isNull();
    assertThat(keyManager.getServerAliases("RSA", null)).isNull();
  }

  @Test
  void neverAuthenticatesAsAClient() {
    assertThat(keyManager.chooseEngineClientAlias(new String[] {"EC"}, null, null)).isNull();
    assertThat(keyManager.chooseClientAlias(new String[] {"EC"}, null, null)).isNull();
    assertThat(keyManager.getClientAliases("EC", null)).isNull();
  }

  @Test
  void unknownAliasHasNoKeyOrChain() {
    assertThat(keyManager.getCertificateChain("other")).isNull();
    assertThat(keyManager.getPrivateKey("other")).isNull();
  }

  @Test
  void chainIsACopy() {
    String alias = keyManager.chooseEngineServerAlias("EC", null, null);
    keyManager.getCertificateChain(alias)[0] = null;

    assertThat(keyManager.getCertificateChain(alias)[0]).isSameAs(leaf);
  }
}
