import java.io.BufferedInputStream;
import java.io.ByteArrayInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

/**
 * The load client of {@code bench/run} (JDK only, compiled once per run with javac). Every mode prints one line
 * {@code BENCH key=value ...} on standard output; problems go to standard error.
 *
 * <pre>
 * rate        --via http|socks5|direct --proxy PORT --origin HOST:PORT --threads N --seconds S [--warmup S]
 *             one new connection per request: (CONNECT or SOCKS5 CONNECT,) GET /small with Connection: close,
 *             read to EOF, close. Reports connections per second and latency percentiles.
 * tls         --via http|direct --proxy PORT --origin HOST:PORT --connections N --seconds S --trust A.pem,B.pem
 *             [--warmup S]: N keep-alive HTTPS connections (through a CONNECT tunnel, intercepted or not), each
 *             sending GET /small back to back. Reports requests per second and latency percentiles.
 * handshakes  --proxy PORT --port P --count N --offset K --trust ... : new TLS sessions through a CONNECT tunnel,
 *             alternating a host never seen before (hK.bench.test, h(K+1)...: a leaf must be minted) and one
 *             host seen before (warm.bench.test: a cached leaf). Reports median and p90 handshake times.
 * idle        --proxy PORT --origin HOST:PORT --count N --ready FILE --release FILE: opens N CONNECT tunnels and
 *             holds them, idle, until FILE --release exists; writes --ready once all are established.
 * </pre>
 */
public final class LoadClient {
  private static final byte[] HEAD_END = "\r\n\r\n".getBytes(StandardCharsets.US_ASCII);

  public static void main(String[] args) throws Exception {
    Map<String, String> opts = new HashMap<>();
    for (int i = 1; i + 1 < args.length; i += 2) {
      opts.put(args[i].replaceFirst("^--", ""), args[i + 1]);
    }
    switch (args[0]) {
      case "rate" -> rate(opts);
      case "tls" -> tls(opts);
      case "handshakes" -> handshakes(opts);
      case "idle" -> idle(opts);
      default -> throw new IllegalArgumentException("mode: " + args[0] + " (expected: rate, tls, handshakes, idle)");
    }
  }

  // ---- rate: one connection per request ----

