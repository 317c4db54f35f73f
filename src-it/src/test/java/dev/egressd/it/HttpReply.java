package dev.egressd.it;

import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * One HTTP response as a client received it.
 *
 * @param statusLine the status line, without CRLF
 * @param status the status code
 * @param headers the header fields
 * @param body the body bytes (empty when there was none)
 */
record HttpReply(String statusLine, int status, Headers headers, byte[] body) {
  /** The first value of a header, or null. */
  String header(String name) {
    return headers.get(name);
  }

  /** The body as UTF-8 text. */
  String text() {
    return new String(body, StandardCharsets.UTF_8);
  }

  /** The body as a JSON object. */
  Map<String, Object> json() {
    return Json.object(text());
  }

  /** Parses a status line such as {@code HTTP/1.1 403 Forbidden}. */
  static int statusOf(String statusLine) {
    String[] parts = statusLine.split(" ", 3);
    if (parts.length < 2 || !parts[0].startsWith("HTTP/")) {
      throw new IllegalArgumentException("not a status line: " + statusLine);
    }
    return Integer.parseInt(parts[1]);
  }

  @Override
  public String toString() {
    return statusLine + "\n" + headers + "\n" + (body.length > 2048 ? "(" + body.length + " bytes)" : text());
  }
}
