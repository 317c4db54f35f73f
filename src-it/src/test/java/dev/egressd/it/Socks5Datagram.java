package dev.egressd.it;

import java.net.DatagramPacket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * A SOCKS5 UDP datagram (RFC 1928 section 7): {@code RSV RSV FRAG ATYP DST.ADDR DST.PORT DATA}. Requests name the
 * destination; replies from the relay name the sender.
 *
 * @param fragment the FRAG byte (0: a whole datagram)
 * @param address the destination (request) or sender (reply)
 * @param payload DATA
 */
record Socks5Datagram(int fragment, Socks5Address address, byte[] payload) {
  /** An unfragmented datagram carrying {@code text}. */
  static Socks5Datagram of(Socks5Address destination, String text) {
    return new Socks5Datagram(0, destination, text.getBytes(StandardCharsets.UTF_8));
  }

  /** The same datagram with another FRAG byte. */
  Socks5Datagram withFragment(int fragment) {
    return new Socks5Datagram(fragment, address, payload);
  }

  /** The bytes to send to the relay. */
  byte[] encode() {
    byte[] header = address.encode();
    ByteBuffer buffer = ByteBuffer.allocate(3 + header.length + payload.length);
    buffer.put((byte) 0).put((byte) 0).put((byte) fragment).put(header).put(payload);
    return buffer.array();
  }

  /** Parses a datagram received from the relay. */
  static Socks5Datagram parse(DatagramPacket packet) {
    ByteBuffer buffer = ByteBuffer.wrap(packet.getData(), packet.getOffset(), packet.getLength());
    int reserved = buffer.getShort() & 0xffff;
    if (reserved != 0) {
      throw new IllegalArgumentException("RSV is " + reserved);
    }
    int fragment = buffer.get() & 0xff;
    Socks5Address address = Socks5Address.read(buffer);
    byte[] payload = new byte[buffer.remaining()];
    buffer.get(payload);
    return new Socks5Datagram(fragment, address, payload);
  }

  /** DATA as UTF-8 text. */
  String text() {
    return new String(payload, StandardCharsets.UTF_8);
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof Socks5Datagram that && fragment == that.fragment && address.equals(that.address)
        && Arrays.equals(payload, that.payload);
  }

  @Override
  public int hashCode() {
    return 31 * (31 * fragment + address.hashCode()) + Arrays.hashCode(payload);
  }

  @Override
  public String toString() {
    return "FRAG " + fragment + " " + address + " DATA " + text();
  }
}
