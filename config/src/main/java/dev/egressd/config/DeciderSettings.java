package dev.egressd.config;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * {@code [network.decider]}: the program asked about allowlist misses, one JSON POST per decision, over HTTP to a
 * loopback address or over a Unix socket.
 *
 * @param url {@code http://127.0.0.1:PORT/path} (loopback only), or null when {@code unixSocket} is set
 * @param unixSocket the socket the decider listens on, or null when {@code url} is set
 * @param path the request path over the Unix socket ({@code /} by default); for {@code url}, its own path
 * @param timeout how long one decision may wait for the decider ({@code timeout}, 5 s by default)
 * @param tokenEnv the environment variable the bearer token was read from, or null for none
 * @param token the bearer token sent as {@code Authorization: Bearer}, or null; never in {@link #toString()}
 */
public record DeciderSettings(URI url, Path unixSocket, String path, Duration timeout, String tokenEnv,
    String token) {
  /** The default {@code timeout}. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(5);

  /** Exactly one of {@code url} and {@code unixSocket}; null checks on the rest. */
  public DeciderSettings {
    if ((url == null) == (unixSocket == null)) {
      throw new IllegalArgumentException("exactly one of url and unixSocket must be set");
    }
    Objects.requireNonNull(path, "path");
    Objects.requireNonNull(timeout, "timeout");
  }

  /** Where the decider is, without the token. */
  @Override
  public String toString() {
    return "DeciderSettings[" + (url != null ? "url=" + url : "unixSocket=" + unixSocket + ", path=" + path)
        + ", timeout=" + timeout + (tokenEnv == null ? "" : ", token from $" + tokenEnv) + "]";
  }
}
