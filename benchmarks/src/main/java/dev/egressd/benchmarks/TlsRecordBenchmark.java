package dev.egressd.benchmarks;

import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.netty.handler.ssl.util.SelfSignedCertificate;
import io.netty.util.ReferenceCountUtil;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLException;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The TLS record work an intercepted keep-alive request costs egressd, by TLS engine. Per inner request the MITM
 * stage unwraps the client's request, wraps it for the origin, unwraps the origin's response and wraps it for the
 * client: two wraps and two unwraps. {@code exchange} does exactly that between a client and a server engine (TLS 1.3,
 * EC P-256, a 110-byte request and a 250-byte response, like bench/run's {@code GET /small}).
 *
 * <p>{@code JDK} is the engine egressd uses today ({@code SslProvider.JDK}); {@code OPENSSL} is Netty's BoringSSL
 * engine from {@code netty-tcnative-boringssl-static}. The ratio JDK/OPENSSL is the saving per intercepted request.
 *
 * <p>Run: {@code mvn -B -Pbenchmarks -pl benchmarks -am package -DskipTests && java -jar
 * benchmarks/target/benchmarks.jar TlsRecord}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class TlsRecordBenchmark {
  private static final ByteBuffer EMPTY = ByteBuffer.allocate(0);

  /** The TLS engine of both ends. */
  @Param({"JDK", "OPENSSL"})
  public String provider;

  private SSLEngine client;
  private SSLEngine server;
  private ByteBuffer request;
  private ByteBuffer response;
  private ByteBuffer net;
  private ByteBuffer app;

  /** Creates both engines and completes the handshake. */
  @Setup
  public void setUp() throws Exception {
    SslProvider sslProvider = SslProvider.valueOf(provider);
    if (sslProvider == SslProvider.OPENSSL && !OpenSsl.isAvailable()) {
      throw new IllegalStateException("OpenSSL engine unavailable", OpenSsl.unavailabilityCause());
    }
    SelfSignedCertificate certificate = new SelfSignedCertificate("bench.test", "EC", 256);
    SslContext serverContext = SslContextBuilder.forServer(certificate.key(), certificate.cert())
        .sslProvider(sslProvider).protocols("TLSv1.3").build();
    SslContext clientContext = SslContextBuilder.forClient().sslProvider(sslProvider).protocols("TLSv1.3")
        .trustManager(InsecureTrustManagerFactory.INSTANCE).build();
    client = clientContext.newEngine(UnpooledByteBufAllocator.DEFAULT, "bench.test", 443);
    server = serverContext.newEngine(UnpooledByteBufAllocator.DEFAULT);
    net = ByteBuffer.allocateDirect(1 << 17);
    app = ByteBuffer.allocateDirect(1 << 17);
    request = direct("GET /small HTTP/1.1\r\nHost: 127.0.0.1:18443\r\nUser-Agent: bench\r\nAccept: */*\r\n"
        + "Connection: keep-alive\r\n\r\n");
    response = direct("HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/plain\r\nContent-Length: 90\r\n"
        + "Connection: keep-alive\r\n\r\n" + "x".repeat(89) + "\n");
    handshake();
    exchange(); // the client consumes the server's session tickets here
  }

  /** Releases the native engines. */
  @TearDown
  public void tearDown() {
    ReferenceCountUtil.release(client);
    ReferenceCountUtil.release(server);
  }

  /** One intercepted request's records: request client to server, response server to client. */
  @Benchmark
  public int exchange() throws SSLException {
    transfer(client, request, server);
    return transfer(server, response, client);
  }

  private int transfer(SSLEngine from, ByteBuffer plain, SSLEngine to) throws SSLException {
    net.clear();
    from.wrap(plain.duplicate(), net);
    net.flip();
    app.clear();
    while (net.hasRemaining()) {
      SSLEngineResult result = to.unwrap(net, app);
      if (result.bytesConsumed() == 0) {
        throw new SSLException("unwrap made no progress: " + result);
      }
    }
    return app.position();
  }

  private void handshake() throws SSLException {
    client.beginHandshake();
    server.beginHandshake();
    ByteBuffer toServer = ByteBuffer.allocateDirect(1 << 17);
    ByteBuffer toClient = ByteBuffer.allocateDirect(1 << 17);
    // Until both are done and neither has bytes in flight (a TLS 1.3 server finishes before the client's Finished
    // arrives).
    for (int i = 0; i < 100 && (handshaking(client) || handshaking(server) || toServer.position() > 0
        || toClient.position() > 0); i++) {
      step(client, toServer, toClient);
      step(server, toClient, toServer);
    }
    if (handshaking(client) || handshaking(server)) {
      throw new SSLException("handshake did not finish: " + client.getHandshakeStatus() + "/"
          + server.getHandshakeStatus());
    }
  }

  private void step(SSLEngine engine, ByteBuffer out, ByteBuffer in) throws SSLException {
    engine.wrap(EMPTY, out);
    runTasks(engine);
    in.flip();
    while (in.hasRemaining()) {
      app.clear();
      SSLEngineResult result = engine.unwrap(in, app);
      runTasks(engine);
      if (result.bytesConsumed() == 0) {
        break;
      }
    }
    in.compact();
  }

  private static boolean handshaking(SSLEngine engine) {
    SSLEngineResult.HandshakeStatus status = engine.getHandshakeStatus();
    return status != SSLEngineResult.HandshakeStatus.NOT_HANDSHAKING
        && status != SSLEngineResult.HandshakeStatus.FINISHED;
  }

  private static void runTasks(SSLEngine engine) {
    for (Runnable task; (task = engine.getDelegatedTask()) != null; ) {
      task.run();
    }
  }

  private static ByteBuffer direct(String text) {
    byte[] bytes = text.getBytes(StandardCharsets.US_ASCII);
    return ByteBuffer.allocateDirect(bytes.length).put(bytes).flip();
  }
}
