package dev.egressd.proxy.socks5;

import static org.assertj.core.api.Assertions.assertThat;

import dev.egressd.proxy.tunnel.UpstreamFailure;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.socksx.v5.Socks5AddressType;
import io.netty.handler.codec.socksx.v5.Socks5CommandStatus;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class Socks5UdpHeaderTest {
  private static ByteBuf hex(String hex) {
    String[] parts = hex.trim().split("\\s+");
    byte[] bytes = new byte[parts.length];
    for (int i = 0; i < parts.length; i++) {
      bytes[i] = (byte) Integer.parseInt(parts[i], 16);
    }
    return Unpooled.wrappedBuffer(bytes);
  }

  @Test
  void readsAnIpv4HeaderAndLeavesThePayload() {
    ByteBuf datagram = hex("00 00 00 01 7f 00 00 01 00 35 68 69");
    Socks5UdpHeader header = Socks5UdpHeader.read(datagram);
    assertThat(header).isEqualTo(new Socks5UdpHeader(0, Socks5AddressType.IPv4, "127.0.0.1", 53));
    assertThat(datagram.toString(StandardCharsets.US_ASCII)).isEqualTo("hi");
    datagram.release();
  }

  @Test
  void readsADomainHeaderWithItsFragmentNumber() {
    ByteBuf datagram = hex("00 00 02 03 04 61 2e 74 74 01 bb");
    assertThat(Socks5UdpHeader.read(datagram))
        .isEqualTo(new Socks5UdpHeader(2, Socks5AddressType.DOMAIN, "a.tt", 443));
    datagram.release();
  }

  @ParameterizedTest(name = "{0} is malformed")
  @ValueSource(strings = {"00 00", "00 00 00 01 7f 00", "00 00 00 01 7f 00 00 01 00", "00 00 00 03 09 61",
      "00 00 00 05 01 02 03 04 00 35", "00 00 00 04 00 00"})
  void truncatedOrUnknownHeadersAreRejected(String hex) {
    ByteBuf datagram = hex(hex);
    assertThat(Socks5UdpHeader.read(datagram)).isNull();
    datagram.release();
  }

  @Test
  void writesAHeaderNamingTheSender() {
    ByteBuf header = Socks5UdpHeader.write(ByteBufAllocator.DEFAULT, new InetSocketAddress("127.0.0.1", 5353));
    byte[] bytes = new byte[header.readableBytes()];
    header.readBytes(bytes);
    header.release();
    assertThat(bytes).containsExactly(0, 0, 0, 1, 127, 0, 0, 1, 0x14, 0xe9);
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource({"CONNECT_REFUSED, 5", "CONNECT_TIMEOUT, 6", "NETWORK_UNREACHABLE, 3", "UNREACHABLE, 4",
      "DNS_FAILURE, 4", "DNS_TIMEOUT, 4", "UPSTREAM_CLOSED, 1"})
  void upstreamFailuresMapToRfc1928ReplyCodes(UpstreamFailure failure, int code) {
    assertThat(Socks5CommandHandler.statusFor(failure)).isEqualTo(Socks5CommandStatus.valueOf((byte) code));
  }
}