  private static void rate(Map<String, String> o) throws Exception {
    String via = o.get("via");
    int proxyPort = Integer.parseInt(o.getOrDefault("proxy", "0"));
    String origin = o.get("origin");
    int threads = Integer.parseInt(o.get("threads"));
    double seconds = Double.parseDouble(o.get("seconds"));
    double warmup = Double.parseDouble(o.getOrDefault("warmup", "1"));
    long start = System.nanoTime();
    long measureFrom = start + (long) (warmup * 1e9);
    long end = measureFrom + (long) (seconds * 1e9);
    Recorder recorder = new Recorder();
    List<Thread> workers = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      Thread worker = new Thread(() -> {
        Samples samples = new Samples();
        while (true) {
          long t0 = System.nanoTime();
          if (t0 >= end) {
            break;
          }
          try {
            oneRequest(via, proxyPort, origin);
            long t1 = System.nanoTime();
            if (t0 >= measureFrom && t1 <= end) {
              samples.add(t1 - t0);
            }
          } catch (IOException | RuntimeException e) {
            recorder.error(e);
          }
        }
        recorder.merge(samples);
      });
      worker.start();
      workers.add(worker);
    }
    for (Thread worker : workers) {
      worker.join();
    }
    recorder.print("rate", seconds);
  }

  private static void oneRequest(String via, int proxyPort, String origin) throws IOException {
    String[] hp = origin.split(":");
    int originPort = Integer.parseInt(hp[1]);
    try (Socket socket = new Socket()) {
      socket.setTcpNoDelay(true);
      socket.setSoTimeout(10_000);
      boolean direct = via.equals("direct");
      socket.connect(new InetSocketAddress("127.0.0.1", direct ? originPort : proxyPort), 5_000);
      InputStream in = socket.getInputStream();
      OutputStream out = socket.getOutputStream();
      if (via.equals("http")) {
        connectTunnel(in, out, origin);
      } else if (via.equals("socks5")) {
        socks5Connect(in, out, hp[0], originPort);
      }
      out.write(("GET /small HTTP/1.1\r\nHost: " + origin + "\r\nConnection: close\r\n\r\n")
          .getBytes(StandardCharsets.US_ASCII));
      out.flush();
      byte[] all = in.readAllBytes();
      if (all.length < 12 || !new String(all, 0, 12, StandardCharsets.US_ASCII).startsWith("HTTP/1.1 200")) {
        throw new IOException("unexpected response: " + new String(all, 0, Math.min(all.length, 80),
            StandardCharsets.US_ASCII));
      }
    }
  }

  /** Sends CONNECT and reads the proxy's answer head; the origin sends nothing before we do. */
  private static void connectTunnel(InputStream in, OutputStream out, String authority) throws IOException {
    out.write(("CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n\r\n")
        .getBytes(StandardCharsets.US_ASCII));
    out.flush();
    String head = readHead(in);
    if (!head.startsWith("HTTP/1.1 200") && !head.startsWith("HTTP/1.0 200")) {
      throw new IOException("CONNECT refused: " + head.lines().findFirst().orElse(""));
    }
  }

  private static void socks5Connect(InputStream in, OutputStream out, String ip, int port) throws IOException {
    out.write(new byte[] {5, 1, 0});
    out.flush();
    byte[] method = in.readNBytes(2);
    if (method.length != 2 || method[0] != 5 || method[1] != 0) {
      throw new IOException("SOCKS5 method refused: " + Arrays.toString(method));
    }
    byte[] addr = InetAddress.getByName(ip).getAddress();
    byte[] request = {5, 1, 0, 1, addr[0], addr[1], addr[2], addr[3], (byte) (port >> 8), (byte) port};
    out.write(request);
    out.flush();
    byte[] reply = in.readNBytes(4);
    if (reply.length != 4 || reply[1] != 0) {
      throw new IOException("SOCKS5 CONNECT refused: " + Arrays.toString(reply));
    }
    int rest = switch (reply[3]) {
      case 1 -> 4 + 2;
      case 4 -> 16 + 2;
      case 3 -> in.read() + 2;
      default -> throw new IOException("SOCKS5 reply address type " + reply[3]);
    };
    if (in.readNBytes(rest).length != rest) {
      throw new EOFException("SOCKS5 reply cut short");
    }
  }

  private static String readHead(InputStream in) throws IOException {
    byte[] buf = new byte[4096];
    int n = 0;
    while (n < buf.length) {
      int b = in.read();
      if (b < 0) {
        throw new EOFException("connection closed in response head after " + n + " bytes");
      }
      buf[n++] = (byte) b;
      if (n >= 4 && buf[n - 1] == '\n' && buf[n - 2] == '\r' && buf[n - 3] == '\n' && buf[n - 4] == '\r') {
        return new String(buf, 0, n, StandardCharsets.ISO_8859_1);
      }
    }
    throw new IOException("response head too long");
  }

  // ---- tls: keep-alive HTTPS requests ----

  private static void tls(Map<String, String> o) throws Exception {
    String via = o.get("via");
    int proxyPort = Integer.parseInt(o.getOrDefault("proxy", "0"));
    String origin = o.get("origin");
    int connections = Integer.parseInt(o.get("connections"));
    double seconds = Double.parseDouble(o.get("seconds"));
    double warmup = Double.parseDouble(o.getOrDefault("warmup", "1"));
    SSLContext context = trusting(o.get("trust"));
    long start = System.nanoTime();
    long measureFrom = start + (long) (warmup * 1e9);
    long end = measureFrom + (long) (seconds * 1e9);
    Recorder recorder = new Recorder();
    List<Thread> workers = new ArrayList<>();
    for (int t = 0; t < connections; t++) {
      Thread worker = new Thread(() -> {
        Samples samples = new Samples();
        while (System.nanoTime() < end) {
          try (SSLSocket socket = openTls(context, via, proxyPort, origin)) {
            keepAliveLoop(socket, origin, measureFrom, end, samples);
          } catch (IOException | RuntimeException e) {
            recorder.error(e);
          }
        }
        recorder.merge(samples);
      });
      worker.start();
      workers.add(worker);
    }
    for (Thread worker : workers) {
      worker.join();
    }
    recorder.print("tls", seconds);
  }

  private static void keepAliveLoop(SSLSocket socket, String origin, long measureFrom, long end, Samples samples)
      throws IOException {
    byte[] request = ("GET /small HTTP/1.1\r\nHost: " + origin + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
    InputStream in = new BufferedInputStream(socket.getInputStream(), 16384);
    OutputStream out = socket.getOutputStream();
    while (true) {
      long t0 = System.nanoTime();
      if (t0 >= end) {
        return;
      }
      out.write(request);
      out.flush();
      String head = readHead(in);
      if (!head.startsWith("HTTP/1.1 200")) {
        throw new IOException("unexpected response: " + head.lines().findFirst().orElse(""));
      }
      int length = contentLength(head);
      if (in.readNBytes(length).length != length) {
        throw new EOFException("body cut short");
      }
      long t1 = System.nanoTime();
      if (t0 >= measureFrom && t1 <= end) {
        samples.add(t1 - t0);
      }
    }
  }

  private static int contentLength(String head) throws IOException {
    for (String line : head.split("\r\n")) {
      int colon = line.indexOf(':');
      if (colon > 0 && line.substring(0, colon).trim().equalsIgnoreCase("content-length")) {
        return Integer.parseInt(line.substring(colon + 1).trim());
      }
    }
    throw new IOException("no content-length in " + head.lines().findFirst().orElse(""));
  }

  private static SSLSocket openTls(SSLContext context, String via, int proxyPort, String origin)
      throws IOException {
    String[] hp = origin.split(":");
    int originPort = Integer.parseInt(hp[1]);
    Socket socket = new Socket();
    try {
      socket.setTcpNoDelay(true);
      socket.setSoTimeout(10_000);
      boolean direct = via.equals("direct");
      socket.connect(new InetSocketAddress("127.0.0.1", direct ? originPort : proxyPort), 5_000);
      if (!direct) {
        connectTunnel(socket.getInputStream(), socket.getOutputStream(), origin);
      }
      SSLSocket tls = (SSLSocket) context.getSocketFactory().createSocket(socket, hp[0], originPort, true);
      tls.startHandshake();
      return tls;
    } catch (IOException | RuntimeException e) {
      socket.close();
      throw e;
    }
  }

  /** A context trusting exactly the certificates in the given PEM files (no JDK roots). */
  private static SSLContext trusting(String pemFiles) throws Exception {
    KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
    store.load(null, null);
    CertificateFactory factory = CertificateFactory.getInstance("X.509");
    int n = 0;
    for (String file : pemFiles.split(",")) {
      for (Certificate cert : factory.generateCertificates(new ByteArrayInputStream(Files.readAllBytes(
          Path.of(file))))) {
        store.setCertificateEntry("c" + n++, cert);
      }
    }
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(store);
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(null, tmf.getTrustManagers(), null);
    return context;
  }

  // ---- handshakes: cold vs warm leaf certificates ----

  private static void handshakes(Map<String, String> o) throws Exception {
    int proxyPort = Integer.parseInt(o.get("proxy"));
    int port = Integer.parseInt(o.get("port"));
    int count = Integer.parseInt(o.get("count"));
    int offset = Integer.parseInt(o.getOrDefault("offset", "0"));
    String trust = o.get("trust");
    // Client JIT warm-up and the warm host's first (cold) mint; not recorded.
    for (int i = 0; i < 20; i++) {
      handshakeNanos(trusting(trust), proxyPort, "warm.bench.test", port);
    }
    Samples cold = new Samples();
    Samples warm = new Samples();
    for (int i = 0; i < count; i++) {
      // A fresh SSLContext each time: no TLS session resumption, every handshake is a full one.
      cold.add(handshakeNanos(trusting(trust), proxyPort, "h" + (offset + i) + ".bench.test", port));
      warm.add(handshakeNanos(trusting(trust), proxyPort, "warm.bench.test", port));
    }
    System.out.printf("BENCH cold_p50_us=%d cold_p90_us=%d warm_p50_us=%d warm_p90_us=%d count=%d%n",
        cold.percentile(50) / 1000, cold.percentile(90) / 1000, warm.percentile(50) / 1000,
        warm.percentile(90) / 1000, count);
  }

  private static long handshakeNanos(SSLContext context, int proxyPort, String host, int port) throws IOException {
    long t0 = System.nanoTime();
    try (SSLSocket socket = openTls(context, "http", proxyPort, host + ":" + port)) {
      return System.nanoTime() - t0;
    }
  }

  // ---- idle: many open tunnels ----

  private static void idle(Map<String, String> o) throws Exception {
    int proxyPort = Integer.parseInt(o.get("proxy"));
    String origin = o.get("origin");
    int count = Integer.parseInt(o.get("count"));
    Path ready = Path.of(o.get("ready"));
    Path release = Path.of(o.get("release"));
    int inFlightMax = 200;
    byte[] connect = ("CONNECT " + origin + " HTTP/1.1\r\nHost: " + origin + "\r\n\r\n")
        .getBytes(StandardCharsets.US_ASCII);
    InetSocketAddress proxy = new InetSocketAddress("127.0.0.1", proxyPort);
    long t0 = System.nanoTime();
    List<SocketChannel> open = new ArrayList<>(count);
    int started = 0;
    int established = 0;
    int failed = 0;
    ByteBuffer scratch = ByteBuffer.allocate(4096);
    try (Selector selector = Selector.open()) {
      while (established + failed < count) {
        while (started < count && started - established - failed < inFlightMax) {
          SocketChannel channel = SocketChannel.open();
          channel.configureBlocking(false);
          channel.connect(proxy);
          channel.register(selector, SelectionKey.OP_CONNECT, ByteBuffer.allocate(256));
          open.add(channel);
          started++;
        }
        if (System.nanoTime() - t0 > 120_000_000_000L) {
          System.err.println("idle: gave up after 120 s with " + established + " tunnels established");
          break;
        }
        selector.select(1000);
        for (Iterator<SelectionKey> it = selector.selectedKeys().iterator(); it.hasNext(); ) {
          SelectionKey key = it.next();
          it.remove();
          SocketChannel channel = (SocketChannel) key.channel();
          try {
            if (key.isConnectable()) {
              channel.finishConnect();
              channel.write(ByteBuffer.wrap(connect));
              key.interestOps(SelectionKey.OP_READ);
            } else if (key.isReadable()) {
              ByteBuffer head = (ByteBuffer) key.attachment();
              if (head == null) { // already established: data or EOF on an idle tunnel
                scratch.clear();
                if (channel.read(scratch) < 0) {
                  throw new IOException("tunnel closed while idle");
                }
                continue;
              }
              if (channel.read(head) < 0) {
                throw new IOException("closed before the CONNECT answer");
              }
              if (endsWithHeadEnd(head)) {
                String answer = new String(head.array(), 0, head.position(), StandardCharsets.ISO_8859_1);
                if (!answer.startsWith("HTTP/1.1 200")) {
                  throw new IOException("CONNECT refused: " + answer.lines().findFirst().orElse(""));
                }
                key.attach(null);
                established++;
              }
            }
          } catch (IOException e) {
            if (key.attachment() == null) {
              established--;
            }
            failed++;
            if (failed <= 3) {
              System.err.println("idle: " + e);
            }
            key.cancel();
            channel.close();
          }
        }
      }
      double setup = (System.nanoTime() - t0) / 1e9;
      Files.writeString(ready, established + "\n");
      System.out.printf("BENCH established=%d failed=%d setup_s=%.2f%n", established, failed, setup);
      System.out.flush();
      int closedWhileIdle = 0;
      while (!Files.exists(release)) {
        selector.select(200);
        for (Iterator<SelectionKey> it = selector.selectedKeys().iterator(); it.hasNext(); ) {
          SelectionKey key = it.next();
          it.remove();
          scratch.clear();
          SocketChannel channel = (SocketChannel) key.channel();
          try {
            if (channel.read(scratch) < 0) {
              closedWhileIdle++;
              key.cancel();
              channel.close();
            }
          } catch (IOException e) {
            closedWhileIdle++;
            key.cancel();
            channel.close();
          }
        }
      }
      System.out.printf("BENCH closed_while_idle=%d%n", closedWhileIdle);
    } finally {
      for (SocketChannel channel : open) {
        channel.close();
      }
    }
  }

  private static boolean endsWithHeadEnd(ByteBuffer head) {
    int n = head.position();
    if (n < 4) {
      return false;
    }
    byte[] a = head.array();
    return a[n - 4] == HEAD_END[0] && a[n - 3] == HEAD_END[1] && a[n - 2] == HEAD_END[2] && a[n - 1] == HEAD_END[3];
  }

  // ---- statistics ----

  /** One thread's latencies in nanoseconds. */
  private static final class Samples {
    long[] values = new long[1024];
    int size;

    void add(long nanos) {
      if (size == values.length) {
        values = Arrays.copyOf(values, size * 2);
      }
      values[size++] = nanos;
    }

    long percentile(double p) {
      if (size == 0) {
        return 0;
      }
      long[] sorted = Arrays.copyOf(values, size);
      Arrays.sort(sorted);
      int index = (int) Math.ceil(p / 100.0 * size) - 1;
      return sorted[Math.max(0, Math.min(size - 1, index))];
    }
  }

  /** Merges the threads' samples and counts errors. */
  private static final class Recorder {
    private final Samples all = new Samples();
    private final AtomicLong errors = new AtomicLong();
    private final AtomicReference<String> firstError = new AtomicReference<>();

    void error(Exception e) {
      errors.incrementAndGet();
      firstError.compareAndSet(null, e.toString());
    }

    synchronized void merge(Samples samples) {
      for (int i = 0; i < samples.size; i++) {
        all.add(samples.values[i]);
      }
    }

    void print(String mode, double seconds) {
      if (firstError.get() != null) {
        System.err.println(mode + ": " + errors.get() + " errors, first: " + firstError.get());
      }
      System.out.printf("BENCH rate=%.1f p50_us=%d p99_us=%d ops=%d errors=%d%n", all.size / seconds,
          all.percentile(50) / 1000, all.percentile(99) / 1000, all.size, errors.get());
    }
  }
}
