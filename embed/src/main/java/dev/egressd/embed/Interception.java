package dev.egressd.embed;

import dev.egressd.config.DaemonConfig;
import dev.egressd.proxy.mitm.CaException;
import dev.egressd.proxy.mitm.CertificateAuthority;
import dev.egressd.proxy.mitm.ClientTrust;
import dev.egressd.proxy.mitm.LeafMinter;
import dev.egressd.proxy.mitm.MitmOptions;
import dev.egressd.proxy.mitm.MitmStage;
import dev.egressd.proxy.mitm.TlsImplementation;
import dev.egressd.proxy.mitm.UpstreamTrust;
import dev.egressd.proxy.tunnel.TunnelInterceptor;
import java.time.Clock;
import java.util.Map;

/**
 * The TLS interception stage as the daemon assembles it when the policy has {@code mitm = true}: the CA (created
 * on first use), the leaf minter, upstream trust and the trust files for children.
 *
 * @param factory what {@code ProxyServer.start} installs
 * @param trust the files children are pointed at
 * @param location where the CA lives
 * @param tls the TLS implementation of intercepted tunnels
 */
public record Interception(TunnelInterceptor.Factory factory, ClientTrust trust, CaLocation location,
    TlsImplementation tls) {
  private static final int LEAF_CACHE_SIZE = 4096;

  /**
   * Null when interception is off; fails with a message naming the files when the CA cannot be used, or when
   * {@code -Degressd.mitm.tls} asks for a TLS implementation that cannot load.
   */
  public static Interception prepare(DaemonConfig config, Map<String, String> env) throws CaException {
    if (!config.policy().mitm()) {
      return null;
    }
    // Read the upstream bundle first: a typo in its path must not leave a freshly created CA behind.
    TlsImplementation tls = TlsImplementation.select();
    var upstreamTls = UpstreamTrust.clientContext(config.mitm().upstreamCaBundle(), tls);
    CaLocation location = CaLocation.of(config, env);
    CertificateAuthority ca = CertificateAuthority.loadOrCreate(location.certificate(), location.key(),
        Clock.systemUTC());
    LeafMinter minter = new LeafMinter(ca, Clock.systemUTC(), LEAF_CACHE_SIZE, tls);
    MitmOptions limits = new MitmOptions(config.limits().tlsHandshakeTimeout(),
        config.limits().maxInterceptedTunnels());
    TunnelInterceptor.Factory factory = MitmStage.factory(minter, upstreamTls, limits);
    ClientTrust trust = ClientTrust.write(ca, location.certificate(), location.directory());
    return new Interception(factory, trust, location, tls);
  }
}
