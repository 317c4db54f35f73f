package dev.egressd.it;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A UDP echo server on 127.0.0.1 (port 0): records every datagram it receives (at most {@value #MAX_RECORDED} per
 * test) and sends its payload back to the sender unchanged. Records are reset before each test.
 */
final class UdpEchoServer implements BeforeAllCallback, AfterAllCallback, BeforeEachCallback {
  private static final int MAX_RECORDED = 1000;

  /**
   * One datagram as the echo server received it.
   *
   * @param sender where it came from (the relay, when it went through the proxy)
   * @param payload the bytes
   */
  record Received(InetSocketAddress sender, byte[] payload) {
    /** The payload as UTF-8 text. */
    String text() {
      return new String(payload, StandardCharsets.UTF_8);
    }

    @Override
    public String toString() {
      return sender + " " + text();
    }
  }

  private final List<Received> received = new CopyOnWriteArrayList<>();
  private DatagramSocket socket;
  private Thread thread;

  @Override
  public void beforeAll(ExtensionContext context) throws IOException {
    socket = new DatagramSocket(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0));
    thread = new Thread(this::serve, "udp-echo");
    thread.setDaemon(true);
    thread.start();
  }

  @Override
  public void afterAll(ExtensionContext context) throws InterruptedException {
    socket.close();
    thread.join(5_000);
  }

  @Override
  public void beforeEach(ExtensionContext context) {
    received.clear();
  }

  private void serve() {
    byte[] buffer = new byte[65_535];
    while (!socket.isClosed()) {
      DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
      try {
        socket.receive(packet);
        byte[] payload = Arrays.copyOfRange(packet.getData(), packet.getOffset(),
            packet.getOffset() + packet.getLength());
        if (received.size() < MAX_RECORDED) {
          received.add(new Received((InetSocketAddress) packet.getSocketAddress(), payload));
        }
        socket.send(new DatagramPacket(payload, payload.length, packet.getSocketAddress()));
      } catch (IOException e) {
        // closed, or a send to a sender that went away: keep serving until closed
      }
    }
  }

  /** The port on 127.0.0.1. */
  int port() {
    return socket.getLocalPort();
  }

  /** The datagrams received since the test started. */
  List<Received> received() {
    return List.copyOf(received);
  }

  /** The payloads received since the test started, as text. */
  List<String> receivedTexts() {
    return received.stream().map(Received::text).toList();
  }

  /** Waits until a datagram with payload {@code text} has arrived; returns whether one did. */
  boolean awaitReceived(String text, Duration timeout) throws InterruptedException {
    return OriginServer.eventually(() -> receivedTexts().contains(text), timeout);
  }
}
