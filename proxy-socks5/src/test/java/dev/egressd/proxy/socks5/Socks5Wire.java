package dev.egressd.proxy.socks5;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.socksx.v5.DefaultSocks5CommandRequest;
import io.netty.handler.codec.socksx.v5.DefaultSocks5InitialRequest;
import io.netty.handler.codec.socksx.v5.DefaultSocks5PasswordAuthRequest;
import io.netty.handler.codec.socksx.v5.Socks5AddressType;
import io.netty.handler.codec.socksx.v5.Socks5AuthMethod;
import io.netty.handler.codec.socksx.v5.Socks5ClientEncoder;
import io.netty.handler.codec.socksx.v5.Socks5CommandType;

/** Client-side SOCKS5 wire bytes, made with Netty's own client encoder. */
final class Socks5Wire {
  private Socks5Wire() {}

  static ByteBuf encode(Object message) {
    EmbeddedChannel encoder = new EmbeddedChannel(Socks5ClientEncoder.DEFAULT);
    encoder.writeOutbound(message);
    ByteBuf bytes = encoder.readOutbound();
    encoder.finishAndReleaseAll();
    return bytes;
  }

  static ByteBuf greeting(Socks5AuthMethod... methods) {
    return encode(new DefaultSocks5InitialRequest(methods));
  }

  static ByteBuf password(String user, String pass) {
    return encode(new DefaultSocks5PasswordAuthRequest(user, pass));
  }

  static ByteBuf command(Socks5CommandType type, Socks5AddressType addressType, String host, int port) {
    return encode(new DefaultSocks5CommandRequest(type, addressType, host, port));
  }

  static ByteBuf connect(String host, int port) {
    return command(Socks5CommandType.CONNECT, Socks5AddressType.DOMAIN, host, port);
  }

  static ByteBuf bytes(int... values) {
    byte[] b = new byte[values.length];
    for (int i = 0; i < values.length; i++) {
      b[i] = (byte) values[i];
    }
    return Unpooled.wrappedBuffer(b);
  }

  /** A CONNECT with a DOMAIN address given as raw bytes (to send what Netty's encoder would refuse). */
  static ByteBuf rawDomainConnect(byte[] name, int port) {
    ByteBuf buf = Unpooled.buffer();
    buf.writeByte(5).writeByte(1).writeByte(0).writeByte(3).writeByte(name.length).writeBytes(name).writeShort(port);
    return buf;
  }
}
