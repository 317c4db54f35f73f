package dev.egressd.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.egressd.audit.AuditEvent;
import dev.egressd.policy.PolicyEngine;
import dev.egressd.proxy.testing.FakeResolver;
import dev.egressd.proxy.testing.RecordingAuditSink;
import dev.egressd.proxy.testing.TestOrigin;
import dev.egressd.proxy.testing.TestPolicies;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Upstreams that misbehave: reset mid-response, half-close, never read. The proxy passes on what it can, holds no
 * unbounded buffer, and keeps serving other clients throughout.
 */
@Timeout(60)
class UpstreamFaultsTest {
  private final FakeResolver resolver = new FakeResolver().map("allowed.test", "127.0.0.1");
  private final RecordingAuditSink audit = new RecordingAuditSink();
  private TestOrigin healthy;
  private ServerSocket faulty;
  private ProxyServer proxy;

  @BeforeEach
  void setUp() throws Exception {
    healthy = new TestOrigin();
    faulty = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    PolicyEngine engine = TestPolicies.standard();
    proxy = ProxyServer.start(ProxyOptions.builder().httpListen(new InetSocketAddress("127.0.0.1", 0))
        .connectTimeout(Duration.ofSeconds(2)).build(), () -> engine, resolver, audit);
  }

  @AfterEach
  void tearDown() throws IOException {
    proxy.close();
    faulty.close();
    healthy.close();
  }

  private Socket client() throws IOException {
    Socket socket = new Socket(proxy.httpAddress().getAddress(), proxy.httpAddress().getPort());
    socket.setSoTimeout(10_000);
    return socket;
  }

