package dev.egressd.policy;

/**
 * The proxy's own listening sockets, as the engine needs to know them: a request whose vetted address is one of them
 * would loop through the proxy. The proxy supplies the live set; the engine stays free of I/O.
 */
@FunctionalInterface
public interface ProxyListeners {
  /** No listeners known ({@code check}, tests). */
  ProxyListeners NONE = (address, port) -> false;

  /** True when connecting to {@code address:port} would reach one of the proxy's own listeners. */
  boolean isListener(IpAddress address, int port);
}
