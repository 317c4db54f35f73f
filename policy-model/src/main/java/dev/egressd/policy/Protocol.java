package dev.egressd.policy;

/** How a client reached the proxy; the wire labels match the reference's {@code network.transport.protocol}. */
public enum Protocol {
  /** An absolute-form request on the HTTP listener. */
  HTTP("http"),
  /** A CONNECT tunnel on the HTTP listener. */
  HTTPS_CONNECT("https_connect"),
  /** A request inside an intercepted TLS tunnel. */
  HTTPS("https"),
  /** A SOCKS5 CONNECT. */
  SOCKS5_TCP("socks5_tcp"),
  /** A SOCKS5 UDP datagram. */
  SOCKS5_UDP("socks5_udp");

  private final String label;

  Protocol(String label) {
    this.label = label;
  }

  /** The wire label, e.g. {@code https_connect}. */
  public String label() {
    return label;
  }
}