  private String healthyGet() throws IOException {
    String host = "allowed.test:" + healthy.port();
    try (Socket socket = client()) {
      socket.getOutputStream().write(("GET http://" + host + "/echo HTTP/1.1\r\nHost: " + host
          + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      return new String(socket.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
    }
  }

  /** Opens a CONNECT tunnel to the faulty origin; returns the client socket after the 200. */
  private Socket tunnel() throws IOException {
    Socket socket = client();
    String authority = "allowed.test:" + faulty.getLocalPort();
    socket.getOutputStream().write(("CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n\r\n")
        .getBytes(StandardCharsets.US_ASCII));
    InputStream in = socket.getInputStream();
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    while (!head.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
      int b = in.read();
      assertThat(b).as("CONNECT response").isNotEqualTo(-1);
      head.write(b);
    }
    assertThat(head.toString(StandardCharsets.ISO_8859_1)).startsWith("HTTP/1.1 200");
    return socket;
  }

  @Test
  void originThatResetsMidResponseEndsTheClientsResponseAndNothingElse() throws Exception {
    Thread origin = new Thread(() -> {
      try (Socket s = faulty.accept()) {
        s.getInputStream().read(new byte[4096]);
        s.getOutputStream().write("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\npartial".getBytes(
            StandardCharsets.US_ASCII));
        s.getOutputStream().flush();
        Thread.sleep(200);
        s.setSoLinger(true, 0); // close with RST
      } catch (IOException | InterruptedException e) {
        // test ends either way
      }
    });
    origin.start();
    String host = "allowed.test:" + faulty.getLocalPort();
    String reply;
    try (Socket socket = client()) {
      socket.getOutputStream().write(("GET http://" + host + "/ HTTP/1.1\r\nHost: " + host + "\r\n\r\n")
          .getBytes(StandardCharsets.US_ASCII));
      ByteArrayOutputStream received = new ByteArrayOutputStream();
      try {
        socket.getInputStream().transferTo(received);
      } catch (IOException e) {
        // a reset may reach the client too; what arrived before it counts
      }
      reply = received.toString(StandardCharsets.ISO_8859_1);
    }
    origin.join();

    assertThat(reply).startsWith("HTTP/1.1 200").contains("partial");
    assertThat(reply.length()).as("the response ends short; the proxy never invents the rest").isLessThan(100_000);
    assertThat(healthyGet()).startsWith("HTTP/1.1 200");
  }

  @Test
  void originThatHalfClosesATunnelDeliversEverythingThenEnds() throws Exception {
    byte[] payload = new byte[256 * 1024];
    for (int i = 0; i < payload.length; i++) {
      payload[i] = (byte) i;
    }
    Thread origin = new Thread(() -> {
      try (Socket s = faulty.accept()) {
        s.getOutputStream().write(payload);
        s.shutdownOutput(); // half-close: FIN after the payload, still able to read
        s.getInputStream().readAllBytes();
      } catch (IOException e) {
        // test ends either way
      }
    });
    origin.start();

    byte[] received;
    try (Socket socket = tunnel()) {
      received = socket.getInputStream().readAllBytes();
    }
    origin.join(10_000);

    assertThat(received).isEqualTo(payload);
    assertThat(healthyGet()).startsWith("HTTP/1.1 200");
  }

  @Test
  void clientThatHalfClosesATunnelStillReceivesTheAnswer() throws Exception {
    byte[] request = new byte[100_000];
    Arrays.fill(request, (byte) 'q');
    byte[] bulk = new byte[4 * 1024 * 1024]; // more than the socket buffers: the answer must wait on the client
    Thread origin = new Thread(() -> {
      try (Socket s = faulty.accept()) {
        // Answers only once the client's FIN has come through the proxy, like a request-to-EOF protocol.
        int length = s.getInputStream().readAllBytes().length;
        s.getOutputStream().write(("read " + length + "\n").getBytes(StandardCharsets.US_ASCII));
        s.getOutputStream().write(bulk);
      } catch (IOException e) {
        // the assertions below tell
      }
    });
    origin.start();

    byte[] answer;
    try (Socket socket = tunnel()) {
      socket.getOutputStream().write(request);
      socket.shutdownOutput();
      answer = socket.getInputStream().readAllBytes();
    }
    origin.join(10_000);

    String head = "read 100000\n";
    assertThat(new String(answer, 0, Math.min(answer.length, head.length()), StandardCharsets.US_ASCII))
        .isEqualTo(head);
    assertThat(answer).as("the whole answer").hasSize(head.length() + bulk.length);
    assertThat(eventuallyClosedTunnel()).satisfies(closed -> {
      assertThat(closed.bytesUp()).isEqualTo(100_000);
      assertThat(closed.bytesDown()).isEqualTo(head.length() + bulk.length);
    });
    assertThat(eventuallyNoOpenConnections()).as("both tunnel channels closed once done both ways").isTrue();
    assertThat(healthyGet()).startsWith("HTTP/1.1 200");
  }

  @Test
  void tunnelLeftHalfOpenIsClosedByTheIdleTimeout() throws Exception {
    proxy.close();
    PolicyEngine engine = TestPolicies.standard();
    proxy = ProxyServer.start(ProxyOptions.builder().httpListen(new InetSocketAddress("127.0.0.1", 0))
        .idleTimeout(Duration.ofMillis(700)).build(), () -> engine, resolver, audit);
    CountDownLatch testDone = new CountDownLatch(1);
    AtomicReference<String> originRead = new AtomicReference<>();
    Thread origin = new Thread(() -> {
      try (Socket s = faulty.accept()) {
        originRead.set(new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII));
        testDone.await(); // got the FIN, never answers and never closes
      } catch (IOException | InterruptedException e) {
        // the assertions below tell
      }
    });
    origin.start();

    byte[] received;
    long start = System.nanoTime();
    try (Socket socket = tunnel()) {
      socket.getOutputStream().write("hello".getBytes(StandardCharsets.US_ASCII));
      socket.shutdownOutput();
      received = socket.getInputStream().readAllBytes(); // 10 s read timeout: fails if the proxy never closes
    } finally {
      testDone.countDown();
    }
    Duration open = Duration.ofNanos(System.nanoTime() - start);
    origin.join(10_000);

    assertThat(originRead.get()).as("the origin got the bytes, then the FIN").isEqualTo("hello");
    assertThat(received).isEmpty();
    assertThat(open).as("closed by the 700 ms idle timeout").isLessThan(Duration.ofSeconds(8));
    assertThat(eventuallyClosedTunnel().bytesUp()).isEqualTo(5);
    assertThat(eventuallyNoOpenConnections()).isTrue();
  }

  private AuditEvent.TunnelClosed eventuallyClosedTunnel() throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (System.nanoTime() < deadline) {
      for (AuditEvent event : audit.events()) {
        if (event instanceof AuditEvent.TunnelClosed closed) {
          return closed;
        }
      }
      Thread.sleep(20);
    }
    throw new AssertionError("no tunnel_closed event within 10 s: " + audit.events());
  }

  private boolean eventuallyNoOpenConnections() throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (proxy.openConnections() > 0 && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    return proxy.openConnections() == 0;
  }

  @Test
  void originThatNeverReadsStallsTheUploaderInsteadOfFillingTheProxysMemory() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    Thread origin = new Thread(() -> {
      try (Socket s = faulty.accept()) {
        s.setReceiveBufferSize(64 * 1024);
        release.await(); // never reads until the test is done
      } catch (IOException | InterruptedException e) {
        // test ends either way
      }
    });
    origin.start();
    try (Socket socket = tunnel()) {
      long accepted = uploadUntilStalled(socket);

      assertThat(accepted).as("bytes accepted from the uploader before it stalled: socket buffers plus at most one"
          + " read in flight, not the whole upload").isLessThan(32L * 1024 * 1024);
      assertThat(healthyGet()).as("others are served while the tunnel is stalled").startsWith("HTTP/1.1 200");
    } finally {
      release.countDown();
      origin.join(10_000);
    }
  }

