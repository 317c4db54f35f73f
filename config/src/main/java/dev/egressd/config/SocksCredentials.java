package dev.egressd.config;

import java.nio.charset.StandardCharsets;
import java.util.Objects;

/**
 * The username and password SOCKS5 clients must present (RFC 1929). The password comes from the environment, never
 * from the file, and {@link #toString()} does not show it.
 *
 * @param username 1 to 255 bytes of UTF-8
 * @param password 1 to 255 bytes of UTF-8
 * @param passwordVariable the environment variable the password came from ({@code socks_password_env}), so output
 *     can refer to it instead of showing the secret
 */
public record SocksCredentials(String username, String password, String passwordVariable) {
  /** Checks the RFC 1929 length limits. */
  public SocksCredentials {
    check(username, "socks_username");
    check(password, "the SOCKS5 password");
    Objects.requireNonNull(passwordVariable, "passwordVariable");
  }

  private static void check(String value, String name) {
    Objects.requireNonNull(value, name);
    int length = value.getBytes(StandardCharsets.UTF_8).length;
    if (length < 1 || length > 255) {
      throw new IllegalArgumentException(name + " must be 1 to 255 bytes long (found " + length + ")");
    }
  }

  @Override
  public String toString() {
    return "SocksCredentials[username=" + username + ", password=$" + passwordVariable + "]";
  }
}
