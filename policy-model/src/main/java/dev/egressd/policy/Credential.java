package dev.egressd.policy;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * One {@code [network.credentials.NAME]}: a real secret the agent never holds, the hosts it belongs to, and the
 * stand-in ({@link #dummy()}) the agent gets instead. Inside intercepted tunnels to a bound host the stand-in is
 * swapped for the secret; sent anywhere else it is refused as misuse.
 *
 * @param name the table's name, for audit records and messages
 * @param secret the real secret
 * @param dummy the stand-in: same prefix, length and character classes as the secret, never equal to it
 * @param hosts the hosts the secret belongs to
 * @param header the lower-case header the secret travels in (default {@code authorization}); any value there that
 *     carries the stand-in ({@code Bearer}, {@code token}, {@code Basic user:password}) gets the secret instead
 * @param childVariable the environment variable of {@code run -- CMD}'s child that receives the stand-in
 * @param secretVariable the variable the secret came from, removed from the child's environment; null for a file
 * @param origin where it was written
 */
public record Credential(String name, Secret secret, String dummy, List<HostPattern> hosts, String header,
    String childVariable, String secretVariable, String origin) {
  /** Null checks and normalisation. */
  public Credential {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(secret, "secret");
    Objects.requireNonNull(dummy, "dummy");
    hosts = List.copyOf(hosts);
    header = header.toLowerCase(Locale.ROOT);
    Objects.requireNonNull(childVariable, "childVariable");
    Objects.requireNonNull(origin, "origin");
    if (dummy.equals(secret.reveal())) {
      throw new IllegalArgumentException("dummy: equal to the secret");
    }
  }

  /**
   * {@code value} with the stand-in replaced by the secret, where it stands alone or after a scheme word
   * ({@code Bearer DUMMY}, {@code token DUMMY}), or inside {@code Basic base64(user:password)} as git sends it; null
   * when the stand-in is not there.
   */
  public String swapped(String value) {
    if (value.contains(dummy)) {
      return value.replace(dummy, secret.reveal());
    }
    String trimmed = value.trim();
    if (trimmed.regionMatches(true, 0, "Basic ", 0, 6)) {
      try {
        String decoded = new String(Base64.getDecoder().decode(trimmed.substring(6).trim()),
            StandardCharsets.UTF_8);
        if (decoded.contains(dummy)) {
          return "Basic " + Base64.getEncoder().encodeToString(decoded.replace(dummy, secret.reveal())
              .getBytes(StandardCharsets.UTF_8));
        }
      } catch (IllegalArgumentException e) {
        return null; // not base64: nothing of ours in it
      }
    }
    return null;
  }

  /** True when {@code text} carries the stand-in: as is, or inside a Basic credential. */
  public boolean carriedBy(String text) {
    return swapped(text) != null;
  }

  @Override
  public String toString() {
    return "Credential[" + name + " from " + secret.source() + ", hosts " + hosts + ", " + origin + "]";
  }
}
