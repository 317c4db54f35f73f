package dev.egressd.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.egressd.policy.PolicyEngine;
import dev.egressd.proxy.admin.AdminEndpoints;
import dev.egressd.proxy.admin.AdminListener;
import dev.egressd.proxy.testing.FakeResolver;
import dev.egressd.proxy.testing.RecordingAuditSink;
import dev.egressd.proxy.testing.TestOrigin;
import dev.egressd.proxy.testing.TestPolicies;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@code maxConnections}: connections over the limit get 503 proxy-overloaded; the admin listener is exempt. */
@Timeout(30)
class ConnectionLimitTest {
  private static final int LIMIT = 3;
  private final FakeResolver resolver = new FakeResolver().map("allowed.test", "127.0.0.1");
  private final RecordingAuditSink audit = new RecordingAuditSink();
  private final List<Socket> held = new ArrayList<>();
  private TestOrigin origin;
  private ProxyServer proxy;

  @BeforeEach
  void setUp() throws Exception {
    origin = new TestOrigin();
    PolicyEngine engine = TestPolicies.standard();
    AdminEndpoints endpoints = new AdminEndpoints() {
      @Override
      public byte[] metrics() {
        return "m 1\n".getBytes(StandardCharsets.UTF_8);
      }

      @Override
      public String metricsContentType() {
        return "text/plain";
      }

      @Override
      public boolean ready() {
        return true;
      }
    };
    proxy = ProxyServer.start(ProxyOptions.builder().httpListen(new InetSocketAddress("127.0.0.1", 0))
            .maxConnections(LIMIT).build(), () -> engine, resolver, audit,
        List.of(AdminListener.at(new InetSocketAddress("127.0.0.1", 0), endpoints)), null);
  }

  @AfterEach
  void tearDown() throws IOException {
    for (Socket socket : held) {
      socket.close();
    }
    proxy.close();
    origin.close();
  }

  private Socket open(InetSocketAddress address) throws IOException {
    Socket socket = new Socket(address.getAddress(), address.getPort());
    socket.setSoTimeout(10_000);
    held.add(socket);
    return socket;
  }

  /** Sends one request and reads the whole response (the proxy closes or sends Content-Length). */
  private static String exchange(Socket socket, String host) throws IOException {
    OutputStream out = socket.getOutputStream();
    out.write(("GET http://" + host + "/echo HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n")
        .getBytes(StandardCharsets.US_ASCII));
    out.flush();
    InputStream in = socket.getInputStream();
    return new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
  }

  private String allowedHost() {
    return "allowed.test:" + origin.port();
  }

  /** Opens the limit's worth of connections and proves each is being served (so each is counted). */
  private void fill() throws IOException {
    for (int i = 0; i < LIMIT; i++) {
      Socket socket = open(proxy.httpAddress());
      socket.getOutputStream().write(("GET http://" + allowedHost() + "/echo HTTP/1.1\r\nHost: " + allowedHost()
          + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      socket.getOutputStream().flush();
      byte[] first = new byte[12];
      assertThat(socket.getInputStream().readNBytes(first, 0, first.length)).isEqualTo(first.length);
      assertThat(new String(first, StandardCharsets.US_ASCII)).isEqualTo("HTTP/1.1 200");
    }
  }

  @Test
  void connectionOverTheLimitGets503AndNothingIsForwarded() throws Exception {
    fill();
    int forwarded = origin.connections();

    String reply = exchange(open(proxy.httpAddress()), allowedHost());

    assertThat(reply).startsWith("HTTP/1.1 503").contains("x-proxy-error: proxy-overloaded")
        .contains("max_connections");
    assertThat(origin.connections()).isEqualTo(forwarded);
    assertThat(audit.decisions()).hasSize(LIMIT);
  }

  @Test
  void closingAConnectionMakesRoomAgain() throws Exception {
    fill();
    held.remove(0).close();

    String reply = null;
    for (int attempt = 0; attempt < 50; attempt++) { // the close reaches the proxy asynchronously
      reply = exchange(open(proxy.httpAddress()), allowedHost());
      if (reply.startsWith("HTTP/1.1 200")) {
        break;
      }
      Thread.sleep(20);
    }

    assertThat(reply).startsWith("HTTP/1.1 200");
  }

  @Test
  void adminListenerAnswersWhileTheProxyIsFull() throws Exception {
    fill();

    Socket admin = open(proxy.address(AdminListener.NAME));
    admin.getOutputStream().write("GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        .getBytes(StandardCharsets.US_ASCII));
    String reply = new String(admin.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);

    assertThat(reply).startsWith("HTTP/1.1 200").endsWith("ok\n");
  }
}
