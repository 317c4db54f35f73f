package dev.egressd.it;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Random;

/** Request texts, bodies and ports the tests share. */
final class TestData {
  private TestData() {}

  /** An absolute-form GET with a matching Host header. */
  static String get(String authority, String path) {
    return request("GET", authority, path);
  }

  /** An absolute-form request without a body and with a matching Host header. */
  static String request(String method, String authority, String path) {
    return method + " http://" + authority + path + " HTTP/1.1\r\nHost: " + authority + "\r\n\r\n";
  }

  /** A CONNECT request for {@code authority}. */
  static String connect(String authority) {
    return "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n\r\n";
  }

  /** Reproducible pseudo-random bytes. */
  static byte[] randomBytes(int length) {
    byte[] bytes = new byte[length];
    new Random(length).nextBytes(bytes);
    return bytes;
  }

  /** SHA-256, hex. */
  static String sha256(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** A port on 127.0.0.1 where nothing listens (bound and released just now). */
  static int closedPort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      return socket.getLocalPort();
    }
  }
}
