package dev.egressd.embed;

/**
 * The proxy cannot start, and nothing it had opened is left running. The message says why and what to change, in
 * the words {@code egressd run} prints after {@code "egressd: "}.
 */
public final class StartException extends Exception {
  private static final long serialVersionUID = 1L;

  /** A refusal with {@code message} and the {@code cause}, if there is one. */
  public StartException(String message, Throwable cause) {
    super(message, cause);
  }
}
