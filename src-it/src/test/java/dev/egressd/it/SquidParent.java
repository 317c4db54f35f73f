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
 * through the tests' hosts file (plus {@link #PARENT_ONLY}, which only Squid can resolve), {@code mixed.test} is
 * denied ({@code http_access deny}), optionally Basic authentication through {@code basic_ncsa_auth} with an
 * htpasswd file, and optionally TLS to Squid itself ({@code https_port}, the test CA's server certificate). Its
 * access log shows what reached it, with each client's port.
 */
final class SquidParent implements AutoCloseable {
  static final String USER = "agent";
  static final String PASSWORD = "s3cret-parent";
  /** A name in Squid's hosts file only: egressd's resolver cannot answer for it. */
  static final String PARENT_ONLY = "parent-only.test";

  private final Path directory;
  private final Process process;
  private final int port;
  private final boolean tls;

  private SquidParent(Path directory, Process process, int port, boolean tls) {
    this.directory = directory;
    this.process = process;
    this.port = port;
    this.tls = tls;
  }

  /** Starts Squid; with {@code authenticated}, only {@link #USER}/{@link #PASSWORD} may use it. */
  static SquidParent start(boolean authenticated) throws IOException, InterruptedException {
    return start(authenticated, false);
  }

  /**
   * Starts Squid; with {@code authenticated}, only {@link #USER}/{@link #PASSWORD} may use it; with {@code tls},
   * clients speak TLS to it and must trust the test CA.
   */
  static SquidParent start(boolean authenticated, boolean tls) throws IOException, InterruptedException {
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
    String listen = "http_port 127.0.0.1:" + port;
    if (tls) {
      Path certificate = directory.resolve("parent.pem");
      Path key = directory.resolve("parent.key");
      Path pkcs8 = directory.resolve("parent.pk8");
      try {
        TestCertificates.get().writeServerPem(certificate, pkcs8);
      } catch (java.security.GeneralSecurityException e) {
        throw new IOException(e);
      }
      // keytool's EC key leaves out the public point, which Squid's GnuTLS needs: openssl adds it.
      ProcessResult converted = Processes.run(List.of("openssl", "ec", "-in", pkcs8.toString(), "-out",
          key.toString()), java.util.Map.of(), directory, Duration.ofSeconds(20));
      if (converted.exitCode() != 0) {
        fail("openssl ec failed: %s", converted);
      }
      for (Path file : List.of(certificate, key)) {
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--")); // Squid's own user
      }
      listen = "https_port 127.0.0.1:" + port + " tls-cert=" + certificate + " tls-key=" + key;
    }
    Path hosts = directory.resolve("hosts");
    Files.writeString(hosts, Files.readString(Egressd.hostsFile()) + "\n127.0.0.1 " + PARENT_ONLY + "\n");
    Files.setPosixFilePermissions(hosts, PosixFilePermissions.fromString("rw-r--r--"));
    String config = """
        %s
        pid_filename %s/squid.pid
        logformat egressd %%ts.%%03tu %%6tr %%>a:%%>p %%Ss/%%03>Hs %%<st %%rm %%ru %%[un %%Sh/%%<a %%mt
        access_log stdio:%s/access.log egressd
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
        """.formatted(listen, directory, directory, directory, directory, hosts, auth);
    Path file = Files.writeString(directory.resolve("squid.conf"), config);
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
    Process process = new ProcessBuilder("/usr/sbin/squid", "-N", "-f", file.toString())
        .redirectErrorStream(true).redirectOutput(directory.resolve("squid.out").toFile()).start();
    SquidParent squid = new SquidParent(directory, process, port, tls);
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

  /** {@code http://127.0.0.1:PORT}, or {@code https://} for a TLS parent. */
  String url() {
    return (tls ? "https" : "http") + "://127.0.0.1:" + port;
  }

  /** The client ports of the access log's lines that contain {@code fragment}, in order. */
  List<String> clientPorts(String fragment) throws IOException {
    return accessLog().lines().filter(line -> line.contains(fragment))
        .map(line -> line.trim().split("\\s+")[2]).map(client -> client.substring(client.lastIndexOf(':') + 1))
        .toList();
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
