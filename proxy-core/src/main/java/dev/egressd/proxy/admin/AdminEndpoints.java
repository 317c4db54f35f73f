package dev.egressd.proxy.admin;

/** What the admin listener serves; implemented by the daemon, which owns metrics and readiness. */
public interface AdminEndpoints {
  /** The metrics in the Prometheus text format; called on an event loop, so it must be quick. */
  byte[] metrics();

  /** The content type of {@link #metrics()}. */
  String metricsContentType();

  /** True while the proxy accepts new connections (false once shutdown began). */
  boolean ready();

  /** {@code GET /rules}: every rule of the running policy with its hit count, as JSON; null when not served. */
  default byte[] rules() {
    return null;
  }
}
