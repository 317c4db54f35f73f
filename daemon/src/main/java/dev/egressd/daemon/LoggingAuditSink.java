package dev.egressd.daemon;

import dev.egressd.audit.AuditEvent;
import dev.egressd.audit.AuditSink;
import dev.egressd.policy.AccessRequest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes one canonical log line per audit event to the {@code egressd.audit} logger. Lines carry host, port,
 * method and reason only: never a path, query, header value or credential.
 */
final class LoggingAuditSink implements AuditSink {
  private static final Logger log = LoggerFactory.getLogger("egressd.audit");

  @Override
  public void record(AuditEvent event) {
    if (!log.isInfoEnabled()) {
      return;
    }
    if (event instanceof AuditEvent.PolicyDecision d) {
      log.info("decision={} reason={} source={} {}{}", d.decision().verdict().label(), d.decision().reason().code(),
          d.decision().source().label(), describe(d.request()),
          d.decision().rule().map(r -> " rule=\"" + r.pattern().text() + "\"").orElse(""));
    } else if (event instanceof AuditEvent.UpstreamFailure f) {
      log.info("upstream_failure cause={} {}", f.cause(), describe(f.request()));
    } else if (event instanceof AuditEvent.TunnelClosed t) {
      log.info("tunnel_closed bytes_up={} bytes_down={} duration_ms={} {}", t.bytesUp(), t.bytesDown(),
          t.durationMillis(), describe(t.request()));
    }
  }

  private static String describe(AccessRequest r) {
    return "protocol=" + r.protocol().label() + " host=" + r.destination().host().value() + " port="
        + r.destination().port() + " method=" + (r.method() == null ? "none" : r.method()) + " client=" + r.client();
  }
}
