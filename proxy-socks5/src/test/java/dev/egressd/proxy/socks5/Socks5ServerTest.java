package dev.egressd.proxy.socks5;

import static org.assertj.core.api.Assertions.assertThat;

import dev.egressd.policy.PolicyEngine;
import dev.egressd.policy.Protocol;
import dev.egressd.policy.Reason;
import dev.egressd.proxy.ProxyOptions;
import dev.egressd.proxy.ProxyServer;
import dev.egressd.proxy.testing.FakeResolver;
import dev.egressd.proxy.testing.RecordingAuditSink;
import dev.egressd.proxy.testing.TestPolicies;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The SOCKS5 listener on real loopback sockets: TCP tunnels, reply addresses, and the UDP relay. */
@Timeout(30)
class Socks5ServerTest {
  private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();

  private final FakeResolver resolver = new FakeResolver().map("allowed.test", "127.0.0.1");
  private final RecordingAuditSink audit = new RecordingAuditSink();
  private ProxyServer proxy;
  private UdpEcho echo;

  @BeforeEach
  void setUp() throws Exception {
    PolicyEngine engine = TestPolicies.standard();
    proxy = ProxyServer.start(ProxyOptions.builder().httpListen(new InetSocketAddress("127.0.0.1", 0)).build(),
        () -> engine, resolver, audit, List.of(new ProxyServer.Listener("socks5",
            new InetSocketAddress("127.0.0.1", 0), Socks5ProxyInitializer.frontEnd(new Socks5Options(true, null)))), null);
    echo = new UdpEcho();
  }

  @AfterEach
  void tearDown() {
    proxy.close();
    echo.close();
  }

  private Socket open() throws IOException {
    Socket socket = new Socket(LOOPBACK, proxy.address("socks5").getPort());
    socket.setSoTimeout(5000);
    socket.getOutputStream().write(new byte[] {5, 1, 0});
    assertThat(socket.getInputStream().readNBytes(2)).containsExactly(5, 0);
    return socket;
  }

  /** Sends a command with a DOMAIN or IPv4 address and returns the 10-byte IPv4 reply. */
  private static byte[] command(Socket socket, int command, String host, int port) throws IOException {
    ByteBuffer buf = ByteBuffer.allocate(300).put((byte) 5).put((byte) command).put((byte) 0);
    byte[] ip = InetAddressLiteral.ipv4(host);
    if (ip != null) {
      buf.put((byte) 1).put(ip);
    } else {
      buf.put((byte) 3).put((byte) host.length()).put(host.getBytes(StandardCharsets.US_ASCII));
    }
    buf.putShort((short) port);
    socket.getOutputStream().write(buf.array(), 0, buf.position());
    return new DataInputStream(socket.getInputStream()).readNBytes(10);
  }

  @Test
  void connectRelaysBytesAndTheReplyCarriesTheBoundAddress() throws Exception {
    try (ServerSocket origin = new ServerSocket(0, 1, LOOPBACK); Socket socket = open()) {
      Thread server = new Thread(() -> {
        try (Socket s = origin.accept()) {
          s.getInputStream().transferTo(s.getOutputStream());
        } catch (IOException ignored) {
          // test over
        }
      });
      server.start();
      byte[] reply = command(socket, 1, "allowed.test", origin.getLocalPort());
      assertThat(reply).startsWith(5, 0, 0, 1, 127, 0, 0, 1);
      assertThat(((reply[8] & 0xff) << 8) | (reply[9] & 0xff)).isPositive();
      socket.getOutputStream().write("ping".getBytes(StandardCharsets.US_ASCII));
      assertThat(new String(socket.getInputStream().readNBytes(4), StandardCharsets.US_ASCII)).isEqualTo("ping");
    }
    assertThat(audit.decisions()).singleElement().satisfies(d -> {
      assertThat(d.request().protocol()).isEqualTo(Protocol.SOCKS5_TCP);
      assertThat(d.decision().reason()).isEqualTo(Reason.ALLOW);
    });
  }

