package dev.egressd.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * A throw-away test CA and a server certificate it signed for {@code allowed.test} and {@code 127.0.0.1}, made
 * once per JVM with {@code keytool} into a temporary directory. Three variants serve origins a client must refuse:
 * {@link #untrusted()} (another CA, same names), {@link #wrongName()} (the same CA, another name) and
 * {@link #expired()} (the same CA and names, expired).
 *
 * @param caPem the CA certificate as PEM (for {@code curl --cacert} and git)
 * @param serverKeyStore PKCS12 with the server key and its chain
 * @param server the TLS context for the origin
 * @param client a TLS context that trusts only the test CA
 */
record TestCertificates(Path caPem, Path serverKeyStore, SSLContext server, SSLContext client) {
  private static final String PASSWORD = "egressd-it";
  private static final String ORIGIN_NAMES = "dns:allowed.test,ip:127.0.0.1";
  private static TestCertificates instance;
  private static TestCertificates untrusted;
  private static TestCertificates wrongName;
  private static TestCertificates expired;

  /** The certificates, generated on first use. */
  static synchronized TestCertificates get() {
    if (instance == null) {
      instance = generate("CN=egressd integration test CA", null, "CN=allowed.test", ORIGIN_NAMES);
    }
    return instance;
  }
  /**
   * Writes the server certificate chain and its private key as PEM, for servers that do not read PKCS #12 (Squid's
   * {@code tls-cert=} and {@code tls-key=}).
   */
  void writeServerPem(Path certificate, Path key) throws IOException, GeneralSecurityException {
    KeyStore keys = KeyStore.getInstance("PKCS12");
    try (InputStream in = Files.newInputStream(serverKeyStore)) {
      keys.load(in, PASSWORD.toCharArray());
    }
    java.util.Base64.Encoder pem = java.util.Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII));
    StringBuilder chain = new StringBuilder();
    for (Certificate c : keys.getCertificateChain("origin")) {
      chain.append("-----BEGIN CERTIFICATE-----\n").append(pem.encodeToString(c.getEncoded()))
          .append("\n-----END CERTIFICATE-----\n");
    }
    Files.writeString(certificate, chain);
    java.security.Key privateKey = keys.getKey("origin", PASSWORD.toCharArray());
    Files.writeString(key, "-----BEGIN PRIVATE KEY-----\n" + pem.encodeToString(privateKey.getEncoded())
        + "\n-----END PRIVATE KEY-----\n");
  }


  /**
   * A second, unrelated CA ({@link #caPem()}) and a server certificate it signed for the same names as
   * {@link #get()}'s: valid in every respect except that nobody trusts its issuer.
   */
  static synchronized TestCertificates untrusted() {
    if (untrusted == null) {
      untrusted = generate("CN=egressd integration test untrusted CA", null, "CN=allowed.test", ORIGIN_NAMES);
    }
    return untrusted;
  }

  /**
   * A server certificate that {@link #get()}'s CA signed for {@code wrong-name.test} only: trusted wherever the
   * test CA is, but not valid for {@code allowed.test} or {@code 127.0.0.1}. Its {@link #caPem()} is the test CA.
   */
  static synchronized TestCertificates wrongName() {
    if (wrongName == null) {
      // A new CA's key store is next to its ca.pem.
      Path testCaStore = get().caPem().resolveSibling("ca.p12");
      wrongName = generate(null, testCaStore, "CN=wrong-name.test", "dns:wrong-name.test");
    }
    return wrongName;
  }

  /**
   * A server certificate that {@link #get()}'s CA signed for the same names, valid for two days from ten days ago:
   * expired for a week. Its {@link #caPem()} is the test CA.
   */
  static synchronized TestCertificates expired() {
    if (expired == null) {
      Path testCaStore = get().caPem().resolveSibling("ca.p12");
      expired = generate(null, testCaStore, "CN=allowed.test", ORIGIN_NAMES, "-10d");
    }
    return expired;
  }

  private static TestCertificates generate(String caName, Path existingCa, String serverName, String sans) {
    return generate(caName, existingCa, serverName, sans, null);
  }

  private static TestCertificates generate(String caName, Path existingCa, String serverName, String sans,
      String startDate) {
    try {
      return generateWithKeytool(caName, existingCa, serverName, sans, startDate);
    } catch (IOException | GeneralSecurityException e) {
      throw new IllegalStateException("cannot create test certificates with keytool", e);
    }
  }

  /**
   * A new CA named {@code caName}, or the one in {@code existingCa}, signing a server certificate valid from
   * {@code startDate} (a keytool {@code -startdate}, null for now).
   */
  private static TestCertificates generateWithKeytool(String caName, Path existingCa, String serverName, String sans,
      String startDate) throws IOException, GeneralSecurityException {
    Path dir = Files.createTempDirectory("egressd-it-tls");
    dir.toFile().deleteOnExit();
    Path caStore = existingCa != null ? existingCa : dir.resolve("ca.p12");
    Path serverStore = dir.resolve("server.p12");
    Path csr = dir.resolve("server.csr");
    Path serverPem = dir.resolve("server.pem");
    Path caPem = dir.resolve("ca.pem");
    if (existingCa == null) {
      keytool(dir, "-genkeypair", "-alias", "ca", "-keyalg", "EC", "-groupname", "secp256r1",
          "-dname", caName, "-ext", "bc:c", "-ext", "KeyUsage=keyCertSign,cRLSign",
          "-validity", "2", "-keystore", caStore.toString());
    }
    keytool(dir, "-exportcert", "-rfc", "-alias", "ca", "-keystore", caStore.toString(), "-file", caPem.toString());
    keytool(dir, "-genkeypair", "-alias", "origin", "-keyalg", "EC", "-groupname", "secp256r1",
        "-dname", serverName, "-validity", "2", "-keystore", serverStore.toString());
    keytool(dir, "-certreq", "-alias", "origin", "-keystore", serverStore.toString(), "-file", csr.toString());
    List<String> gencert = new ArrayList<>(List.of("-gencert", "-rfc", "-alias", "ca", "-keystore",
        caStore.toString(), "-infile", csr.toString(), "-outfile", serverPem.toString(), "-validity", "2",
        "-ext", "SAN=" + sans, "-ext", "EKU=serverAuth", "-ext", "KeyUsage=digitalSignature"));
    if (startDate != null) {
      gencert.addAll(List.of("-startdate", startDate));
    }
    keytool(dir, gencert.toArray(String[]::new));
    keytool(dir, "-importcert", "-noprompt", "-alias", "ca", "-file", caPem.toString(),
        "-keystore", serverStore.toString());
    keytool(dir, "-importcert", "-alias", "origin", "-file", serverPem.toString(),
        "-keystore", serverStore.toString());
    for (Path p : List.of(serverStore, csr, serverPem, caPem)) {
      p.toFile().deleteOnExit();
    }
    if (existingCa == null) {
      caStore.toFile().deleteOnExit();
    }

    KeyStore keys = KeyStore.getInstance("PKCS12");
    try (InputStream in = Files.newInputStream(serverStore)) {
      keys.load(in, PASSWORD.toCharArray());
    }
    KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    kmf.init(keys, PASSWORD.toCharArray());
    SSLContext server = SSLContext.getInstance("TLS");
    server.init(kmf.getKeyManagers(), null, null);

    KeyStore trust = KeyStore.getInstance("PKCS12");
    trust.load(null, null);
    try (InputStream in = Files.newInputStream(caPem)) {
      Certificate ca = CertificateFactory.getInstance("X.509").generateCertificate(in);
      trust.setCertificateEntry("ca", ca);
    }
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    SSLContext client = SSLContext.getInstance("TLS");
    client.init(null, tmf.getTrustManagers(), null);
    return new TestCertificates(caPem, serverStore, server, client);
  }

  private static void keytool(Path dir, String... args) {
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "keytool").toString());
    command.addAll(List.of(args));
    command.addAll(List.of("-storetype", "PKCS12", "-storepass", PASSWORD));
    ProcessResult result = Processes.run(command, Map.of(), dir, Duration.ofSeconds(60));
    assertThat(result.exitCode()).as("keytool %s\n%s", command, result).isZero();
  }
}
