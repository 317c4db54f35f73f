package dev.egressd.it;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;

/**
 * A SOCKS5 client (RFC 1928, RFC 1929) that writes exactly the bytes a test asks for and parses the answers by hand,
 * so that every reply code and every malformed request can be checked on the wire. After a successful CONNECT the
 * same socket is the tunnel.
 */
final class Socks5Client implements AutoCloseable {
  static final int VERSION = 0x05;
  static final int NO_AUTHENTICATION = 0x00;
  static final int USERNAME_PASSWORD = 0x02;
  static final int NO_ACCEPTABLE_METHODS = 0xff;
  static final int CONNECT = 0x01;
  static final int BIND = 0x02;
  static final int UDP_ASSOCIATE = 0x03;

  /** The REP field of a reply (RFC 1928 section 6). */
  enum Status {
    SUCCEEDED(0x00),
    GENERAL_FAILURE(0x01),
    NOT_ALLOWED_BY_RULESET(0x02),
    NETWORK_UNREACHABLE(0x03),
    HOST_UNREACHABLE(0x04),
    CONNECTION_REFUSED(0x05),
    TTL_EXPIRED(0x06),
    COMMAND_NOT_SUPPORTED(0x07),
    ADDRESS_TYPE_NOT_SUPPORTED(0x08);

    final int code;

    Status(int code) {
      this.code = code;
    }

    static Status of(int code) throws IOException {
      for (Status status : values()) {
        if (status.code == code) {
          return status;
        }
      }
      throw new IOException("unassigned SOCKS5 reply code " + code);
    }
  }

  /**
   * A reply to a command.
   *
   * @param status the REP field
   * @param bound BND.ADDR and BND.PORT: the proxy's upstream socket for CONNECT, the relay for UDP ASSOCIATE
   */
  record Reply(Status status, Socks5Address bound) {
    /** The bound address as a socket address (IPv4 or IPv6 replies only). */
    InetSocketAddress boundSocket() {
      return new InetSocketAddress(bound.host(), bound.port());
    }
  }

  private final Socket socket;
  private final InputStream in;
  private final OutputStream out;

  private Socks5Client(Socket socket) throws IOException {
    this.socket = socket;
    this.in = socket.getInputStream();
    this.out = socket.getOutputStream();
  }

  /** Connects to the SOCKS5 listener on 127.0.0.1:{@code port}, with a 20 s read timeout. */
  static Socks5Client connect(int port) throws IOException {
    Socket socket = new Socket();
    socket.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
    socket.setSoTimeout(20_000);
    return new Socks5Client(socket);
  }

  /** Sends bytes as they are, flushing. */
  Socks5Client send(byte[] bytes) throws IOException {
    out.write(bytes);
    out.flush();
    return this;
  }

  /** Sends the method selection message offering {@code methods} and returns the method the proxy chose. */
  int greet(int... methods) throws IOException {
    send(greeting(methods));
    return readMethodSelection();
  }

  /** {@code VER NMETHODS METHODS...}. */
  static byte[] greeting(int... methods) {
    byte[] bytes = new byte[2 + methods.length];
    bytes[0] = VERSION;
    bytes[1] = (byte) methods.length;
    for (int i = 0; i < methods.length; i++) {
      bytes[2 + i] = (byte) methods[i];
    }
    return bytes;
  }

  /** Reads {@code VER METHOD} and returns METHOD. */
  int readMethodSelection() throws IOException {
    byte[] answer = readExactly(2, "method selection");
    if (answer[0] != VERSION) {
      throw new IOException("method selection with version " + answer[0]);
    }
    return answer[1] & 0xff;
  }

  /** RFC 1929 username/password sub-negotiation; returns STATUS (0 is success). */
  int authenticate(String username, String password) throws IOException {
    byte[] user = username.getBytes(StandardCharsets.UTF_8);
    byte[] pass = password.getBytes(StandardCharsets.UTF_8);
    ByteArrayOutputStream message = new ByteArrayOutputStream();
    message.write(0x01);
    message.write(user.length);
    message.write(user, 0, user.length);
    message.write(pass.length);
    message.write(pass, 0, pass.length);
    send(message.toByteArray());
    byte[] answer = readExactly(2, "authentication status");
    if (answer[0] != 0x01) {
      throw new IOException("authentication reply with version " + answer[0]);
    }
    return answer[1] & 0xff;
  }