  @Test
  void aClientThatHalfClosesStillReceivesTheAnswer() throws Exception {
    try (ServerSocket origin = new ServerSocket(0, 1, LOOPBACK); Socket socket = open()) {
      Thread server = new Thread(() -> {
        try (Socket s = origin.accept()) {
          // Answers only after the client's FIN came through, as `nc -N` users expect.
          int length = s.getInputStream().readAllBytes().length;
          s.getOutputStream().write(("read " + length).getBytes(StandardCharsets.US_ASCII));
        } catch (IOException ignored) {
          // the assertion below tells
        }
      });
      server.start();
      assertThat(command(socket, 1, "allowed.test", origin.getLocalPort())[1]).isZero();
      socket.getOutputStream().write(new byte[70_000]);
      socket.shutdownOutput();
      assertThat(new String(socket.getInputStream().readAllBytes(), StandardCharsets.US_ASCII))
          .isEqualTo("read 70000");
      server.join(5000);
    }
  }

  @Test
  void closedPortRepliesConnectionRefused() throws Exception {
    int closed;
    try (ServerSocket s = new ServerSocket(0, 1, LOOPBACK)) {
      closed = s.getLocalPort();
    }
    try (Socket socket = open()) {
      assertThat(command(socket, 1, "127.0.0.1", closed)[1]).isEqualTo((byte) 0x05);
    }
  }

  @Test
  void udpDatagramsReachAllowedDestinationsAndRepliesComeBackWrapped() throws Exception {
    try (Socket control = open(); DatagramSocket client = new DatagramSocket(0, LOOPBACK)) {
      client.setSoTimeout(3000);
      InetSocketAddress relay = associate(control);
      client.send(datagram(relay, 0, "allowed.test", echo.port(), "by-name"));
      client.send(datagram(relay, 0, "127.0.0.1", echo.port(), "by-ip"));
      assertThat(List.of(receive(client), receive(client)))
          .containsExactlyInAnyOrder("127.0.0.1:" + echo.port() + " by-name", "127.0.0.1:" + echo.port() + " by-ip");
    }
    assertThat(audit.decisions()).extracting(d -> d.request().protocol())
        .containsOnly(Protocol.SOCKS5_UDP);
  }

  @Test
  void udpToRefusedDestinationsAndFragmentsIsDropped() throws Exception {
    try (Socket control = open(); DatagramSocket client = new DatagramSocket(0, LOOPBACK)) {
      client.setSoTimeout(1000);
      InetSocketAddress relay = associate(control);
      client.send(datagram(relay, 0, "denied.test", echo.port(), "denied"));
      client.send(datagram(relay, 0, "127.0.0.2", echo.port(), "private"));
      client.send(datagram(relay, 1, "127.0.0.1", echo.port(), "fragment"));
      client.send(datagram(relay, 0, "127.0.0.1", echo.port(), "allowed"));
      assertThat(receive(client)).endsWith(" allowed");
      assertThat(echo.received()).containsExactly("allowed");
    }
  }

  @Test
  void datagramsFromAnotherSocketAreNotRelayed() throws Exception {
    try (Socket control = open(); DatagramSocket client = new DatagramSocket(0, LOOPBACK);
        DatagramSocket intruder = new DatagramSocket(0, LOOPBACK)) {
      client.setSoTimeout(2000);
      InetSocketAddress relay = associate(control);
      client.send(datagram(relay, 0, "127.0.0.1", echo.port(), "first"));
      assertThat(receive(client)).endsWith(" first");
      intruder.send(datagram(relay, 0, "127.0.0.1", echo.port(), "intruder"));
      client.send(datagram(relay, 0, "127.0.0.1", echo.port(), "second"));
      assertThat(receive(client)).endsWith(" second");
      assertThat(echo.received()).containsExactly("first", "second");
    }
  }

