package dev.egressd.policy;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Stand-ins for secrets: the secret's well-known prefix ({@code ghp_}, {@code github_pat_}, {@code sk-proj-}...),
 * then every letter and digit replaced by one of the same class, so tools that check a token's shape accept it.
 * Derived from the secret and the credential's name with HMAC-SHA256 keyed by the secret: the same in every egressd
 * process (so {@code egressd env} and a running daemon agree), different per credential, and revealing nothing
 * about the secret.
 */
public final class DummyTokens {
  /** Letters and digits after the prefix a stand-in needs, so that it cannot turn up by chance. */
  public static final int MIN_RANDOM = 12;

  private static final Pattern PREFIX = Pattern.compile(
      "^(github_pat_|gh[pousr]_|sk-proj-|sk-ant-api\\d\\d-|sk-|xox[abprs]-|glpat-|hf_|AKIA|[A-Za-z]{1,8}[_-])");

  private DummyTokens() {}

  /**
   * The stand-in for {@code secret}.
   *
   * @throws IllegalArgumentException when the secret has fewer than {@link #MIN_RANDOM} letters and digits after its
   *     prefix (the message never contains the secret)
   */
  public static String of(String name, String secret) {
    Matcher prefix = PREFIX.matcher(secret);
    int start = prefix.find() && secret.length() - prefix.end() >= MIN_RANDOM ? prefix.end() : 0;
    String rest = secret.substring(start);
    if (rest.chars().filter(Character::isLetterOrDigit).count() < MIN_RANDOM) {
      throw new IllegalArgumentException("the secret is too short to stand in for: it needs at least " + MIN_RANDOM
          + " letters or digits");
    }
    byte[] stream = keyStream(secret, name, rest.length());
    StringBuilder dummy = new StringBuilder(secret.substring(0, start));
    for (int i = 0; i < rest.length(); i++) {
      char c = rest.charAt(i);
      int r = stream[i] & 0xff;
      if (c >= '0' && c <= '9') {
        dummy.append((char) ('0' + r % 10));
      } else if (c >= 'a' && c <= 'z') {
        dummy.append((char) ('a' + r % 26));
      } else if (c >= 'A' && c <= 'Z') {
        dummy.append((char) ('A' + r % 26));
      } else {
        dummy.append(c); // separators and anything else keep their place
      }
    }
    String result = dummy.toString();
    // Every letter and digit came out the same (about 36^-12): never hand out the secret itself.
    return result.equals(secret) ? of(name + "'", secret) : result;
  }

  private static byte[] keyStream(String secret, String name, int length) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
      byte[] out = new byte[length];
      for (int block = 0, filled = 0; filled < length; block++) {
        mac.update(("egressd stand-in " + name + " " + block).getBytes(StandardCharsets.UTF_8));
        byte[] bytes = mac.doFinal();
        int n = Math.min(bytes.length, length - filled);
        System.arraycopy(bytes, 0, out, filled, n);
        filled += n;
      }
      return out;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is not available", e);
    }
  }
}
