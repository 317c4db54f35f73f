package dev.egressd.proxy.mitm;

/**
 * The MITM certificate authority cannot be loaded or created. The message is meant for the operator: it names the
 * file(s) involved and, where there is one, the fix (for example {@code chmod 600 <key>}). It never contains key
 * material.
 */
public final class CaException extends Exception {
  /** A failure described by {@code message}. */
  public CaException(String message) {
    super(message);
  }

  /** A failure described by {@code message}, caused by {@code cause}. */
  public CaException(String message, Throwable cause) {
    super(message, cause);
  }
}
