package dev.egressd.config;

import java.nio.file.Path;
import java.util.Objects;

/**
 * Where the TLS interception stage keeps its CA and whom it trusts upstream. Paths from the file are resolved
 * against the file's directory.
 *
 * @param caCertificate {@code mitm_ca_cert_path}, or null for the default location chosen by the daemon
 * @param caKey {@code mitm_ca_key_path}, or null for the default location; set both or neither
 * @param upstreamCaBundle {@code mitm_upstream_ca_bundle}: PEM roots trusted for origins in addition to the JDK's,
 *     for internal CAs; null for none
 */
public record MitmSettings(Path caCertificate, Path caKey, Path upstreamCaBundle) {
  /** No paths configured. */
  public static final MitmSettings DEFAULTS = new MitmSettings(null, null, null);

  /** Both CA paths or neither. */
  public MitmSettings {
    if ((caCertificate == null) != (caKey == null)) {
      throw new IllegalArgumentException("mitm_ca_cert_path and mitm_ca_key_path must be set together");
    }
  }

  /** True when the CA location comes from the configuration. */
  public boolean hasCaPaths() {
    return caCertificate != null;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof MitmSettings m && Objects.equals(caCertificate, m.caCertificate)
        && Objects.equals(caKey, m.caKey) && Objects.equals(upstreamCaBundle, m.upstreamCaBundle);
  }

  @Override
  public int hashCode() {
    return Objects.hash(caCertificate, caKey, upstreamCaBundle);
  }
}
