package dev.egressd.proxy.tunnel;

import dev.egressd.proxy.ProxyOptions;
import io.netty.channel.Channel;
import java.util.Queue;

/**
 * Takes over an accepted tunnel whose vetting said {@link Vetting.Approved#intercept()}: the TLS interception stage
 * (module {@code proxy-mitm}) implements it. {@link TunnelEstablisher} calls it after the client was told the tunnel
 * is open and the front end's handlers are gone; no upstream connection exists yet, because every inner request is
 * decided and connected on its own.
 */
@FunctionalInterface
public interface TunnelInterceptor {
  /** Creates the interceptor when the server starts. */
  @FunctionalInterface
  interface Factory {
    /** Called once by {@code ProxyServer.start}. */
    TunnelInterceptor create(ProxyOptions options);
  }

  /**
   * Installs the interception stage on {@code client} and starts reading.
   *
   * @param client the client channel, its pipeline holding nothing but the idle-timeout handler
   * @param tunnel the approved tunnel request (its destination is the only host inner requests may name; its
   *     {@link Vetting.Approved#terms()} say what to do with bytes that are not TLS)
   * @param establisher the connection path, for every inner request and for an opaque tunnel
   * @param early bytes the client already sent into the tunnel, in order; the interceptor takes ownership
   */
  void intercept(Channel client, Vetting.Approved tunnel, TunnelEstablisher establisher, Queue<Object> early);
}
