package dev.egressd.proxy.socks5;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.egressd.proxy.testing.TrackingAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.socksx.v5.Socks5AddressType;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;

/**
 * Fuzzes {@link Socks5UdpHeader#read} with arbitrary datagrams: it returns null or a header, never throws, consumes
 * exactly the header, and an IP header written back by {@link Socks5UdpHeader#write} reads as the same address.
 * Seeds and past findings: {@code Socks5UdpHeaderFuzzTestInputs/}; see docs/fuzzing.md.
 */
class Socks5UdpHeaderFuzzTest {
  private static final int FIXED = 4; // RSV(2) FRAG(1) ATYP(1)
  private static final int PORT = 2;

  @FuzzTest(maxDuration = "15s")
  @DictionaryEntries({"\\x00\\x00\\x00\\x01", "\\x00\\x00\\x00\\x03", "\\x00\\x00\\x00\\x04", "\\x00\\x35"})
  void headersAreReadExactlyAndWrittenBackAlike(byte[] input) throws Exception {
    TrackingAllocator allocator = new TrackingAllocator();
    ByteBuf datagram = allocator.buffer(input.length).writeBytes(input);
    try {
      Socks5UdpHeader header = Socks5UdpHeader.read(datagram);
      if (header != null) {
        assertThat(datagram.readerIndex()).as("header length").isEqualTo(headerLength(header, input));
        assertThat(header.fragment()).isBetween(0, 255);
        assertThat(header.port()).isBetween(0, 65535);
        if (header.addressType() != Socks5AddressType.DOMAIN) {
          assertWrittenBackAlike(allocator, header);
        }
      }
    } finally {
      datagram.release();
    }
    allocator.assertAllReleased();
  }

  private static int headerLength(Socks5UdpHeader header, byte[] input) {
    Socks5AddressType type = header.addressType();
    int address = type == Socks5AddressType.IPv4 ? 4
        : type == Socks5AddressType.IPv6 ? 16
        : 1 + header.address().getBytes(StandardCharsets.US_ASCII).length;
    if (type == Socks5AddressType.DOMAIN) {
      assertThat(address - 1).as("domain length byte").isEqualTo(input[FIXED] & 0xff);
    }
    return FIXED + address + PORT;
  }

  /** {@code write} gets its addresses from the JDK, which turns IPv4-mapped IPv6 into IPv4, so compare addresses. */
  private static void assertWrittenBackAlike(TrackingAllocator allocator, Socks5UdpHeader header) throws Exception {
    InetSocketAddress source = new InetSocketAddress(InetAddress.getByName(header.address()), header.port());
    ByteBuf written = Socks5UdpHeader.write(allocator, source);
    try {
      Socks5UdpHeader again = Socks5UdpHeader.read(written);
      assertThat(again).isNotNull();
      assertThat(written.isReadable()).isFalse();
      assertThat(again.fragment()).isZero();
      assertThat(again.addressType())
          .isEqualTo(source.getAddress() instanceof Inet4Address ? Socks5AddressType.IPv4 : Socks5AddressType.IPv6);
      assertThat(InetAddress.getByName(again.address())).isEqualTo(source.getAddress());
      assertThat(again.port()).isEqualTo(header.port());
    } finally {
      written.release();
    }
  }
}
