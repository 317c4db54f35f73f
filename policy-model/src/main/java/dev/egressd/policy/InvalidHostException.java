package dev.egressd.policy;

/** Thrown when text is not a valid host name or IP literal; the message says why and quotes the input. */
public final class InvalidHostException extends IllegalArgumentException {
  InvalidHostException(String input, String why) {
    super("invalid host " + quote(input) + ": " + why);
  }

  static String quote(String input) {
    StringBuilder sb = new StringBuilder(input.length() + 2).append('"');
    int limit = Math.min(input.length(), 80);
    for (int i = 0; i < limit; i++) {
      char c = input.charAt(i);
      if (c < 0x20 || c == 0x7f) {
        sb.append(String.format("\\x%02x", (int) c));
      } else if (c == '"' || c == '\\') {
        sb.append('\\').append(c); // keeps the quoted text unambiguous
      } else if (isInvisible(c)) {
        // Line separators, bidi overrides and the like would let input rewrite the log line it is quoted in.
        sb.append(String.format("\\u%04x", (int) c));
      } else {
        sb.append(c);
      }
    }
    if (input.length() > limit) {
      sb.append("...");
    }
    return sb.append('"').toString();
  }

  private static boolean isInvisible(char c) {
    int type = Character.getType(c);
    return Character.isISOControl(c) || type == Character.FORMAT || type == Character.LINE_SEPARATOR
        || type == Character.PARAGRAPH_SEPARATOR || type == Character.SURROGATE || type == Character.UNASSIGNED;
  }
}
