package dev.egressd.policy;

import java.util.List;

/**
 * The parts of an HTTP request that {@link MitmHook}s match on and {@link Credentials} look for stand-ins in: inside
 * an intercepted tunnel, or on the plain-HTTP listener. Read only for the match: none of it is ever audited.
 */
public interface InnerRequest {
  /** The method token, as sent. */
  String method();

  /** The path of the origin-form target, without the query; {@code /} at least. */
  String path();

  /** The raw query (after {@code ?}, still percent-encoded), or null when there is none. */
  String query();

  /** Every value of the header {@code name} (case-insensitive), in order; empty when absent. */
  List<String> headerValues(String name);

  /** Every header value of the request, for spotting a credential's stand-in wherever it was put. */
  default List<String> allHeaderValues() {
    return List.of();
  }
}