  @Test
  void closeAllEndsATunnelWhoseOriginStoppedReading() throws Exception {
    // The relay closes an upstream only after flushing to it, which never happens here, and the event loops' teardown
    // may not close it either; ProxyServer.close calls closeAll so the connection and its queued bytes are released.
    CompletableFuture<Socket> accepted = new CompletableFuture<>();
    Thread origin = new Thread(() -> {
      try {
        Socket s = faulty.accept();
        s.setReceiveBufferSize(64 * 1024);
        accepted.complete(s);
      } catch (IOException e) {
        accepted.completeExceptionally(e);
      }
    });
    origin.start();
    try (Socket socket = tunnel(); Socket upstream = accepted.get(10, TimeUnit.SECONDS)) {
      uploadUntilStalled(socket);

      assertThat(proxy.connector().closeAll().await(5, TimeUnit.SECONDS)).isTrue();

      upstream.setSoTimeout(10_000);
      assertThat(readUntilClosed(upstream.getInputStream())).as("the origin's connection ended").isTrue();
    }
  }

  /** Reads and discards until the peer closes (FIN or reset); false if it did not within the read timeout. */
  private static boolean readUntilClosed(InputStream in) throws IOException {
    byte[] buffer = new byte[64 * 1024];
    try {
      while (in.read(buffer) >= 0) {
        // discard what was queued before the close
      }
      return true;
    } catch (SocketTimeoutException e) {
      return false;
    } catch (SocketException e) {
      return true; // reset
    }
  }

  /** Uploads up to 64 MiB from a daemon thread until the writes stop progressing; returns the bytes written. */
  private static long uploadUntilStalled(Socket socket) throws InterruptedException {
    AtomicLong written = new AtomicLong();
    Thread uploader = new Thread(() -> {
      byte[] chunk = new byte[64 * 1024];
      try {
        OutputStream out = socket.getOutputStream();
        for (int i = 0; i < 16 * 64; i++) {
          out.write(chunk);
          written.addAndGet(chunk.length);
        }
      } catch (IOException e) {
        // the socket is closed at the end of the test
      }
    });
    uploader.setDaemon(true);
    uploader.start();
    long previous = -1;
    long now = written.get();
    while (now != previous) {
      previous = now;
      TimeUnit.MILLISECONDS.sleep(500);
      now = written.get();
    }
    return now;
  }
}
