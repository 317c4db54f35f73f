package dev.egressd.policy;

/**
 * A {@link PolicyDecider} could not answer, and says why in words fit for the refused client: its message follows
 * "The decider " in the 403 body, e.g. {@code answered invalid JSON}. Any other exception is reported by its class
 * name only, since its message may hold internals.
 */
public class DeciderException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** @param why what went wrong, e.g. {@code answered HTTP 500} */
  public DeciderException(String why) {
    super(why);
  }

  /** @param why what went wrong, e.g. {@code could not be reached} */
  public DeciderException(String why, Throwable cause) {
    super(why, cause);
  }
}
