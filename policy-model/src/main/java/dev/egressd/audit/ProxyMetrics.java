package dev.egressd.audit;

/**
 * Measurements the proxy takes that are not audit events: open connections per listener, upstream connect and DNS
 * latency. Called on the proxy's event loops, so implementations must be cheap and must never block. Every method
 * does nothing by default.
 */
public interface ProxyMetrics {
  /** Measures nothing. */
  ProxyMetrics NONE = new ProxyMetrics() {};

  /** A client connected to the listener called {@code listener} (e.g. {@code http}, {@code socks5}). */
  default void connectionOpened(String listener) {}

  /** A client connection to {@code listener} closed. */
  default void connectionClosed(String listener) {}

  /**
   * One upstream connect finished (all vetted addresses tried).
   *
   * @param nanos from the first attempt until it connected or gave up
   * @param connected whether it connected
   */
  default void upstreamConnect(long nanos, boolean connected) {}

  /**
   * One DNS lookup finished.
   *
   * @param nanos from the query until the answer, failure or timeout
   * @param answered whether it returned at least one address
   */
  default void dnsLookup(long nanos, boolean answered) {}

  /**
   * One call to the policy decider finished.
   *
   * @param nanos from the call until the answer, failure or timeout
   * @param outcome {@code allow}, {@code deny}, {@code ask}, {@code failed} or {@code timeout}
   */
  default void deciderAnswered(long nanos, String outcome) {}

  /** A request started waiting for a person. */
  default void approvalPending() {}

  /**
   * A request that waited for a person was answered or timed out.
   *
   * @param outcome {@code approved}, {@code denied}, {@code timeout}, or {@code gone} (the client left first)
   * @param by who answered ({@code cli}, ...), or {@code none} for a timeout or a client that left
   */
  default void approvalAnswered(String outcome, String by) {}
}
