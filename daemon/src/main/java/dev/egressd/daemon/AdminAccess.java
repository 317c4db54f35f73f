package dev.egressd.daemon;

import dev.egressd.embed.CaLocation;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Map;

/**
 * How {@code egressd pending}, {@code approve} and {@code deny} reach the running daemon's approval API: the admin
 * listener's URL and a random bearer token, in {@code $EGRESSD_HOME/admin/} (default {@code ~/.egressd/admin/}), a
 * 0700 directory whose files are 0600, so only the daemon's user can answer. A workload running as another user
 * (or in the container next to egressd, without that directory) cannot approve its own requests.
 *
 * @param directory the directory holding {@code token} and {@code url}
 */
record AdminAccess(Path directory) {
  static AdminAccess of(Map<String, String> env) {
    return new AdminAccess(CaLocation.home(env, "EGRESSD_HOME", ".egressd").resolve("admin"));
  }

  Path tokenFile() {
    return directory.resolve("token");
  }

  Path urlFile() {
    return directory.resolve("url");
  }

  /** A new random token (256 bits, URL-safe Base64), written 0600 before any listener can be asked with it. */
  String createToken() throws IOException {
    byte[] random = new byte[32];
    new SecureRandom().nextBytes(random);
    String token = Base64.getUrlEncoder().withoutPadding().encodeToString(random);
    write(tokenFile(), token);
    return token;
  }

  /** Records where the admin listener is, once it is bound. */
  void publish(InetSocketAddress admin) throws IOException {
    String host = admin.getAddress().getHostAddress();
    write(urlFile(), "http://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + admin.getPort());
  }

  /** Removes both files (the daemon is stopping: its token is void). */
  void remove() {
    try {
      Files.deleteIfExists(tokenFile());
      Files.deleteIfExists(urlFile());
    } catch (IOException e) {
      // best effort: a stale token names a listener that is gone
    }
  }

  String readToken() throws IOException {
    return Files.readString(tokenFile(), StandardCharsets.UTF_8).strip();
  }

  String readUrl() throws IOException {
    return Files.readString(urlFile(), StandardCharsets.UTF_8).strip();
  }

  /** Into the 0700 directory (made so even when it already existed), 0600 and atomically. */
  private void write(Path file, String content) throws IOException {
    Files.createDirectories(directory, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    Files.setPosixFilePermissions(directory, PosixFilePermissions.fromString("rwx------"));
    PrivateFiles.writeAtomically(file, content + "\n");
  }
}
