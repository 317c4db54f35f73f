package dev.egressd.policy;

import java.util.Objects;
import java.util.Optional;

/**
 * An IP network in CIDR notation, e.g. {@code 10.0.0.0/8} or {@code fd00::/8}.
 *
 * @param network the network address, with every host bit zero
 * @param prefixLength 0..32 for IPv4, 0..128 for IPv6
 */
public record CidrBlock(IpAddress network, int prefixLength) {
  /** Requires a normalised network address (no host bits set). */
  public CidrBlock {
    Objects.requireNonNull(network, "network");
    if (prefixLength < 0 || prefixLength > network.bitLength()) {
      throw new IllegalArgumentException(
          "prefixLength: " + prefixLength + " (expected: 0.." + network.bitLength() + ")");
    }
    if (!network.mask(prefixLength).equals(network)) {
      throw new IllegalArgumentException("network: " + network + "/" + prefixLength
          + " has host bits set (expected: " + network.mask(prefixLength) + "/" + prefixLength + ")");
    }
  }

  /**
   * Parses {@code address/prefix}; IPv4 must be a plain dotted quad.
   *
   * @throws IllegalArgumentException naming the problem and, for host bits, the normalised form to use
   */
  public static CidrBlock parse(String text) {
    Objects.requireNonNull(text, "text");
    int slash = text.indexOf('/');
    if (slash < 0) {
      throw new IllegalArgumentException("CIDR " + text + " has no /prefix");
    }
    IpAddress address = parseNetwork(text, text.substring(0, slash));
    String prefixText = text.substring(slash + 1);
    if (prefixText.isEmpty() || prefixText.length() > 3 || !prefixText.chars().allMatch(c -> c >= '0' && c <= '9')) {
      throw new IllegalArgumentException("CIDR " + text + " has an invalid prefix length");
    }
    int prefix = Integer.parseInt(prefixText);
    if (prefix > address.bitLength()) {
      throw new IllegalArgumentException(
          "CIDR " + text + " has prefix length " + prefix + " (expected: 0.." + address.bitLength() + ")");
    }
    if (!address.mask(prefix).equals(address)) {
      // Never silently widen or narrow what the operator wrote; say what they probably meant.
      throw new IllegalArgumentException(
          "CIDR " + text + " has host bits set; use " + address.mask(prefix) + "/" + prefix);
    }
    return new CidrBlock(address, prefix);
  }

  private static IpAddress parseNetwork(String text, String addressText) {
    if (addressText.indexOf(':') >= 0) {
      return IpAddress.parse(addressText).filter(a -> !a.isIpv4()).orElseThrow(
          () -> new IllegalArgumentException("CIDR " + text + " does not start with an IPv6 address"));
    }
    // Short and octal spellings (10.1, 010.0.0.0) are refused: in a rule they are far more likely typos.
    Optional<IpAddress> quad = IpAddress.parseDottedQuad(addressText);
    if (quad.isPresent()) {
      return quad.get();
    }
    throw new IllegalArgumentException(IpAddress.parse(addressText)
        .map(a -> "CIDR " + text + " must start with a dotted quad such as " + a)
        .orElse("CIDR " + text + " does not start with an IP address"));
  }

  /** True when {@code address} is of the same family and inside this block. */
  public boolean contains(IpAddress address) {
    return address.hasPrefix(network, prefixLength);
  }

  @Override
  public String toString() {
    return network + "/" + prefixLength;
  }
}