  /** Sends {@code VER CMD RSV ATYP DST.ADDR DST.PORT} and reads the reply. */
  Reply request(int command, Socks5Address destination) throws IOException {
    send(request(command, destination.encode()));
    return readReply();
  }

  /** {@code VER CMD RSV} followed by the given address bytes. */
  static byte[] request(int command, byte[] encodedAddress) {
    byte[] bytes = new byte[3 + encodedAddress.length];
    bytes[0] = VERSION;
    bytes[1] = (byte) command;
    System.arraycopy(encodedAddress, 0, bytes, 3, encodedAddress.length);
    return bytes;
  }

  /** No authentication, then CONNECT. */
  Reply connectTo(Socks5Address destination) throws IOException {
    int method = greet(NO_AUTHENTICATION);
    if (method != NO_AUTHENTICATION) {
      throw new IOException("proxy chose method " + method + " instead of no authentication");
    }
    return request(CONNECT, destination);
  }

  /** Reads {@code VER REP RSV ATYP BND.ADDR BND.PORT}. */
  Reply readReply() throws IOException {
    byte[] head = readExactly(3, "reply");
    if (head[0] != VERSION) {
      throw new IOException("reply with version " + head[0]);
    }
    Status status = Status.of(head[1] & 0xff);
    return new Reply(status, Socks5Address.read(in));
  }

  /**
   * Everything the proxy sends until it closes the connection; fails if the connection is still open after
   * {@code timeout}.
   */
  byte[] readUntilClosed(Duration timeout) throws IOException {
    int old = socket.getSoTimeout();
    socket.setSoTimeout((int) timeout.toMillis());
    ByteArrayOutputStream received = new ByteArrayOutputStream();
    try {
      byte[] buffer = new byte[4096];
      for (int n; (n = in.read(buffer)) >= 0; ) {
        received.write(buffer, 0, n);
      }
      return received.toByteArray();
    } catch (SocketTimeoutException e) {
      throw new AssertionError("the proxy kept the connection open for " + timeout + " after sending "
          + Arrays.toString(received.toByteArray()));
    } catch (IOException e) { // reset: closed as well
      return received.toByteArray();
    } finally {
      if (!socket.isClosed()) {
        socket.setSoTimeout(old);
      }
    }
  }

  /** Whether the proxy closed the connection within {@code millis}; false if it stays open and silent. */
  boolean closedByPeer(int millis) throws IOException {
    int old = socket.getSoTimeout();
    socket.setSoTimeout(millis);
    try {
      return in.read() < 0;
    } catch (SocketTimeoutException e) {
      return false;
    } catch (IOException e) {
      return true;
    } finally {
      socket.setSoTimeout(old);
    }
  }

  /**
   * Over an established tunnel: sends an HTTP/1.1 GET with {@code Connection: close} and returns everything until
   * the origin closes.
   */
  String httpGet(String authority, String path) throws IOException {
    send(("GET " + path + " HTTP/1.1\r\nHost: " + authority + "\r\nConnection: close\r\n\r\n")
        .getBytes(StandardCharsets.ISO_8859_1));
    return new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
  }

  /** Half-closes the connection: the proxy sees end of stream, and its answer can still be read. */
  void shutdownOutput() throws IOException {
    socket.shutdownOutput();
  }

  /** The stream from the proxy, for reading a tunnelled protocol directly. */
  InputStream input() {
    return in;
  }

  /** The local port of the control connection. */
  int localPort() {
    return socket.getLocalPort();
  }

  private byte[] readExactly(int length, String what) throws IOException {
    byte[] bytes = in.readNBytes(length);
    if (bytes.length != length) {
      throw new EOFException("connection closed after " + bytes.length + " of " + length + " bytes of the " + what);
    }
    return bytes;
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
