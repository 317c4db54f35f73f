package dev.egressd.proxy.mitm;

import java.net.Socket;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedKeyManager;

/**
 * A server key manager holding exactly one chain (leaf + CA) and its key.
 *
 * <p>{@code SslContextBuilder.forServer(key, chain)} puts the key into a PKCS#12 key store, which encrypts it with
 * PBKDF2 only to decrypt it again: about 10 ms per context, on an event loop, for every cache miss. Handing the key
 * to JSSE directly costs well under a millisecond.
 */
final class LeafKeyManager extends X509ExtendedKeyManager {
  private static final String ALIAS = "leaf";

  private final PrivateKey key;
  private final X509Certificate[] chain;
  private final String keyType;

  LeafKeyManager(PrivateKey key, X509Certificate leaf, X509Certificate issuer) {
    this.key = key;
    this.chain = new X509Certificate[] {leaf, issuer};
    String algorithm = leaf.getPublicKey().getAlgorithm();
    this.keyType = algorithm.equals("ECDSA") ? "EC" : algorithm; // Bouncy Castle may name EC keys "ECDSA"
  }

  @Override
  public String chooseEngineServerAlias(String type, Principal[] issuers, SSLEngine engine) {
    return alias(type);
  }

  @Override
  public String chooseServerAlias(String type, Principal[] issuers, Socket socket) {
    return alias(type);
  }

  @Override
  public String[] getServerAliases(String type, Principal[] issuers) {
    return alias(type) == null ? null : new String[] {ALIAS};
  }

  @Override
  public X509Certificate[] getCertificateChain(String alias) {
    return ALIAS.equals(alias) ? chain.clone() : null;
  }

  @Override
  public PrivateKey getPrivateKey(String alias) {
    return ALIAS.equals(alias) ? key : null;
  }

  /** This is a server: it never authenticates as a client. */
  @Override
  public String[] getClientAliases(String type, Principal[] issuers) {
    return null;
  }

  @Override
  public String chooseClientAlias(String[] types, Principal[] issuers, Socket socket) {
    return null;
  }

  @Override
  public String chooseEngineClientAlias(String[] types, Principal[] issuers, SSLEngine engine) {
    return null;
  }

  /** JSSE asks per cipher suite / signature scheme with the key algorithm it needs ("EC", "RSA"...). */
  private String alias(String type) {
    return keyType.equals(type) ? ALIAS : null;
  }
}
