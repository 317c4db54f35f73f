package dev.egressd.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.egressd.policy.PolicyEngine;
import dev.egressd.policy.Reason;
import dev.egressd.proxy.testing.FakeResolver;
import dev.egressd.proxy.testing.RecordingAuditSink;
import dev.egressd.proxy.testing.TestOrigin;
import dev.egressd.proxy.testing.TestPolicies;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A listener on a Unix domain socket (what {@code run --isolate} serves its namespace on), with either transport:
 * the same front end, the same policy, and a client label that says where the connection came from.
 */
@Timeout(30)
class DomainSocketListenerTest {
  private final FakeResolver resolver = new FakeResolver().map("allowed.test", "127.0.0.1")
      .map("private.test", "127.0.0.2");
  private final RecordingAuditSink audit = new RecordingAuditSink();
  private final TestOrigin origin;
  private ProxyServer proxy;

  @TempDir
  Path dir;

  DomainSocketListenerTest() throws Exception {
    origin = new TestOrigin();
  }

  @AfterEach
  void tearDown() {
    if (proxy != null) {
      proxy.close();
    }
    origin.close();
  }

  private Path start(ProxyOptions.TransportChoice transport) throws InterruptedException {
    Path socket = dir.resolve("http.sock");
    PolicyEngine engine = TestPolicies.standard();
    proxy = ProxyServer.start(ProxyOptions.builder().httpListen(new InetSocketAddress("127.0.0.1", 0))
        .transport(transport).connectTimeout(Duration.ofSeconds(2)).build(), () -> engine, resolver, audit,
        List.of(new ProxyServer.Listener("http-unix", UnixDomainSocketAddress.of(socket),
            ProxyServer.httpFrontEnd())), null);
    return socket;
  }

  @ParameterizedTest
  @EnumSource(value = ProxyOptions.TransportChoice.class, names = {"EPOLL", "NIO"})
  void forwardsAndDecidesLikeTheTcpListener(ProxyOptions.TransportChoice transport) throws Exception {
    Path socket = start(transport);
    String allowed = exchange(socket, "GET http://allowed.test:" + origin.port() + "/echo HTTP/1.1\r\n"
        + "Host: allowed.test:" + origin.port() + "\r\nConnection: close\r\n\r\n");
    String refused = exchange(socket, "GET http://private.test:" + origin.port() + "/ HTTP/1.1\r\n"
        + "Host: private.test:" + origin.port() + "\r\nConnection: close\r\n\r\n");
    assertThat(allowed).startsWith("HTTP/1.1 200").contains("GET /echo");
    assertThat(refused).startsWith("HTTP/1.1 403").containsIgnoringCase("x-proxy-error:");
    assertThat(audit.decisions()).extracting(d -> d.decision().reason())
        .containsExactly(Reason.ALLOW, Reason.NOT_ALLOWED_LOCAL);
    assertThat(audit.decisions()).allSatisfy(d -> assertThat(d.request().client()).isEqualTo("unix-socket"));
  }

  @ParameterizedTest
  @EnumSource(value = ProxyOptions.TransportChoice.class, names = {"EPOLL", "NIO"})
  void tunnelsOverTheSocket(ProxyOptions.TransportChoice transport) throws Exception {
    Path socket = start(transport);
    try (SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      channel.connect(UnixDomainSocketAddress.of(socket));
      write(channel, "CONNECT allowed.test:" + origin.port() + " HTTP/1.1\r\n\r\n");
      assertThat(readUntil(channel, "\r\n\r\n")).startsWith("HTTP/1.1 200");
      write(channel, "GET /echo HTTP/1.1\r\nHost: allowed.test\r\n\r\n");
      assertThat(readUntil(channel, "GET /echo")).startsWith("HTTP/1.1 200");
    }
  }

  @ParameterizedTest
  @EnumSource(value = ProxyOptions.TransportChoice.class, names = {"EPOLL", "NIO"})
  void anExistingFileIsABindErrorNamingThePath(ProxyOptions.TransportChoice transport) throws IOException {
    Path socket = Files.writeString(dir.resolve("http.sock"), "in the way");
    assertThatThrownBy(() -> start(transport)).isInstanceOf(ProxyServer.BindException.class)
        .hasMessageContaining("cannot bind the http-unix listener to " + socket);
    assertThat(Files.readString(socket)).isEqualTo("in the way");
  }

  private static void write(SocketChannel channel, String text) throws IOException {
    channel.write(ByteBuffer.wrap(text.getBytes(StandardCharsets.ISO_8859_1)));
  }

  /** Reads until {@code marker} has arrived (or the proxy closed). */
  private static String readUntil(SocketChannel channel, String marker) throws IOException {
    StringBuilder text = new StringBuilder();
    ByteBuffer buffer = ByteBuffer.allocate(1);
    while (!text.toString().contains(marker) && channel.read(buffer) > 0) {
      text.append((char) buffer.get(0));
      buffer.clear();
    }
    return text.toString();
  }

  /** Writes {@code request} and reads until the proxy closes. */
  private static String exchange(Path socket, String request) throws IOException {
    try (SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      channel.connect(UnixDomainSocketAddress.of(socket));
      write(channel, request);
      ByteArrayOutputStream all = new ByteArrayOutputStream();
      ByteBuffer buffer = ByteBuffer.allocate(8192);
      while (channel.read(buffer) >= 0) {
        all.write(buffer.array(), 0, buffer.position());
        buffer.clear();
      }
      return all.toString(StandardCharsets.ISO_8859_1);
    }
  }
}
