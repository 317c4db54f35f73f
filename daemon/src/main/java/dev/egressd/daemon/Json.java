package dev.egressd.daemon;

import dev.egressd.audit.JsonText;

/** JSON string quoting for the CLI's machine-readable output. */
final class Json {
  private Json() {}

  static String quote(String s) {
    return JsonText.quote(s);
  }
}
