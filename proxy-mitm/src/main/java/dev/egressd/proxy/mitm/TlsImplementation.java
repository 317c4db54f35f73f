package dev.egressd.proxy.mitm;

import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslProvider;
import java.util.Locale;

/**
 * The TLS implementation both sides of an intercepted tunnel use: BoringSSL (netty-tcnative, shipped for Linux
 * x86-64) where its native library loads, otherwise the JDK's. BoringSSL costs about half the CPU per TLS record,
 * makes almost no garbage, and needs no JIT warm-up (see docs/performance.md). Both enforce the same protocols,
 * trust and host name checks; the choice never weakens policy, so the JDK is a plain fallback, logged at start.
 */
public enum TlsImplementation {
  /** BoringSSL through netty-tcnative. */
  OPENSSL(SslProvider.OPENSSL),
  /** The JDK's JSSE. */
  JDK(SslProvider.JDK);

  /** The system property that forces one: {@code openssl} or {@code jdk}. */
  public static final String PROPERTY = "egressd.mitm.tls";

  private final SslProvider provider;

  TlsImplementation(SslProvider provider) {
    this.provider = provider;
  }

  /**
   * The implementation to use: the one {@link #PROPERTY} names, else BoringSSL when available.
   *
   * @throws CaException when the property names an unknown implementation, or BoringSSL when it cannot load
   */
  public static TlsImplementation select() throws CaException {
    String forced = System.getProperty(PROPERTY, "").trim().toLowerCase(Locale.ROOT);
    return switch (forced) {
      case "" -> OpenSsl.isAvailable() ? OPENSSL : JDK;
      case "jdk" -> JDK;
      case "openssl" -> {
        if (!OpenSsl.isAvailable()) {
          throw new CaException("-D" + PROPERTY + "=openssl, but BoringSSL cannot be loaded here: "
              + OpenSsl.unavailabilityCause());
        }
        yield OPENSSL;
      }
      default -> throw new CaException("-D" + PROPERTY + "=" + forced + ": expected openssl or jdk");
    };
  }

  /** Why BoringSSL is not in use, for the start-up log; empty when it is. */
  public String note() {
    if (this == OPENSSL) {
      return "";
    }
    Throwable cause = OpenSsl.unavailabilityCause();
    return cause == null ? "forced by -D" + PROPERTY : String.valueOf(cause.getMessage());
  }

  SslProvider provider() {
    return provider;
  }
}
