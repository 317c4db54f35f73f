package dev.egressd.policy;

import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Classifies IP addresses as public or one of the non-public {@link AddressClass}es.
 *
 * <p>IPv6 addresses that embed an IPv4 address are judged by the embedded address, because a packet to them can
 * end up at that IPv4 host: IPv4-mapped {@code ::ffff:0:0/96}, IPv4-compatible {@code ::/96}, NAT64
 * {@code 64:ff9b::/96}, 6to4 {@code 2002::/16}, and Teredo {@code 2001::/32} (server and client, the client XOR-ed).
 * The local-use NAT64 prefix {@code 64:ff9b:1::/48} is non-public as a whole, since where its IPv4 part sits depends
 * on the operator's prefix length. The most restrictive class wins when several apply.
 */
public final class AddressClassifier {
  private record Block(IpAddress network, int prefix, AddressClass addressClass) {
    boolean contains(IpAddress address) {
      return address.hasPrefix(network, prefix);
    }
  }

  private static final List<Block> IPV4 = List.of(
      block("0.0.0.0", 8, AddressClass.UNSPECIFIED),
      block("10.0.0.0", 8, AddressClass.PRIVATE),
      block("100.64.0.0", 10, AddressClass.SHARED),
      block("127.0.0.0", 8, AddressClass.LOOPBACK),
      block("168.63.129.16", 32, AddressClass.CLOUD_METADATA),
      block("169.254.0.0", 16, AddressClass.LINK_LOCAL),
      block("172.16.0.0", 12, AddressClass.PRIVATE),
      block("192.0.0.0", 24, AddressClass.RESERVED),
      block("192.0.2.0", 24, AddressClass.DOCUMENTATION),
      block("192.88.99.0", 24, AddressClass.RESERVED),
      block("192.168.0.0", 16, AddressClass.PRIVATE),
      block("198.18.0.0", 15, AddressClass.BENCHMARKING),
      block("198.51.100.0", 24, AddressClass.DOCUMENTATION),
      block("203.0.113.0", 24, AddressClass.DOCUMENTATION),
      block("224.0.0.0", 4, AddressClass.MULTICAST),
      block("255.255.255.255", 32, AddressClass.BROADCAST),
      block("240.0.0.0", 4, AddressClass.RESERVED));

  private static final List<Block> IPV6 = List.of(
      block("::", 128, AddressClass.UNSPECIFIED),
      block("::1", 128, AddressClass.LOOPBACK),
      block("64:ff9b:1::", 48, AddressClass.RESERVED),
      block("100::", 64, AddressClass.RESERVED),
      block("2001:2::", 48, AddressClass.BENCHMARKING),
      block("2001:10::", 28, AddressClass.RESERVED),
      block("2001:20::", 28, AddressClass.RESERVED),
      block("2001:db8::", 32, AddressClass.DOCUMENTATION),
      block("3fff::", 20, AddressClass.DOCUMENTATION),
      block("5f00::", 16, AddressClass.RESERVED),
      block("fc00::", 7, AddressClass.UNIQUE_LOCAL),
      block("fe80::", 10, AddressClass.LINK_LOCAL),
      block("fec0::", 10, AddressClass.SITE_LOCAL),
      block("ff00::", 8, AddressClass.MULTICAST));

  private static final IpAddress NAT64 = IpAddress.parse("64:ff9b::").orElseThrow();
  private static final IpAddress SIX_TO_FOUR = IpAddress.parse("2002::").orElseThrow();
  private static final IpAddress TEREDO = IpAddress.parse("2001::").orElseThrow();

  private AddressClassifier() {}

  /** The class of {@code address}; IPv6 forms embedding IPv4 are judged by what they embed. */
  public static AddressClass classify(IpAddress address) {
    Objects.requireNonNull(address, "address");
    if (address.isIpv4()) {
      return lookup(IPV4, address);
    }
    AddressClass own = lookup(IPV6, address);
    if (own != AddressClass.PUBLIC) {
      return own;
    }
    if (isTeredo(address)) {
      // The server address is contacted too, so a private server is as bad as a private client.
      AddressClass server = classify(address.ipv4At(4, false));
      if (!server.isPublic()) {
        return server;
      }
    }
    return embeddedIpv4(address).map(AddressClassifier::classify).orElse(AddressClass.PUBLIC);
  }

  /**
   * The IPv4 address that traffic to {@code address} ends up at, for IPv6 forms that embed one: IPv4-mapped,
   * IPv4-compatible (not {@code ::} or {@code ::1}), NAT64 {@code 64:ff9b::/96}, 6to4 {@code 2002::/16} and the
   * Teredo client. Empty for IPv4 addresses and every other IPv6 address, including the local-use NAT64 prefix
   * {@code 64:ff9b:1::/48}, whose IPv4 position depends on the operator's prefix length.
   *
   * <p>Deny rules use this so that an IPv4 deny rule cannot be bypassed by spelling its address as IPv6.
   */
  public static Optional<IpAddress> embeddedIpv4(IpAddress address) {
    Objects.requireNonNull(address, "address");
    if (address.isIpv4()) {
      return Optional.empty();
    }
    if (address.isZero(0, 10) && address.unsignedByte(10) == 0xff && address.unsignedByte(11) == 0xff) {
      return Optional.of(address.ipv4At(12, false)); // IPv4-mapped
    }
    if (address.isZero(0, 12)) {
      // IPv4-compatible (deprecated, still dialable on some stacks); :: and ::1 are their own thing.
      return address.isZero(12, 15) && address.unsignedByte(15) <= 1
          ? Optional.empty() : Optional.of(address.ipv4At(12, false));
    }
    if (address.hasPrefix(NAT64, 96)) {
      return Optional.of(address.ipv4At(12, false));
    }
    if (address.hasPrefix(SIX_TO_FOUR, 16)) {
      return Optional.of(address.ipv4At(2, false));
    }
    if (isTeredo(address)) {
      return Optional.of(address.ipv4At(12, true)); // the client address, stored inverted
    }
    return Optional.empty();
  }

  /** Shorthand for {@code classify(address).isPublic()}. */
  public static boolean isPublic(IpAddress address) {
    return classify(address).isPublic();
  }

  private static boolean isTeredo(IpAddress address) {
    return address.hasPrefix(TEREDO, 32);
  }

  private static AddressClass lookup(List<Block> blocks, IpAddress address) {
    for (Block block : blocks) {
      if (block.contains(address)) {
        return block.addressClass();
      }
    }
    return AddressClass.PUBLIC;
  }

  private static Block block(String network, int prefix, AddressClass addressClass) {
    return new Block(IpAddress.parse(network).orElseThrow(), prefix, addressClass);
  }
}
