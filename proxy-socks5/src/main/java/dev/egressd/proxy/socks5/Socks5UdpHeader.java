package dev.egressd.proxy.socks5;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.codec.socksx.v5.Socks5AddressDecoder;
import io.netty.handler.codec.socksx.v5.Socks5AddressEncoder;
import io.netty.handler.codec.socksx.v5.Socks5AddressType;
import java.net.Inet4Address;
import java.net.InetSocketAddress;

/**
 * The header of a SOCKS5 UDP datagram (RFC 1928 section 7): {@code RSV(2) FRAG(1) ATYP(1) DST.ADDR DST.PORT DATA}.
 * Addresses are read and written with Netty's SOCKS5 address codec, as in the TCP commands.
 *
 * @param fragment the FRAG byte; egressd relays only unfragmented datagrams (0)
 * @param addressType how the address is given
 * @param address a host name or IP literal, as text
 * @param port 0 to 65535
 */
record Socks5UdpHeader(int fragment, Socks5AddressType addressType, String address, int port) {
  /**
   * Reads a header from the start of {@code datagram}, leaving its reader index at the payload.
   *
   * @return the header, or null when the datagram is truncated or malformed
   */
  static Socks5UdpHeader read(ByteBuf datagram) {
    try {
      if (datagram.readableBytes() < 4) {
        return null;
      }
      datagram.skipBytes(2); // RSV
      int fragment = datagram.readUnsignedByte();
      Socks5AddressType type = Socks5AddressType.valueOf(datagram.readByte());
      if (type != Socks5AddressType.IPv4 && type != Socks5AddressType.DOMAIN && type != Socks5AddressType.IPv6) {
        return null;
      }
      String address = Socks5AddressDecoder.DEFAULT.decodeAddress(type, datagram);
      int port = datagram.readUnsignedShort();
      return new Socks5UdpHeader(fragment, type, address, port);
    } catch (Exception e) { // truncated address or port
      return null;
    }
  }

  /** A header naming {@code source}, the sender of a reply, for the client. */
  static ByteBuf write(ByteBufAllocator alloc, InetSocketAddress source) {
    Socks5AddressType type = source.getAddress() instanceof Inet4Address ? Socks5AddressType.IPv4
        : Socks5AddressType.IPv6;
    ByteBuf header = alloc.buffer(22);
    header.writeShort(0).writeByte(0).writeByte(type.byteValue());
    try {
      Socks5AddressEncoder.DEFAULT.encodeAddress(type, source.getAddress().getHostAddress(), header);
    } catch (Exception e) {
      header.release();
      throw new IllegalStateException("cannot encode " + source, e);
    }
    return header.writeShort(source.getPort());
  }
}
