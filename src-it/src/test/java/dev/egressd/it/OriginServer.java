package dev.egressd.it;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import javax.net.ssl.ExtendedSSLSession;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * An HTTP/1.1 origin on 127.0.0.1 (port 0), optionally TLS, that counts every accepted TCP connection, records every
 * request, and answers keep-alive with the {@link OriginResponse} configured for the path (default
 * {@link OriginResponse.Echo}). Counters, records and routes are reset before each test.
 *
 * <p>{@link #withPrivateDecoy()} also listens on 127.0.0.2 at the same port and counts those connections too, so a
 * refused request to a name that resolves to 127.0.0.2 proves that nothing was dialled at all.
 */
final class OriginServer implements BeforeAllCallback, AfterAllCallback, BeforeEachCallback {
  private static final int MAX_LINE = 64 * 1024;
  private static final int PREFIX_LIMIT = 64 * 1024;

  private final boolean tls;
  private final boolean decoy;
  private final TestCertificates certificates;
  private final int wantedPort;
  private final List<String> aliases;
  private final List<ServerSocket> listeners = new CopyOnWriteArrayList<>();
  private final Set<Socket> open = ConcurrentHashMap.newKeySet();
  private final AtomicInteger connections = new AtomicInteger();
  private final Set<Integer> sentinelPorts = ConcurrentHashMap.newKeySet();
  private final AtomicLong bodyBytes = new AtomicLong();
  private final List<RecordedRequest> requests = new CopyOnWriteArrayList<>();
  private final List<String> serverNames = new CopyOnWriteArrayList<>();
  private final Map<String, OriginResponse> routes = new ConcurrentHashMap<>();
  private ExecutorService threads;
  private volatile boolean closed;
  private int port;

  private OriginServer(boolean tls, boolean decoy, TestCertificates certificates, int wantedPort) {
    this(tls, decoy, certificates, wantedPort, List.of());
  }

  private OriginServer(boolean tls, boolean decoy, TestCertificates certificates, int wantedPort,
      List<String> aliases) {
    this.tls = tls;
    this.decoy = decoy;
    this.certificates = certificates;
    this.wantedPort = wantedPort;
    this.aliases = List.copyOf(aliases);
  }

  /** A plain HTTP origin. */
  static OriginServer http() {
    return new OriginServer(false, false, null, 0);
  }

  /** A TLS origin with the {@link TestCertificates} server certificate (allowed.test, 127.0.0.1). */
  static OriginServer https() {
    return new OriginServer(true, false, null, 0);
  }

  /**
   * A TLS origin presenting the server certificate of {@code certificates}, e.g.
   * {@link TestCertificates#untrusted()}.
   */
  static OriginServer https(TestCertificates certificates) {
    return new OriginServer(true, false, certificates, 0);
  }

  /** This origin, also listening on 127.0.0.2 at the same port. */
  OriginServer withPrivateDecoy() {
    return new OriginServer(tls, true, certificates, wantedPort, aliases);
  }

  /**
   * This origin, also listening on another loopback address (e.g. {@code 127.0.0.3}) at the same port, counted and
   * recorded like the others; {@link RecordedRequest#localAddress()} tells which address a request came in on.
   */
  OriginServer alsoOn(String loopbackAddress) {
    List<String> all = new ArrayList<>(aliases);
    all.add(loopbackAddress);
    return new OriginServer(tls, decoy, certificates, wantedPort, all);
  }

  /**
   * This origin on a fixed port of 127.0.0.1 instead of port 0 (e.g. 443, which needs privileges);
   * {@link #start()} fails with an {@link IOException} when the port cannot be bound.
   */
  OriginServer onPort(int port) {
    return new OriginServer(tls, decoy, certificates, port, aliases);
  }

  @Override
  public void beforeAll(ExtensionContext context) throws IOException {
    start();
  }

  @Override
  public void afterAll(ExtensionContext context) {
    close();
  }

  @Override
  public void beforeEach(ExtensionContext context) throws IOException, InterruptedException {
    awaitBacklog();
    reset();
  }

  /**
   * Waits until every connection the kernel completed so far has been accepted and counted, so a connection the
   * previous test made (and the kernel queued before this test began) is not counted against this one. Accept is
   * FIFO, so once a sentinel connection made now is accepted, everything queued before it has been too.
   */
  private void awaitBacklog() throws IOException, InterruptedException {
    for (ServerSocket listener : listeners) {
      try (Socket sentinel = new Socket()) {
        // The port must be known as a sentinel's before the accept loop can see the connection.
        sentinel.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        int sentinelPort = sentinel.getLocalPort();
        sentinelPorts.add(sentinelPort);
        sentinel.connect(listener.getLocalSocketAddress(), 5_000);
        if (!eventually(() -> !sentinelPorts.contains(sentinelPort), Duration.ofSeconds(10))) {
          throw new AssertionError("origin did not accept its sentinel connection within 10 s");
        }
      }
    }
  }

  void start() throws IOException {
    closed = false;
    threads = Executors.newCachedThreadPool(r -> {
      Thread t = new Thread(r, (tls ? "https" : "http") + "-origin");
      t.setDaemon(true);
      return t;
    });
    for (int attempt = 0; ; attempt++) {
      ServerSocket main;
      try {
        main = bind(wantedPort, "127.0.0.1");
      } catch (IOException e) {
        threads.shutdownNow();
        throw e;
      }
      port = main.getLocalPort();
      listeners.add(main);
      List<String> extra = new ArrayList<>(aliases);
      if (decoy) {
        extra.add(0, "127.0.0.2");
      }
      if (extra.isEmpty()) {
        break;
      }
      try {
        for (String address : extra) {
          listeners.add(bind(port, address));
        }
        break;
      } catch (IOException e) {
        for (ServerSocket listener : listeners) {
          if (listener != main) {
            listener.close();
          }
        }
        main.close();
        listeners.clear();
        if (attempt == 10) {
          throw e;
        }
      }
    }
    listeners.forEach(listener -> threads.execute(() -> acceptLoop(listener)));
  }

  private ServerSocket bind(int wanted, String address) throws IOException {
    TestCertificates tlsCertificates = certificates != null ? certificates : TestCertificates.get();
    ServerSocket socket = tls ? tlsCertificates.server().getServerSocketFactory().createServerSocket()
        : new ServerSocket();
    if (socket instanceof SSLServerSocket ssl) {
      ssl.setEnabledProtocols(new String[] {"TLSv1.3", "TLSv1.2"});
    }
    socket.setReuseAddress(true);
    try {
      socket.bind(new InetSocketAddress(InetAddress.getByName(address), wanted), 100);
    } catch (IOException e) {
      socket.close();
      throw e;
    }
    return socket;
  }

  void close() {
    closed = true;
    for (ServerSocket listener : listeners) {
      try {
        listener.close();
      } catch (IOException e) {
        // closing anyway
      }
    }
    listeners.clear();
    for (Socket socket : open) {
      try {
        socket.close();
      } catch (IOException e) {
        // closing anyway
      }
    }
    threads.shutdownNow();
  }

  /** Forgets counts, records and routes. */
  void reset() {
    connections.set(0);
    bodyBytes.set(0);
    requests.clear();
    serverNames.clear();
    routes.clear();
  }

  /** Answers requests whose path (without query) equals {@code path}, or starts with it for {@code Files}. */
  void respond(String path, OriginResponse response) {
    routes.put(path, response);
  }

  /** The port, the same on 127.0.0.1 and the decoy. */
  int port() {
    return port;
  }

  /** {@code http[s]://HOST:PORT/PATH}. */
  String url(String host, String path) {
    return (tls ? "https" : "http") + "://" + host + ":" + port + path;
  }

  /** {@code HOST:PORT}. */
  String authority(String host) {
    return host + ":" + port;
  }

  /** TCP connections accepted since the test started, on 127.0.0.1 and the decoy. */
  int connectionCount() {
    return connections.get();
  }

  /** Complete requests received since the test started. */
  int requestCount() {
    return requests.size();
  }

  /** The requests received since the test started. */
  List<RecordedRequest> requests() {
    return List.copyOf(requests);
  }

  /** The only request received since the test started. */
  RecordedRequest onlyRequest() {
    List<RecordedRequest> all = requests();
    if (all.size() != 1) {
      throw new AssertionError("expected exactly one request at the origin, got " + all.size() + ": " + all);
    }
    return all.get(0);
  }

  /**
   * For a TLS origin: the SNI host name of each connection whose handshake completed since the test started, in
   * order ("" for a ClientHello without SNI).
   */
  List<String> serverNames() {
    return List.copyOf(serverNames);
  }

  /** Request body bytes received so far (also while a body is still arriving). */
  long bodyBytesReceived() {
    return bodyBytes.get();
  }

  /** Polls until {@code condition} holds or the timeout passes; returns whether it held. */
  static boolean eventually(BooleanSupplier condition, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        return false;
      }
      TimeUnit.MILLISECONDS.sleep(10);
    }
    return true;
  }

  private static void closeQuietly(Socket socket) {
    try {
      socket.close();
    } catch (IOException e) {
      // nothing to clean up
    }
  }

  private void acceptLoop(ServerSocket listener) {
    while (!closed) {
      Socket socket;
      try {
        socket = listener.accept();
      } catch (IOException e) {
        return;
      }
      if (sentinelPorts.remove(socket.getPort())) {
        closeQuietly(socket);
        continue;
      }
      connections.incrementAndGet();
      open.add(socket);
      threads.execute(() -> serve(socket));
    }
  }

  private void serve(Socket socket) {
    try (socket) {
      socket.setSoTimeout(60_000);
      if (socket instanceof SSLSocket ssl) {
        ssl.startHandshake();
        serverNames.add(((ExtendedSSLSession) ssl.getSession()).getRequestedServerNames().stream()
            .filter(SNIHostName.class::isInstance).map(name -> ((SNIHostName) name).getAsciiName())
            .findFirst().orElse(""));
      }
      InputStream in = new BufferedInputStream(socket.getInputStream());
      OutputStream out = new BufferedOutputStream(socket.getOutputStream(), 64 * 1024);
      while (true) {
        String requestLine = readLine(in);
        if (requestLine == null) {
          return;
        }
        if (requestLine.isEmpty()) {
          continue;
        }
        String[] parts = requestLine.split(" ", 3);
        if (parts.length != 3) {
          write(out, 400, "text/plain", "bad request line\n".getBytes(StandardCharsets.UTF_8), false, false);
          out.flush();
          return;
        }
        Headers headers = readHeaders(in);
        if ("100-continue".equalsIgnoreCase(headers.get("Expect"))) {
          out.write("HTTP/1.1 100 Continue\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
          out.flush();
        }
        Body body = readBody(in, headers);
        RecordedRequest request = new RecordedRequest(parts[0], parts[1], parts[2], headers, body.length,
            body.sha256, body.prefix, socket.getLocalAddress().getHostAddress());
        requests.add(request);
        boolean keepAlive = parts[2].equals("HTTP/1.1") && !"close".equalsIgnoreCase(headers.get("Connection"));
        if (!answer(request, out, keepAlive)) {
          return;
        }
        out.flush();
        if (!keepAlive) {
          return;
        }
      }
    } catch (IOException | InterruptedException e) {
      // Peer went away or the server is closing.
    } finally {
      open.remove(socket);
    }
  }

  private boolean answer(RecordedRequest request, OutputStream out, boolean keepAlive)
      throws IOException, InterruptedException {
    String path = request.target();
    int query = path.indexOf('?');
    if (query >= 0) {
      path = path.substring(0, query);
    }
    OriginResponse response = routes.get(path);
    if (response == null) {
      for (OriginResponse candidate : routes.values()) {
        if (candidate instanceof OriginResponse.Files files && path.startsWith(files.prefix() + "/")) {
          response = candidate;
        }
      }
    }
    if (response == null) {
      response = new OriginResponse.Echo();
    }
    boolean head = request.method().equals("HEAD");
    if (response instanceof OriginResponse.Fixed fixed) {
      write(out, fixed.status(), fixed.contentType(), fixed.body(), keepAlive, head);
    } else if (response instanceof OriginResponse.Echo) {
      String text = "origin saw " + request.method() + " " + request.target() + " body=" + request.bodyLength()
          + "\n";
      write(out, 200, "text/plain; charset=utf-8", text.getBytes(StandardCharsets.UTF_8), keepAlive, head);
    } else if (response instanceof OriginResponse.Streamed streamed) {
      writeHead(out, 200, "application/octet-stream", streamed.length(), keepAlive);
      if (!head) {
        byte[] buffer = new byte[64 * 1024];
        for (long offset = 0; offset < streamed.length(); offset += buffer.length) {
          int n = (int) Math.min(buffer.length, streamed.length() - offset);
          OriginResponse.Pattern.fill(buffer, offset, n);
          out.write(buffer, 0, n);
        }
      }
    } else if (response instanceof OriginResponse.Gated gated) {
      writeHead(out, 200, "application/octet-stream", gated.head().length + gated.tail().length, keepAlive);
      out.write(gated.head());
      out.flush();
      if (!gated.release().await(30, TimeUnit.SECONDS)) {
        return false;
      }
      out.write(gated.tail());
    } else if (response instanceof OriginResponse.Files files) {
      Path root = files.root().toAbsolutePath().normalize();
      Path file = root.resolve(path.substring(files.prefix().length() + 1)).normalize();
      if (!file.startsWith(root) || !java.nio.file.Files.isRegularFile(file)) {
        write(out, 404, "text/plain", "not found\n".getBytes(StandardCharsets.UTF_8), keepAlive, head);
      } else {
        write(out, 200, "application/octet-stream", java.nio.file.Files.readAllBytes(file), keepAlive, head);
      }
    } else if (response instanceof OriginResponse.CloseDelimited closeDelimited) {
      out.write(("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n")
          .getBytes(StandardCharsets.ISO_8859_1));
      out.write(closeDelimited.body());
      out.flush();
      return false;
    } else if (response instanceof OriginResponse.Disconnect) {
      return false;
    }
    return true;
  }

  private static void write(OutputStream out, int status, String type, byte[] body, boolean keepAlive, boolean head)
      throws IOException {
    writeHead(out, status, type, body.length, keepAlive);
    if (!head) {
      out.write(body);
    }
  }

  private static void writeHead(OutputStream out, int status, String type, long length, boolean keepAlive)
      throws IOException {
    String head = "HTTP/1.1 " + status + " " + reason(status) + "\r\n"
        + "Content-Type: " + type + "\r\n"
        + "Content-Length: " + length + "\r\n"
        + "X-Origin: egressd-it\r\n"
        + (keepAlive ? "" : "Connection: close\r\n")
        + "\r\n";
    out.write(head.getBytes(StandardCharsets.ISO_8859_1));
  }

  private static String reason(int status) {
    return switch (status) {
      case 200 -> "OK";
      case 201 -> "Created";
      case 204 -> "No Content";
      case 400 -> "Bad Request";
      case 404 -> "Not Found";
      case 500 -> "Internal Server Error";
      default -> "Status";
    };
  }

  private Headers readHeaders(InputStream in) throws IOException {
    List<String> lines = new ArrayList<>();
    String line;
    while (!(line = requireLine(in)).isEmpty()) {
      lines.add(line);
    }
    return Headers.parse(lines);
  }

  private Body readBody(InputStream in, Headers headers) throws IOException {
    Body body = new Body();
    String encoding = headers.get("Transfer-Encoding");
    if (encoding != null && encoding.toLowerCase(Locale.ROOT).contains("chunked")) {
      while (true) {
        String sizeLine = requireLine(in);
        int semicolon = sizeLine.indexOf(';');
        long size = Long.parseLong((semicolon >= 0 ? sizeLine.substring(0, semicolon) : sizeLine).trim(), 16);
        if (size == 0) {
          while (!requireLine(in).isEmpty()) {
            // trailer fields are ignored
          }
          break;
        }
        body.read(in, size);
        if (!requireLine(in).isEmpty()) {
          throw new IOException("bad chunk end");
        }
      }
    } else if (headers.get("Content-Length") != null) {
      body.read(in, Long.parseLong(headers.get("Content-Length")));
    }
    body.finish();
    return body;
  }

  private final class Body {
    private final MessageDigest digest;
    private final ByteArrayOutputStream prefixBytes = new ByteArrayOutputStream();
    private long length;
    private String sha256;
    private byte[] prefix;

    Body() {
      try {
        digest = MessageDigest.getInstance("SHA-256");
      } catch (NoSuchAlgorithmException e) {
        throw new IllegalStateException(e);
      }
    }

    void read(InputStream in, long size) throws IOException {
      byte[] buffer = new byte[16 * 1024];
      long left = size;
      while (left > 0) {
        int n = in.read(buffer, 0, (int) Math.min(buffer.length, left));
        if (n < 0) {
          throw new EOFException("body ended early");
        }
        digest.update(buffer, 0, n);
        if (prefixBytes.size() < PREFIX_LIMIT) {
          prefixBytes.write(buffer, 0, Math.min(n, PREFIX_LIMIT - prefixBytes.size()));
        }
        length += n;
        left -= n;
        bodyBytes.addAndGet(n);
      }
    }

    void finish() {
      sha256 = HexFormat.of().formatHex(digest.digest());
      prefix = prefixBytes.toByteArray();
    }
  }

  private static String requireLine(InputStream in) throws IOException {
    String line = readLine(in);
    if (line == null) {
      throw new EOFException("connection closed inside a request");
    }
    return line;
  }

  /** Reads one CRLF- or LF-terminated line as ISO-8859-1; null at a clean end of stream. */
  private static String readLine(InputStream in) throws IOException {
    ByteArrayOutputStream line = new ByteArrayOutputStream();
    while (true) {
      int b = in.read();
      if (b < 0) {
        if (line.size() == 0) {
          return null;
        }
        throw new EOFException("connection closed inside a line");
      }
      if (b == '\n') {
        byte[] bytes = line.toByteArray();
        int end = bytes.length > 0 && bytes[bytes.length - 1] == '\r' ? bytes.length - 1 : bytes.length;
        return new String(bytes, 0, end, StandardCharsets.ISO_8859_1);
      }
      line.write(b);
      if (line.size() > MAX_LINE) {
        throw new IOException("line too long");
      }
    }
  }
}
