package dev.egressd.proxy.tunnel;

import io.netty.channel.Channel;
import java.util.Queue;

/**
 * Takes over an accepted tunnel whose vetting said {@link Vetting.Approved#intercept()}: the TLS interception stage
 * (module {@code proxy-mitm}) implements it. Front ends call it after they have told the client the tunnel is open
 * and removed their own handlers; no upstream connection exists yet, because every inner request is decided and
 * connected on its own.
 */
@FunctionalInterface
public interface TunnelInterceptor {
  /** Creates the interceptor once the server's shared connector exists. */
  @FunctionalInterface
  interface Factory {
    /** Called once by {@code ProxyServer.start}. */
    TunnelInterceptor create(UpstreamConnector connector, dev.egressd.proxy.ProxyOptions options);
  }

  /**
   * Installs the interception stage on {@code client} and starts reading.
   *
   * @param client the client channel, its pipeline holding nothing but the idle-timeout handler
   * @param tunnel the approved tunnel request (its destination is the only host inner requests may name)
   * @param early bytes the client already sent into the tunnel, in order; the interceptor takes ownership
   */
  void intercept(Channel client, Vetting.Approved tunnel, Queue<Object> early);
}
