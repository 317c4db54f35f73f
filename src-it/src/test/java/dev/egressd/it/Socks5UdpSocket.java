package dev.egressd.it;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.Optional;

/** The UDP side of a SOCKS5 client: a socket on 127.0.0.1 that sends and receives {@link Socks5Datagram}s. */
final class Socks5UdpSocket implements AutoCloseable {
  /**
   * A datagram that arrived.
   *
   * @param sender who sent it (the relay, for replies through the proxy)
   * @param datagram the parsed SOCKS5 datagram
   */
  record Incoming(InetSocketAddress sender, Socks5Datagram datagram) {}

  private final DatagramSocket socket;

  private Socks5UdpSocket(DatagramSocket socket) {
    this.socket = socket;
  }

  /** A new socket on 127.0.0.1, port 0. */
  static Socks5UdpSocket open() throws IOException {
    return new Socks5UdpSocket(new DatagramSocket(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0)));
  }

  /** Where this socket sends from. */
  InetSocketAddress localAddress() {
    return (InetSocketAddress) socket.getLocalSocketAddress();
  }

  /** Sends a datagram to the relay. */
  void send(Socks5Datagram datagram, InetSocketAddress relay) throws IOException {
    byte[] bytes = datagram.encode();
    socket.send(new DatagramPacket(bytes, bytes.length, relay));
  }

  /** Sends bytes as they are (e.g. a truncated header) to the relay. */
  void sendRaw(byte[] bytes, InetSocketAddress relay) throws IOException {
    socket.send(new DatagramPacket(bytes, bytes.length, relay));
  }

  /** The next datagram that arrives within {@code timeout}, or empty. */
  Optional<Incoming> receive(Duration timeout) throws IOException {
    socket.setSoTimeout((int) Math.max(1, timeout.toMillis()));
    byte[] buffer = new byte[65_535];
    DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
    try {
      socket.receive(packet);
    } catch (SocketTimeoutException e) {
      return Optional.empty();
    }
    return Optional.of(new Incoming((InetSocketAddress) packet.getSocketAddress(), Socks5Datagram.parse(packet)));
  }

  @Override
  public void close() {
    socket.close();
  }
}
