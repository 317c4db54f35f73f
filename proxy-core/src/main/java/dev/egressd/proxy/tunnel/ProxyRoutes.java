package dev.egressd.proxy.tunnel;

import dev.egressd.policy.CidrBlock;
import dev.egressd.policy.HostName;
import dev.egressd.policy.IpAddress;
import dev.egressd.policy.Protocol;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * Which parent proxy each allowed connection goes through, or none: one parent for secure targets (CONNECT,
 * SOCKS5 CONNECT, requests inside intercepted tunnels), one for plain HTTP, and {@code NO_PROXY} entries that go
 * direct. Immutable.
 */
public final class ProxyRoutes {
  /** Every connection direct. */
  public static final ProxyRoutes DIRECT = new ProxyRoutes(null, null, List.of());

  private final ParentProxy secure;
  private final ParentProxy plain;
  private final boolean noProxyAll;
  private final boolean parentResolves;
  private final List<String> noProxyNames = new ArrayList<>();
  private final List<CidrBlock> noProxyBlocks = new ArrayList<>();

  /**
   * @param secure the parent for secure targets, or null for direct
   * @param plain the parent for plain HTTP, or null for direct
   * @param noProxy {@code NO_PROXY} entries: {@code *}, a host ({@code example.com}, which also covers its
   *     subdomains, as curl reads it; a leading dot is the same), an IP or a CIDR block; entries that are none of these
   *     are ignored
   */
  public ProxyRoutes(ParentProxy secure, ParentProxy plain, List<String> noProxy) {
    this(secure, plain, noProxy, false);
  }

  /**
   * As {@link #ProxyRoutes(ParentProxy, ParentProxy, List)}.
   *
   * @param parentResolves {@code upstream_resolution = "parent"}: names of connections through a parent are resolved
   *     by the parent only, so egressd cannot refuse one that resolves to a local address
   */
  public ProxyRoutes(ParentProxy secure, ParentProxy plain, List<String> noProxy, boolean parentResolves) {
    this.secure = secure;
    this.plain = plain;
    this.parentResolves = parentResolves && (secure != null || plain != null);
    boolean all = false;
    for (String raw : noProxy) {
      String entry = raw.trim().toLowerCase(Locale.ROOT);
      if (entry.equals("*")) {
        all = true;
      } else if (entry.contains("/")) {
        block(entry).ifPresent(noProxyBlocks::add);
      } else if (IpAddress.parse(entry).isPresent()) {
        IpAddress address = IpAddress.parse(entry).orElseThrow().unmapped();
        noProxyBlocks.add(new CidrBlock(address, address.isIpv4() ? 32 : 128));
      } else if (!entry.isEmpty()) {
        String name = entry.startsWith(".") ? entry.substring(1) : entry;
        if (name.startsWith("*.")) {
          name = name.substring(2);
        }
        noProxyNames.add(name.endsWith(".") ? name.substring(0, name.length() - 1) : name);
      }
    }
    this.noProxyAll = all;
  }

  private static Optional<CidrBlock> block(String entry) {
    try {
      return Optional.of(CidrBlock.parse(entry));
    } catch (IllegalArgumentException e) {
      return Optional.empty(); // NO_PROXY is read leniently, as every client reads it
    }
  }

  /** True when no connection goes through a parent. */
  public boolean direct() {
    return secure == null && plain == null;
  }

  /** Whether names of connections through a parent are left to the parent to resolve. */
  public boolean parentResolves() {
    return parentResolves;
  }

  /** The parent for secure targets, or null. */
  public ParentProxy secure() {
    return secure;
  }

  /** The parent for plain HTTP, or null. */
  public ParentProxy plain() {
    return plain;
  }

  /**
   * The parent a connection of {@code protocol} to {@code host} (vetted to {@code addresses}) goes through, or empty
   * for direct: {@code NO_PROXY} matches by name, by the literal, or by any vetted address.
   */
  public Optional<ParentProxy> parentFor(Protocol protocol, HostName host, List<IpAddress> addresses) {
    ParentProxy parent = protocol == Protocol.HTTP ? plain : secure;
    if (parent == null || protocol == Protocol.SOCKS5_UDP || bypasses(host, addresses)) {
      return Optional.empty();
    }
    return Optional.of(parent);
  }

  /** Whether UDP would need a parent, which an HTTP proxy cannot carry: then UDP ASSOCIATE is refused. */
  public boolean blocksUdp() {
    return secure != null && !noProxyAll;
  }

  private boolean bypasses(HostName host, List<IpAddress> addresses) {
    if (noProxyAll) {
      return true;
    }
    if (!host.isIpLiteral()) {
      String name = host.value();
      for (String entry : noProxyNames) {
        if (name.equals(entry) || name.endsWith("." + entry)) {
          return true;
        }
      }
    }
    for (CidrBlock block : noProxyBlocks) {
      for (IpAddress address : addresses) {
        if (block.contains(address)) {
          return true;
        }
      }
    }
    return false;
  }
}
