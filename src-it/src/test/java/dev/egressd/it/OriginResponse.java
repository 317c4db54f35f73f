package dev.egressd.it;

import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

/** What the origin server answers on one path. Each variant is one behaviour a proxy has to cope with. */
sealed interface OriginResponse {
  /**
   * A fixed response.
   *
   * @param status the status code
   * @param contentType the Content-Type
   * @param body the body
   */
  record Fixed(int status, String contentType, byte[] body) implements OriginResponse {}

  /** 200 with a text body naming the method and target the origin saw (the default). */
  record Echo() implements OriginResponse {}

  /**
   * 200 with {@code length} bytes of {@link Pattern} content, written in 64 KiB pieces with a Content-Length.
   *
   * @param length the body length
   */
  record Streamed(long length) implements OriginResponse {}

  /**
   * 200 with Content-Length {@code head.length + tail.length}: writes and flushes {@code head}, then waits (at most
   * 30 s) for {@code release} before writing {@code tail}. A proxy that buffers whole bodies delivers nothing
   * before the release.
   *
   * @param head the first part
   * @param release opened by the test once the client has the first part
   * @param tail the rest
   */
  record Gated(byte[] head, CountDownLatch release, byte[] tail) implements OriginResponse {}

  /**
   * Static files under {@code root}, for paths starting with {@code prefix} (git's dumb HTTP protocol).
   *
   * @param prefix the URL path prefix, e.g. {@code /repo.git}
   * @param root the directory it maps to
   */
  record Files(String prefix, Path root) implements OriginResponse {}

  /**
   * 200 without Content-Length or chunking: the body ends when the origin closes the connection.
   *
   * @param body the body
   */
  record CloseDelimited(byte[] body) implements OriginResponse {}

  /** Reads the request, then closes the connection without answering. */
  record Disconnect() implements OriginResponse {}

  /** A text response. */
  static OriginResponse text(int status, String body) {
    return new Fixed(status, "text/plain; charset=utf-8", body.getBytes(java.nio.charset.StandardCharsets.UTF_8));
  }

  /** The deterministic body content of {@link Streamed}: byte {@code i} is {@code i % 251}. */
  final class Pattern {
    private Pattern() {}

    /** Fills {@code buffer} with the pattern bytes starting at {@code offset}. */
    static void fill(byte[] buffer, long offset, int length) {
      for (int i = 0; i < length; i++) {
        buffer[i] = (byte) ((offset + i) % 251);
      }
    }

    /** The first {@code length} pattern bytes. */
    static byte[] bytes(int length) {
      byte[] bytes = new byte[length];
      fill(bytes, 0, length);
      return bytes;
    }
  }
}
