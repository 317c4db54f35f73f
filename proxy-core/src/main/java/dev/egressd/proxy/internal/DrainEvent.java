package dev.egressd.proxy.internal;

/**
 * Fired into every client pipeline when the server shuts down: handlers close idle connections at once and let a
 * request in flight finish first.
 */
public enum DrainEvent {
  INSTANCE
}