  @Test
  void closingTheControlConnectionEndsTheAssociation() throws Exception {
    InetSocketAddress relay;
    try (DatagramSocket client = new DatagramSocket(0, LOOPBACK)) {
      try (Socket control = open()) {
        relay = associate(control);
      }
      long deadline = System.nanoTime() + 3_000_000_000L;
      while (proxy.openConnections() > 0 && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      Thread.sleep(100);
      client.send(datagram(relay, 0, "127.0.0.1", echo.port(), "late"));
      Thread.sleep(300);
      assertThat(echo.received()).isEmpty();
    }
  }

  private InetSocketAddress associate(Socket control) throws IOException {
    byte[] reply = command(control, 3, "0.0.0.0", 0);
    assertThat(reply).startsWith(5, 0, 0, 1);
    InetAddress address = InetAddress.getByAddress(new byte[] {reply[4], reply[5], reply[6], reply[7]});
    return new InetSocketAddress(address, ((reply[8] & 0xff) << 8) | (reply[9] & 0xff));
  }

  private static DatagramPacket datagram(InetSocketAddress relay, int fragment, String host, int port, String text) {
    ByteBuffer buf = ByteBuffer.allocate(600).put((byte) 0).put((byte) 0).put((byte) fragment);
    byte[] ip = InetAddressLiteral.ipv4(host);
    if (ip != null) {
      buf.put((byte) 1).put(ip);
    } else {
      buf.put((byte) 3).put((byte) host.length()).put(host.getBytes(StandardCharsets.US_ASCII));
    }
    buf.putShort((short) port).put(text.getBytes(StandardCharsets.US_ASCII));
    return new DatagramPacket(buf.array(), buf.position(), relay);
  }

  /** Receives one wrapped reply as {@code "ip:port payload"}. */
  private static String receive(DatagramSocket client) throws IOException {
    DatagramPacket packet = new DatagramPacket(new byte[2048], 2048);
    client.receive(packet);
    ByteBuffer buf = ByteBuffer.wrap(packet.getData(), 0, packet.getLength());
    assertThat(buf.getShort()).isZero();
    assertThat(buf.get()).isZero();
    assertThat(buf.get()).as("ATYP").isEqualTo((byte) 1);
    byte[] ip = new byte[4];
    buf.get(ip);
    int port = buf.getShort() & 0xffff;
    String payload = new String(buf.array(), buf.position(), buf.remaining(), StandardCharsets.US_ASCII);
    return InetAddress.getByAddress(ip).getHostAddress() + ":" + port + " " + payload;
  }

  /** Strict dotted-quad parsing for the test's own wire encoding. */
  private static final class InetAddressLiteral {
    static byte[] ipv4(String host) {
      String[] parts = host.split("\\.");
      if (parts.length != 4 || !host.chars().allMatch(c -> c == '.' || Character.isDigit(c))) {
        return null;
      }
      byte[] out = new byte[4];
      for (int i = 0; i < 4; i++) {
        out[i] = (byte) Integer.parseInt(parts[i]);
      }
      return out;
    }
  }

  /** A UDP echo server on 127.0.0.1 that records what it received. */
  private static final class UdpEcho implements AutoCloseable {
    private final DatagramSocket socket;
    private final List<String> received = new CopyOnWriteArrayList<>();
    private final AtomicInteger count = new AtomicInteger();
    private final Thread thread;

    UdpEcho() throws IOException {
      socket = new DatagramSocket(0, LOOPBACK);
      thread = new Thread(this::run, "udp-echo");
      thread.setDaemon(true);
      thread.start();
    }

    int port() {
      return socket.getLocalPort();
    }

    List<String> received() {
      return List.copyOf(received);
    }

    private void run() {
      byte[] buf = new byte[2048];
      while (!socket.isClosed() && count.incrementAndGet() < 1000) {
        try {
          DatagramPacket packet = new DatagramPacket(buf, buf.length);
          socket.receive(packet);
          received.add(new String(packet.getData(), 0, packet.getLength(), StandardCharsets.US_ASCII));
          socket.send(new DatagramPacket(packet.getData(), packet.getLength(), packet.getSocketAddress()));
        } catch (SocketTimeoutException e) {
          // keep waiting
        } catch (IOException e) {
          return;
        }
      }
    }

    @Override
    public void close() {
      socket.close();
    }
  }
}
