package dev.egressd.proxy.socks5;

import static org.assertj.core.api.Assertions.assertThat;

import dev.egressd.policy.PolicyEngine;
import dev.egressd.proxy.ProxyOptions;
import dev.egressd.proxy.ProxyServer;
import dev.egressd.proxy.testing.FakeResolver;
import dev.egressd.proxy.testing.RecordingAuditSink;
import dev.egressd.proxy.testing.TestPolicies;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Over {@code maxConnections}, a SOCKS5 request is answered with reply 0x01 (general failure) and not dialled. */
@Timeout(30)
class Socks5ConnectionLimitTest {
  private static final int LIMIT = 2;
  private final FakeResolver resolver = new FakeResolver().map("allowed.test", "127.0.0.1");
  private final RecordingAuditSink audit = new RecordingAuditSink();
  private final List<Socket> held = new ArrayList<>();
  private ProxyServer proxy;
  private ServerSocket origin;

  @BeforeEach
  void setUp() throws Exception {
    PolicyEngine engine = TestPolicies.standard();
    proxy = ProxyServer.start(ProxyOptions.builder().httpListen(new InetSocketAddress("127.0.0.1", 0))
            .maxConnections(LIMIT).build(), () -> engine, resolver, audit,
        List.of(new ProxyServer.Listener("socks5", new InetSocketAddress("127.0.0.1", 0),
            Socks5ProxyInitializer.frontEnd(new Socks5Options(true, null)))), null);
    origin = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
  }

  @AfterEach
  void tearDown() throws IOException {
    for (Socket socket : held) {
      socket.close();
    }
    origin.close();
    proxy.close();
  }

  /** A SOCKS5 connection through the greeting; the no-auth method is accepted even when full. */
  private Socket greeted() throws IOException {
    Socket socket = new Socket(InetAddress.getLoopbackAddress(), proxy.address("socks5").getPort());
    socket.setSoTimeout(10_000);
    held.add(socket);
    socket.getOutputStream().write(new byte[] {5, 1, 0});
    assertThat(socket.getInputStream().readNBytes(2)).containsExactly(5, 0);
    return socket;
  }

  private byte[] connect(Socket socket) throws IOException {
    int port = origin.getLocalPort();
    socket.getOutputStream().write(new byte[] {5, 1, 0, 1, 127, 0, 0, 1, (byte) (port >> 8), (byte) port});
    return socket.getInputStream().readNBytes(10);
  }

  @Test
  void requestOverTheLimitGetsGeneralFailure() throws Exception {
    for (int i = 0; i < LIMIT; i++) {
      greeted();
    }

    byte[] reply = connect(greeted());

    assertThat(reply[1]).as("reply code").isEqualTo((byte) 0x01);
    assertThat(audit.decisions()).as("refused before any policy decision or dial").isEmpty();
  }

  @Test
  void requestWithinTheLimitIsServed() throws Exception {
    for (int i = 0; i < LIMIT - 1; i++) {
      greeted();
    }

    byte[] reply = connect(greeted());

    assertThat(reply[1]).as("reply code").isEqualTo((byte) 0x00);
    assertThat(audit.decisions()).hasSize(1);
  }
}
