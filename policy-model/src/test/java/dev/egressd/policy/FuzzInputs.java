package dev.egressd.policy;

import java.nio.charset.StandardCharsets;
import java.util.List;

/** Turns fuzzer bytes into the strings the parsers see. */
final class FuzzInputs {
  private FuzzInputs() {}

  /**
   * Two readings of the same bytes: UTF-8, so seed files are plain text, and raw UTF-16 code units, which reach what
   * UTF-8 cannot (unpaired surrogates, any char value).
   */
  static List<String> texts(byte[] input) {
    char[] units = new char[input.length / 2];
    for (int i = 0; i < units.length; i++) {
      units[i] = (char) ((input[2 * i] & 0xff) << 8 | input[2 * i + 1] & 0xff);
    }
    return List.of(new String(input, StandardCharsets.UTF_8), new String(units));
  }
}
