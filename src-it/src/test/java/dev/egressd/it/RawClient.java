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
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSession;
import javax.net.ssl.SSLSocket;

/**
 * A client that writes exactly the bytes a test gives it and parses responses by hand, for requests no real
 * client would send. The response head is read byte by byte, so nothing after it is consumed (a CONNECT tunnel's
 * first TLS bytes stay in the socket).
 */
final class RawClient implements AutoCloseable {
  private Socket socket;
  private InputStream in;
  private OutputStream out;

  private RawClient(Socket socket) throws IOException {
    use(socket);
  }

  /** Connects to 127.0.0.1:{@code port} with a 15 s read timeout. */
  static RawClient connect(int port) throws IOException {
    Socket socket = new Socket();
    socket.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
    socket.setSoTimeout(15_000);
    return new RawClient(socket);
  }

  /** A client on an already connected socket (e.g. a {@link ShapedSocket}), with a 15 s read timeout. */
  static RawClient over(Socket connected) throws IOException {
    connected.setSoTimeout(15_000);
    return new RawClient(connected);
  }

  private void use(Socket s) throws IOException {
    socket = s;
    in = s.getInputStream();
    out = s.getOutputStream();
  }

  /** Sends text (ISO-8859-1), flushing. */
  RawClient send(String text) throws IOException {
    return send(text.getBytes(StandardCharsets.ISO_8859_1));
  }

  /** Sends bytes, flushing. */
  RawClient send(byte[] bytes) throws IOException {
    out.write(bytes);
    out.flush();
    return this;
  }

  /**
   * Starts TLS over this connection (after a CONNECT 200), verifying the certificate for {@code host} against the
   * given context's trust.
   */
  RawClient startTls(SSLContext context, String host, int port) throws IOException {
    SSLSocket ssl = (SSLSocket) context.getSocketFactory().createSocket(socket, host, port, true);
    SSLParameters parameters = ssl.getSSLParameters();
    parameters.setEndpointIdentificationAlgorithm("HTTPS");
    ssl.setSSLParameters(parameters);
    ssl.setUseClientMode(true);
    ssl.startHandshake();
    use(ssl);
    return this;
  }

  /**
   * Starts TLS over this connection sending {@code serverName} as SNI (none when null) and offering {@code alpn}
   * (may be empty), trusting the context's CAs but not checking the certificate's names: for tests of what a server
   * does with an SNI or ALPN it did not expect.
   */
  RawClient startTlsWithServerName(SSLContext context, String serverName, String... alpn) throws IOException {
    SSLSocket ssl = (SSLSocket) context.getSocketFactory().createSocket(socket,
        serverName == null ? "no-sni.invalid" : serverName, 443, true);
    SSLParameters parameters = ssl.getSSLParameters();
    parameters.setServerNames(serverName == null ? List.of() : List.of(new SNIHostName(serverName)));
    if (alpn.length > 0) {
      parameters.setApplicationProtocols(alpn);
    }
    ssl.setSSLParameters(parameters);
    ssl.setUseClientMode(true);
    ssl.startHandshake();
    use(ssl);
    return this;
  }

  /** The TLS session after {@link #startTls}; fails on a plain connection. */
  SSLSession tlsSession() {
    if (!(socket instanceof SSLSocket ssl)) {
      throw new IllegalStateException("no TLS on this connection");
    }
    return ssl.getSession();
  }

  /** The ALPN protocol the server selected after {@link #startTls} ("" when none was negotiated). */
  String applicationProtocol() {
    if (!(socket instanceof SSLSocket ssl)) {
      throw new IllegalStateException("no TLS on this connection");
    }
    return ssl.getApplicationProtocol();
  }

  /** Reads one response, skipping 1xx; the body framing follows the headers (none for a CONNECT 200). */
  HttpReply readResponse() throws IOException {
    return readResponse(false);
  }

  /** Reads the response to a CONNECT: a 2xx has no body. */
  HttpReply readConnectResponse() throws IOException {
    return readResponse(true);
  }

  /** Reads the response to a HEAD request (never a body). */
  HttpReply readHeadResponse() throws IOException {
    HttpReply head = readHead();
    return new HttpReply(head.statusLine(), head.status(), head.headers(), new byte[0]);
  }

  private HttpReply readResponse(boolean connect) throws IOException {
    HttpReply head;
    do {
      head = readHead();
    } while (head.status() >= 100 && head.status() < 200);
    byte[] body;
    int status = head.status();
    if ((connect && status >= 200 && status < 300) || status == 204 || status == 304) {
      body = new byte[0];
    } else if (head.header("Transfer-Encoding") != null
        && head.header("Transfer-Encoding").toLowerCase(Locale.ROOT).contains("chunked")) {
      body = readChunked();
    } else if (head.header("Content-Length") != null) {
      body = readBody(Integer.parseInt(head.header("Content-Length")));
    } else {
      body = in.readAllBytes();
    }
    return new HttpReply(head.statusLine(), head.status(), head.headers(), body);
  }

  /** Reads a status line and header block; the body is left in the stream. */
  HttpReply readHead() throws IOException {
    String statusLine = readLine();
    if (statusLine == null) {
      throw new EOFException("connection closed before a response");
    }
    List<String> lines = new ArrayList<>();
    String line;
    while ((line = readLine()) != null && !line.isEmpty()) {
      lines.add(line);
    }
    return new HttpReply(statusLine, HttpReply.statusOf(statusLine), Headers.parse(lines), new byte[0]);
  }

  /** Reads exactly {@code length} body bytes. */
  byte[] readBody(int length) throws IOException {
    byte[] body = in.readNBytes(length);
    if (body.length != length) {
      throw new EOFException("body ended after " + body.length + " of " + length + " bytes");
    }
    return body;
  }

  private byte[] readChunked() throws IOException {
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    while (true) {
      String sizeLine = readLine();
      if (sizeLine == null) {
        throw new EOFException("connection closed inside a chunked body");
      }
      int semicolon = sizeLine.indexOf(';');
      int size = Integer.parseInt((semicolon >= 0 ? sizeLine.substring(0, semicolon) : sizeLine).trim(), 16);
      if (size == 0) {
        String trailer;
        while ((trailer = readLine()) != null && !trailer.isEmpty()) {
          // ignored
        }
        return body.toByteArray();
      }
      body.write(readBody(size));
      readLine();
    }
  }

  /**
   * Whether the peer closed the connection (EOF within {@code millis}); false if the connection stays open and
   * silent.
   */
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

  private String readLine() throws IOException {
    ByteArrayOutputStream line = new ByteArrayOutputStream();
    while (true) {
      int b = in.read();
      if (b < 0) {
        return line.size() == 0 ? null : line.toString(StandardCharsets.ISO_8859_1);
      }
      if (b == '\n') {
        byte[] bytes = line.toByteArray();
        int end = bytes.length > 0 && bytes[bytes.length - 1] == '\r' ? bytes.length - 1 : bytes.length;
        return new String(bytes, 0, end, StandardCharsets.ISO_8859_1);
      }
      line.write(b);
    }
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
