package dev.egressd.proxy.socks5;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Objects;

/**
 * SOCKS5 listener settings.
 *
 * @param udpEnabled whether UDP ASSOCIATE is served ({@code enable_socks5_udp}); when false it is answered with
 *     "command not supported" (0x07)
 * @param credentials the username and password clients must present (RFC 1929), or null to accept clients without
 *     authentication (and accept, then ignore, any credentials a client insists on sending)
 */
public record Socks5Options(boolean udpEnabled, Credentials credentials) {
  /**
   * RFC 1929 credentials.
   *
   * @param username 1 to 255 bytes
   * @param password 1 to 255 bytes
   */
  public record Credentials(String username, String password) {
    /** Checks the RFC 1929 length limits. */
    public Credentials {
      requireLength(username, "username");
      requireLength(password, "password");
    }

    /** Compares in constant time, so timing does not reveal how much of a guess was right. */
    public boolean matches(String user, String pass) {
      return MessageDigest.isEqual(bytes(username), bytes(user)) & MessageDigest.isEqual(bytes(password), bytes(pass));
    }

    @Override
    public String toString() {
      return "Credentials[username=" + username + ", password=***]";
    }

    private static byte[] bytes(String s) {
      return s == null ? new byte[0] : s.getBytes(StandardCharsets.UTF_8);
    }

    private static void requireLength(String value, String name) {
      Objects.requireNonNull(value, name);
      int length = value.getBytes(StandardCharsets.UTF_8).length;
      if (length < 1 || length > 255) {
        throw new IllegalArgumentException(name + ": " + length + " bytes (expected: 1..255)");
      }
    }
  }
}
