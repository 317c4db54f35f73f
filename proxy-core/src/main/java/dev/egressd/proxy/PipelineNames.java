package dev.egressd.proxy;

/**
 * Names of the handlers egressd installs, in pipeline order.
 *
 * <p>Client side of the HTTP listener, while requests are being parsed:
 * {@link #IDLE_TIMEOUT} → {@link #HTTP_CODEC} → {@link #HTTP_PROXY}. A CONNECT head replaces {@link #HTTP_PROXY}
 * with {@link #CONNECT} and stops the codec's decoder; once the tunnel is established, the codec and
 * {@link #CONNECT} are removed and {@link #RELAY} takes over. An accepted upgrade (101) hands over the same way.
 *
 * <p>Client side of the SOCKS5 listener: {@link #IDLE_TIMEOUT} → {@link #SOCKS5_ENCODER} → {@link #SOCKS5_DECODER}
 * → {@link #SOCKS5_HANDSHAKE}; the handshake handler swaps the decoder (initial request, password, command) and
 * hands over to {@link #SOCKS5_COMMAND}, which ends in a {@link #RELAY} or a UDP association.
 *
 * <p>Client side of an intercepted tunnel, once the CONNECT (or SOCKS5) handshake handlers are gone:
 * {@link #IDLE_TIMEOUT} → {@link #TLS_DETECT}, replaced on a ClientHello by {@link #CLIENT_TLS} →
 * {@link #HTTP_CODEC} → {@link #HTTP_PROXY}; upstream of each inner request: {@link #IDLE_TIMEOUT} →
 * {@link #UPSTREAM_TLS} → {@link #HTTP_CLIENT_CODEC} → {@link #UPSTREAM_RESPONSE}.
 *
 * <p>Upstream side of a forwarded request: {@link #IDLE_TIMEOUT} → {@link #HTTP_CLIENT_CODEC} →
 * {@link #UPSTREAM_RESPONSE}; of a tunnel: {@link #IDLE_TIMEOUT} → {@link #RELAY}.
 */
public final class PipelineNames {
  /** Closes connections without traffic in either direction. */
  public static final String IDLE_TIMEOUT = "egressd-idle-timeout";
  /** {@code HttpServerCodec} with tight line and header limits. */
  public static final String HTTP_CODEC = "egressd-http-codec";
  /** Decides, forwards and tunnels requests. */
  public static final String HTTP_PROXY = "egressd-http-proxy";
  /** Sets up one CONNECT tunnel, then removes itself. */
  public static final String CONNECT = "egressd-connect";
  /** Netty's {@code Socks5ServerEncoder}. */
  public static final String SOCKS5_ENCODER = "egressd-socks5-encoder";
  /** The current SOCKS5 request decoder (initial, password, then command). */
  public static final String SOCKS5_DECODER = "egressd-socks5-decoder";
  /** Method selection and authentication. */
  public static final String SOCKS5_HANDSHAKE = "egressd-socks5-handshake";
  /** Carries out one SOCKS5 command. */
  public static final String SOCKS5_COMMAND = "egressd-socks5-command";
  /** The UDP relay of a SOCKS5 association, on its datagram channel. */
  public static final String SOCKS5_UDP_RELAY = "egressd-socks5-udp-relay";
  /** Inside a tunnel to be intercepted: decides from the first bytes whether the client speaks TLS. */
  public static final String TLS_DETECT = "egressd-tls-detect";
  /** Terminates the client's TLS with a minted leaf certificate (starts as an SNI check). */
  public static final String CLIENT_TLS = "egressd-client-tls";
  /** TLS towards the origin of an intercepted request, with certificate and host-name verification. */
  public static final String UPSTREAM_TLS = "egressd-upstream-tls";
  /** {@code HttpClientCodec} towards the origin. */
  public static final String HTTP_CLIENT_CODEC = "egressd-http-client-codec";
  /** Streams origin responses back to the client. */
  public static final String UPSTREAM_RESPONSE = "egressd-upstream-response";
  /** Relays tunnel bytes with backpressure. */
  public static final String RELAY = "egressd-relay";

  private PipelineNames() {}
}
