package dev.egressd.policy;

/**
 * What kind of network an IP address belongs to. Only {@link #PUBLIC} addresses are reachable when
 * {@code allow_local_binding = false} without an explicit IP or CIDR allow rule.
 */
public enum AddressClass {
  /** Globally routable. */
  PUBLIC("public"),
  /** {@code 0.0.0.0/8}, {@code ::}: "this host/network"; connecting to it reaches the local machine. */
  UNSPECIFIED("unspecified"),
  /** {@code 127.0.0.0/8}, {@code ::1}. */
  LOOPBACK("loopback"),
  /** RFC 1918: {@code 10/8}, {@code 172.16/12}, {@code 192.168/16}. */
  PRIVATE("private"),
  /** RFC 6598 carrier-grade NAT {@code 100.64/10}. */
  SHARED("shared address space"),
  /** {@code 169.254/16} (cloud metadata lives here), {@code fe80::/10}. */
  LINK_LOCAL("link-local"),
  /** {@code fc00::/7}. */
  UNIQUE_LOCAL("unique-local"),
  /** Deprecated {@code fec0::/10}, still routed inside some sites. */
  SITE_LOCAL("site-local"),
  /** {@code 224/4}, {@code ff00::/8}. */
  MULTICAST("multicast"),
  /** {@code 255.255.255.255}. */
  BROADCAST("broadcast"),
  /** TEST-NET-1/2/3, {@code 2001:db8::/32}, {@code 3fff::/20}. */
  DOCUMENTATION("documentation"),
  /** {@code 198.18/15} (also what fake-IP DNS resolvers hand out), {@code 2001:2::/48}. */
  BENCHMARKING("benchmarking"),
  /** IETF protocol assignments, {@code 240/4}, discard-only and other special-purpose blocks. */
  RESERVED("reserved"),
  /**
   * A host-local cloud service at a public-looking address: Azure's WireServer {@code 168.63.129.16} (instance
   * metadata, health probes, guest agent). Closed like the link-local metadata services; an IP rule opens it.
   */
  CLOUD_METADATA("cloud metadata"),
  /**
   * An address of one of this host's own interfaces that would otherwise count as public: a service listening on
   * {@code 0.0.0.0} answers there as it does on loopback. Known only to the engine, from {@link HostAddresses}.
   */
  THIS_HOST("an address of this host");

  private final String label;

  AddressClass(String label) {
    this.label = label;
  }

  /** True only for {@link #PUBLIC}. */
  public boolean isPublic() {
    return this == PUBLIC;
  }

  /** A short human label, e.g. {@code "link-local"}. */
  public String label() {
    return label;
  }
}
