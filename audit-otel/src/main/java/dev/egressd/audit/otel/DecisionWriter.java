package dev.egressd.audit.otel;

import java.util.Map;

/** Where the audit pipeline's worker thread hands each decision; never called on an event loop. */
interface DecisionWriter extends AutoCloseable {
  /** Writes one decision's attributes; may block briefly (a file write), must not throw. */
  void write(Map<String, Object> attributes);

  /** Flushes what was written; called when the queue runs empty. */
  default void flush() {}

  @Override
  default void close() {}
}
