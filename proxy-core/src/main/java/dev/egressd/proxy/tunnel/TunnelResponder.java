package dev.egressd.proxy.tunnel;

import dev.egressd.policy.Decision;
import io.netty.channel.ChannelFuture;
import java.net.InetSocketAddress;

/**
 * A front end's side of {@link TunnelEstablisher#establish}: the only thing that differs between HTTP CONNECT,
 * SOCKS5 CONNECT and an opaque intercepted tunnel is how each outcome is put on the wire. Called on the client's
 * event loop, at most one of the three methods, at most once; every outcome has already been audited.
 */
public interface TunnelResponder {
  /**
   * Tells the client the tunnel is open. The establisher hands the connection over once the returned write
   * completes (and closes the upstream if it failed).
   *
   * @param bound the upstream connection's local address, or {@code 0.0.0.0:0} for an intercepted tunnel, which has
   *     no upstream connection of its own
   */
  ChannelFuture success(InetSocketAddress bound);

  /** Refuses with {@code decision} (a denial) and closes; nothing was contacted. */
  void refused(Decision decision);

  /**
   * Reports that the allowed destination could not be reached, and closes.
   *
   * @param subject what could not be reached, for the message: the host name for DNS failures, else host:port
   */
  void failed(UpstreamFailure failure, String subject);
}
