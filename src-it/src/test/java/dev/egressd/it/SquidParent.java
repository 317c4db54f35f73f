package dev.egressd.it;

import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real Squid (Debian's {@code squid}) on a free loopback port, with a config this test writes: names resolve
 * through the tests' hosts file, {@code mixed.test} is denied ({@code http_access deny}), and optionally Basic
 * authentication through {@code basic_ncsa_auth} with an htpasswd file. Its access log shows what reached it.
 */
final class SquidParent implements AutoCloseable {
  static final String USER = "agent";
  static final String PASSWORD = "s3cret-parent";

  private final Path directory;
  private final Process process;
  private final int port;

  private SquidParent(Path directory, Process process, int port) {
    this.directory = directory;
    this.process = process;
    this.port = port;
  }

  /** Starts Squid; with {@code authenticated}, only {@link #USER}/{@link #PASSWORD} may use it. */
  static SquidParent start(boolean authenticated) throws IOException, InterruptedException {
    Path directory = Files.createTempDirectory("egressd-it-squid");
    // Squid drops to its own user: it must be able to write its logs here.
    Files.setPosixFilePermissions(directory, PosixFilePermissions.fromString("rwxrwxrwx"));
    int port;
    try (ServerSocket free = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = free.getLocalPort();
    }
    String auth = "";
    if (authenticated) {
      Path passwords = directory.resolve("htpasswd");
      ProcessResult htpasswd = Processes.run(List.of("htpasswd", "-b", "-c", passwords.toString(), USER, PASSWORD),
          java.util.Map.of(), directory, Duration.ofSeconds(20));
      if (htpasswd.exitCode() != 0) {
        fail("htpasswd failed: %s", htpasswd);
      }
      Files.setPosixFilePermissions(passwords, PosixFilePermissions.fromString("rw-r--r--"));
      auth = """
          auth_param basic program /usr/lib/squid/basic_ncsa_auth %s
          auth_param basic realm egressd-it
          acl authenticated proxy_auth REQUIRED
          http_access deny !authenticated
          """.formatted(passwords);
    }
    String config = """
        http_port 127.0.0.1:%d
        pid_filename %s/squid.pid
        access_log stdio:%s/access.log
        cache_log %s/cache.log
        cache_store_log none
        coredump_dir %s
        cache deny all
        hosts_file %s
        dns_nameservers 127.0.0.1
        shutdown_lifetime 0 seconds
        acl refused dstdomain mixed.test
        http_access deny refused
        %s
        http_access allow localhost
        http_access deny all
        """.formatted(port, directory, directory, directory, directory, Egressd.hostsFile(), auth);
    Path file = Files.writeString(directory.resolve("squid.conf"), config);
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
    Process process = new ProcessBuilder("/usr/sbin/squid", "-N", "-f", file.toString())
        .redirectErrorStream(true).redirectOutput(directory.resolve("squid.out").toFile()).start();
    SquidParent squid = new SquidParent(directory, process, port);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        fail("squid exited: %s\n%s", Files.readString(directory.resolve("squid.out")), squid.cacheLog());
      }
      try (Socket probe = new Socket(InetAddress.getLoopbackAddress(), port)) {
        return squid;
      } catch (IOException notYet) {
        Thread.sleep(100);
      }
    }
    squid.close();
    fail("squid did not listen within 30 s: %s", squid.cacheLog());
    return null;
  }

  int port() {
    return port;
  }

  /** {@code http://127.0.0.1:PORT}. */
  String url() {
    return "http://127.0.0.1:" + port;
  }

  /** The access log so far (Squid writes a line when a transaction ends). */
  String accessLog() throws IOException {
    Path log = directory.resolve("access.log");
    return Files.exists(log) ? Files.readString(log) : "";
  }

  String cacheLog() throws IOException {
    Path log = directory.resolve("cache.log");
    return Files.exists(log) ? Files.readString(log) : "";
  }

  /** Waits until the access log contains {@code fragment}; true if it did within 10 s. */
  boolean awaitAccess(String fragment) throws IOException, InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (System.nanoTime() < deadline) {
      if (accessLog().contains(fragment)) {
        return true;
      }
      Thread.sleep(100);
    }
    return false;
  }

  @Override
  public void close() throws IOException {
    process.destroy();
    try {
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly();
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }
}
