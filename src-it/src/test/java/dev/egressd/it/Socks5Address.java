package dev.egressd.it;

import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * A SOCKS5 address as it goes on the wire (RFC 1928 section 5): {@code ATYP ADDR PORT}, used in requests, replies
 * and UDP datagram headers. The raw form lets a test send what no real client would (an unknown type, a NUL in a
 * name, an empty name, port 0).
 *
 * @param type the ATYP byte ({@link #IPV4}, {@link #DOMAIN}, {@link #IPV6} or anything else)
 * @param address the ADDR bytes without the length prefix a domain name gets on the wire
 * @param port 0 to 65535
 */
record Socks5Address(int type, byte[] address, int port) {
  static final int IPV4 = 0x01;
  static final int DOMAIN = 0x03;
  static final int IPV6 = 0x04;

  /** A host name the proxy is to resolve (what {@code socks5h} clients send). */
  static Socks5Address domain(String name, int port) {
    return new Socks5Address(DOMAIN, name.getBytes(StandardCharsets.ISO_8859_1), port);
  }

  /** An IPv4 literal such as {@code 127.0.0.1} (what {@code socks5} clients send after resolving themselves). */
  static Socks5Address ipv4(String literal, int port) {
    return new Socks5Address(IPV4, literalBytes(literal, 4), port);
  }

  /** An IPv6 literal such as {@code ::ffff:127.0.0.1}, as 16 bytes. */
  static Socks5Address ipv6(String literal, int port) {
    byte[] bytes = new byte[16];
    byte[] parsed = literalBytes(literal, 0);
    if (parsed.length == 4) { // Java turns ::ffff:a.b.c.d into an Inet4Address; put the mapped form back
      bytes[10] = (byte) 0xff;
      bytes[11] = (byte) 0xff;
      System.arraycopy(parsed, 0, bytes, 12, 4);
    } else {
      System.arraycopy(parsed, 0, bytes, 0, 16);
    }
    return new Socks5Address(IPV6, bytes, port);
  }

  /** {@code 0.0.0.0:0}: "the client does not know yet" in a UDP ASSOCIATE request. */
  static Socks5Address unspecified() {
    return new Socks5Address(IPV4, new byte[4], 0);
  }

  private static byte[] literalBytes(String literal, int expectedLength) {
    try {
      byte[] bytes = InetAddress.getByName(literal).getAddress();
      if (expectedLength != 0 && bytes.length != expectedLength) {
        throw new IllegalArgumentException(literal + " is not a " + expectedLength + "-byte address");
      }
      return bytes;
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException("not an IP literal: " + literal, e);
    }
  }

  /** {@code ATYP ADDR PORT}; a domain name gets its length byte. */
  byte[] encode() {
    ByteBuffer buffer = ByteBuffer.allocate(1 + 1 + address.length + 2);
    buffer.put((byte) type);
    if (type == DOMAIN) {
      buffer.put((byte) address.length);
    }
    buffer.put(address).putShort((short) port);
    return Arrays.copyOf(buffer.array(), buffer.position());
  }

  /** Reads {@code ATYP ADDR PORT} for the three types RFC 1928 defines. */
  static Socks5Address read(InputStream in) throws IOException {
    DataInputStream data = new DataInputStream(in);
    int type = data.read();
    if (type < 0) {
      throw new EOFException("connection closed before the address");
    }
    byte[] address = switch (type) {
      case IPV4 -> new byte[4];
      case IPV6 -> new byte[16];
      case DOMAIN -> new byte[data.readUnsignedByte()];
      default -> throw new IOException("unknown address type " + type + " in a reply");
    };
    data.readFully(address);
    return new Socks5Address(type, address, data.readUnsignedShort());
  }

  /** Reads an address from the start of a datagram buffer, advancing it. */
  static Socks5Address read(ByteBuffer buffer) {
    int type = buffer.get() & 0xff;
    byte[] address = switch (type) {
      case IPV4 -> new byte[4];
      case IPV6 -> new byte[16];
      case DOMAIN -> new byte[buffer.get() & 0xff];
      default -> throw new IllegalArgumentException("unknown address type " + type);
    };
    buffer.get(address);
    return new Socks5Address(type, address, buffer.getShort() & 0xffff);
  }

  /** The address as text: the name, or the IP literal as Java prints it. */
  String host() {
    if (type == DOMAIN) {
      return new String(address, StandardCharsets.ISO_8859_1);
    }
    try {
      return InetAddress.getByAddress(address).getHostAddress();
    } catch (UnknownHostException e) {
      return Arrays.toString(address);
    }
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof Socks5Address that && type == that.type && port == that.port
        && Arrays.equals(address, that.address);
  }

  @Override
  public int hashCode() {
    return 31 * (31 * type + Arrays.hashCode(address)) + port;
  }

  @Override
  public String toString() {
    return "ATYP " + type + " " + host() + " port " + port;
  }
}
