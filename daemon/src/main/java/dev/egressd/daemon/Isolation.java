package dev.egressd.daemon;

import java.io.File;
import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * {@code egressd run --isolate}: runs the command in a new network namespace whose only way out is this proxy. The
 * daemon listens on Unix sockets in a private directory; inside the namespace an {@link IsolationBridge} listens on
 * {@code 127.0.0.1} and forwards to them. Pathname Unix sockets are found through the file system, not the network,
 * so they are the one door between the namespaces.
 *
 * <p>As root the namespace is a plain {@code unshare --net}; otherwise a user namespace maps the caller to root inside
 * it so that loopback can be brought up, and the command runs in a nested one under the caller's own ids. Nothing here ever falls back to running the command without a namespace.
 */
final class Isolation implements AutoCloseable {
  private final List<String> unshare;
  private final String ip;
  private final String runAs;
  private final Path directory;

  private Isolation(List<String> unshare, String ip, String runAs, Path directory) {
    this.unshare = unshare;
    this.ip = ip;
    this.runAs = runAs;
    this.directory = directory;
  }

  /** Why isolation cannot be set up; the message is meant for the user. */
  static final class UnavailableException extends Exception {
    private static final long serialVersionUID = 1L;

    UnavailableException(String message) {
      super(message);
    }
  }

  /**
   * Checks that this kernel lets us create the namespace (by creating one and bringing its loopback up), then makes
   * the private socket directory.
   */
  static Isolation prepare(String path) throws UnavailableException {
    if (!System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux")) {
      throw new UnavailableException("network namespaces exist on Linux only (this is "
          + System.getProperty("os.name") + ")");
    }
    String unshareCommand = find("unshare", path).orElseThrow(() -> new UnavailableException(
        "the unshare command (util-linux) is not installed"));
    String ipCommand = find("ip", path).orElseThrow(() -> new UnavailableException(
        "the ip command (iproute2) is not installed"));
    List<String> unshare = new ArrayList<>(List.of(unshareCommand));
    String runAs = null;
    Optional<String> ids = ids();
    if (ids.isEmpty() || !ids.get().equals("0:0")) {
      unshare.addAll(List.of("--user", "--map-root-user"));
      runAs = ids.orElse(null);
    }
    unshare.add("--net");
    probe(unshare, ipCommand);
    try {
      Path directory = Files.createTempDirectory("egressd-isolate-",
          PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
      return new Isolation(List.copyOf(unshare), ipCommand, runAs, directory);
    } catch (IOException e) {
      throw new UnavailableException("cannot create the private socket directory: " + e.getMessage());
    }
  }

  private static void probe(List<String> unshare, String ip) throws UnavailableException {
    List<String> probe = new ArrayList<>(unshare);
    probe.addAll(List.of("--", ip, "link", "set", "lo", "up"));
    try {
      Process process = new ProcessBuilder(probe).redirectErrorStream(true).redirectInput(
          ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
      String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        throw new UnavailableException("creating a test namespace did not finish within 10 s");
      }
      if (process.exitValue() != 0) {
        throw new UnavailableException("this system does not let egressd create a network namespace ("
            + String.join(" ", probe) + " failed" + (output.isEmpty() ? "" : ": " + output) + ")");
      }
    } catch (IOException e) {
      throw new UnavailableException("cannot run " + probe.get(0) + ": " + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new UnavailableException("interrupted while testing for network namespaces");
    }
  }

  /** The Unix socket the daemon listens on for the listener called {@code name}. */
  UnixDomainSocketAddress socket(String name) {
    return UnixDomainSocketAddress.of(directory.resolve(name + ".sock"));
  }

  /**
   * The command line that creates the namespace and runs {@code command} in it behind a bridge from each port in
   * the namespace to a daemon socket.
   *
   * @param forwards each port inside the namespace and the daemon {@link #socket} it reaches
   */
  List<String> commandLine(List<IsolationBridge.Forward> forwards, List<String> command) {
    List<String> line = new ArrayList<>(unshare);
    line.add("--");
    line.add(ProcessHandle.current().info().command().orElse("java"));
    // A small, quick JVM: it only copies the agent's proxy connections.
    line.addAll(List.of("-Xmx32m", "-Xss256k", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xshare:auto",
        "-cp", System.getProperty("java.class.path"), IsolationBridge.class.getName(), "--ip", ip));
    if (runAs != null) {
      line.addAll(List.of("--unshare", unshare.get(0), "--run-as", runAs));
    }
    for (IsolationBridge.Forward forward : forwards) {
      line.add("--forward");
      line.add(forward.argument());
    }
    line.add("--");
    line.addAll(command);
    return line;
  }

  /** Removes the socket directory (the namespace itself disappears with its last process). */
  @Override
  public void close() {
    try (Stream<Path> files = Files.walk(directory)) {
      files.sorted(Comparator.reverseOrder()).forEach(file -> file.toFile().delete());
    } catch (IOException e) {
      // already gone
    }
  }

  /** {@code uid:gid} of this process (the owner of its /proc entry), if the platform tells. */
  private static Optional<String> ids() {
    try {
      Path self = Path.of("/proc/self");
      return Optional.of(Files.getAttribute(self, "unix:uid") + ":" + Files.getAttribute(self, "unix:gid"));
    } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
      return Optional.empty(); // the user-namespace form works for root too
    }
  }

  /** {@code name} on {@code path}, then in the sbin directories a non-root PATH often lacks. */
  private static Optional<String> find(String name, String path) {
    List<String> directories = new ArrayList<>();
    if (path != null) {
      directories.addAll(List.of(path.split(File.pathSeparator)));
    }
    directories.addAll(List.of("/usr/sbin", "/sbin", "/usr/bin", "/bin"));
    return directories.stream().filter(d -> !d.isEmpty()).map(d -> Path.of(d, name))
        .filter(Files::isExecutable).map(Path::toString).findFirst();
  }
}
