package dev.egressd.daemon;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Proxy;
import java.net.Socket;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code egressd ssh-proxy HOST PORT}: an ssh {@code ProxyCommand} that reaches HOST:PORT through egressd's SOCKS5
 * listener, so {@code ssh} and {@code git} over ssh are decided by the policy like everything else. The name goes to
 * the proxy unresolved (socks5h), so host rules apply. {@code run -- CMD} points {@code GIT_SSH_COMMAND} at it.
 *
 * <p>Exit 0 when the connection ends, 1 when the proxy refused or could not reach the destination (the reason is
 * on stderr, where ssh shows it), 2 for a usage error.
 */
@Command(name = "ssh-proxy", mixinStandardHelpOptions = true,
    description = {"ssh ProxyCommand: relay stdin/stdout to HOST PORT through egressd's SOCKS5 listener.",
        "Example: ssh -o ProxyCommand='egressd ssh-proxy %h %p' git@example.com"})
final class SshProxyCommand implements Callable<Integer> {
  private static final int CONNECT_TIMEOUT_MILLIS = 30_000;

  @Option(names = "--socks", paramLabel = "URL",
      description = "The SOCKS5 listener, socks5h://[user:password@]host:port (default: $ALL_PROXY or $all_proxy).")
  String socks;

  @Parameters(index = "0", paramLabel = "HOST", description = "The host ssh connects to (%h).")
  String host;

  @Parameters(index = "1", paramLabel = "PORT", description = "The port (%p).")
  int port;

  private final Map<String, String> environment;

  SshProxyCommand() {
    this(System.getenv());
  }

  SshProxyCommand(Map<String, String> environment) {
    this.environment = environment;
  }

  @Override
  public Integer call() throws InterruptedException {
    URI proxy;
    try {
      proxy = socksUri(socks != null ? socks : environment.getOrDefault("ALL_PROXY",
          environment.get("all_proxy")));
    } catch (IllegalArgumentException e) {
      System.err.println("egressd ssh-proxy: " + e.getMessage());
      return Main.CONFIG_ERROR;
    }
    if (port < 1 || port > 65535) {
      System.err.println("egressd ssh-proxy: port " + port + " (expected: 1 to 65535)");
      return Main.CONFIG_ERROR;
    }
    String userInfo = proxy.getRawUserInfo();
    if (userInfo != null) {
      // The JDK's SOCKS client reads these for RFC 1929 username/password authentication.
      int colon = userInfo.indexOf(':');
      System.setProperty("java.net.socks.username", decode(colon < 0 ? userInfo : userInfo.substring(0, colon)));
      System.setProperty("java.net.socks.password", colon < 0 ? "" : decode(userInfo.substring(colon + 1)));
    }
    Socket socket = new Socket(new Proxy(Proxy.Type.SOCKS, new InetSocketAddress(proxy.getHost(), proxy.getPort())));
    try {
      // Unresolved: the proxy, not this process, resolves the name, so the host rules decide (socks5h).
      socket.connect(InetSocketAddress.createUnresolved(host, port), CONNECT_TIMEOUT_MILLIS);
    } catch (IOException e) {
      System.err.println("egressd ssh-proxy: " + host + ":" + port + " was not connected through egressd ("
          + proxy.getHost() + ":" + proxy.getPort() + "): " + e.getMessage()
          + (String.valueOf(e.getMessage()).contains("not allowed") ? " (refused by the egress policy; egressd's"
              + " log says why)" : ""));
      close(socket);
      return 1;
    }
    return relay(socket);
  }

  /** Copies stdin to the socket and the socket to stdout until the remote side ends. */
  private static int relay(Socket socket) throws InterruptedException {
    Thread upload = new Thread(() -> {
      try {
        copy(System.in, socket.getOutputStream());
        socket.shutdownOutput(); // ssh closed its end: pass the FIN on, keep reading the answer
      } catch (IOException e) {
        close(socket);
      }
    }, "ssh-proxy-upload");
    upload.setDaemon(true);
    upload.start();
    try {
      copy(socket.getInputStream(), System.out);
    } catch (IOException e) {
      System.err.println("egressd ssh-proxy: connection ended: " + e.getMessage());
      return 1;
    } finally {
      close(socket);
    }
    return 0;
  }

  private static void copy(InputStream in, OutputStream out) throws IOException {
    byte[] buffer = new byte[16 * 1024];
    for (int n; (n = in.read(buffer)) >= 0; ) {
      out.write(buffer, 0, n);
      out.flush(); // ssh is interactive: every read goes out at once
    }
  }

  /**
   * Shell words that start this egressd again: {@code java -jar JAR} from the jar this class came from, or
   * {@code java -cp CLASSPATH Main} when it runs from classes (tests). The JVM is the one running now.
   */
  static String invocation() {
    String java = ProcessHandle.current().info().command()
        .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    Path location;
    try {
      location = Path.of(SshProxyCommand.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    } catch (URISyntaxException | RuntimeException e) {
      location = null;
    }
    // Quick to start (ssh waits for it), small: a relay needs neither C2 nor a parallel collector.
    String jvm = ShellSyntax.shWord(java) + " -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xshare:auto";
    if (location != null && location.toString().endsWith(".jar")) {
      return jvm + " -jar " + ShellSyntax.shWord(location.toString());
    }
    return jvm + " -cp " + ShellSyntax.shWord(System.getProperty("java.class.path")) + " "
        + Main.class.getName();
  }

  /** Parses {@code socks5h://[user:password@]host:port} ({@code socks5://} too: the name is sent unresolved). */
  static URI socksUri(String value) {
    if (value == null || value.isBlank()) {
      throw new IllegalArgumentException("no SOCKS5 proxy: set ALL_PROXY=socks5h://host:port or pass --socks (egressd"
          + " run -- CMD sets it when the SOCKS5 listener is on)");
    }
    URI uri;
    try {
      uri = new URI(value.trim());
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException("SOCKS5 proxy: not a URL (expected: socks5h://host:port)", e);
    }
    String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
    if (!scheme.equals("socks5h") && !scheme.equals("socks5") || uri.getHost() == null || uri.getPort() < 0) {
      throw new IllegalArgumentException("SOCKS5 proxy " + redacted(uri) + " (expected: socks5h://host:port)");
    }
    return uri;
  }

  private static String redacted(URI uri) {
    return uri.getRawUserInfo() == null ? uri.toString() : uri.toString().replace(uri.getRawUserInfo() + "@", "***@");
  }

  private static String decode(String text) {
    return URLDecoder.decode(text, StandardCharsets.UTF_8);
  }

  private static void close(Socket socket) {
    try {
      socket.close();
    } catch (IOException e) {
      // closing anyway
    }
  }
}
