package dev.egressd.daemon;

import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The process {@code egressd run --isolate} starts inside the child's new network namespace: it brings loopback up,
 * listens on {@code 127.0.0.1:<port>} for each proxy listener, forwards every connection to the daemon's Unix socket
 * for that listener, runs the command and exits with its status.
 *
 * <p>Pure JDK and blocking threads on purpose: it runs as a second, small JVM next to an agent, carries the agent's
 * own proxy traffic only, and must start fast. Arguments:
 * {@code [--ip PATH] [--unshare PATH --run-as UID:GID] --forward PORT=SOCKET... -- CMD ARGS...}. {@code --run-as}
 * runs the command in a further user namespace where it has the caller's own ids again, not the root mapping that
 * bringing loopback up needed.
 */
public final class IsolationBridge {
  /** Exit status when the namespace could not be set up (as {@code env}/{@code timeout} do for their own errors). */
  static final int SETUP_FAILED = 125;
  /** The variable carrying {@code JAVA_TOOL_OPTIONS} for the command, kept away from this JVM. */
  static final String CHILD_JAVA_TOOL_OPTIONS = "EGRESSD_ISOLATE_JAVA_TOOL_OPTIONS";
  private static final int BUFFER_BYTES = 64 * 1024;

  /** One listener: {@code 127.0.0.1:port} in the namespace to a Unix socket of the daemon. */
  record Forward(int port, Path socket) {
    static Forward parse(String text) {
      int equals = text.indexOf('=');
      if (equals <= 0 || equals == text.length() - 1) {
        throw new IllegalArgumentException("--forward: " + text + " (expected PORT=SOCKET)");
      }
      int port;
      try {
        port = Integer.parseInt(text.substring(0, equals));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("--forward: " + text + " (expected a port number before =)", e);
      }
      if (port < 1 || port > 65535) {
        throw new IllegalArgumentException("--forward: " + text + " (port must be 1-65535)");
      }
      return new Forward(port, Path.of(text.substring(equals + 1)));
    }

    /** The argument {@link #parse} reads back. */
    String argument() {
      return port + "=" + socket;
    }
  }

  private IsolationBridge() {}

  /** Entry point; see the class description. */
  public static void main(String[] args) {
    System.exit(run(args, System.err));
  }

  static int run(String[] args, PrintStream err) {
    String ip = null;
    String unshare = null;
    String runAs = null;
    List<Forward> forwards = new ArrayList<>();
    List<String> command = new ArrayList<>();
    try {
      int i = 0;
      for (; i < args.length && !args[i].equals("--"); i++) {
        switch (args[i]) {
          case "--ip" -> ip = value(args, ++i, "--ip");
          case "--forward" -> forwards.add(Forward.parse(value(args, ++i, "--forward")));
          case "--unshare" -> unshare = value(args, ++i, "--unshare");
          case "--run-as" -> runAs = value(args, ++i, "--run-as");
          default -> throw new IllegalArgumentException("unknown argument: " + args[i]);
        }
      }
      if (runAs != null) {
        String[] ids = runAs.split(":", -1);
        if (unshare == null || ids.length != 2 || !ids[0].matches("[0-9]+") || !ids[1].matches("[0-9]+")) {
          throw new IllegalArgumentException("--run-as: " + runAs + " (expected UID:GID, with --unshare)");
        }
        command.addAll(List.of(unshare, "--user", "--map-user=" + ids[0], "--map-group=" + ids[1], "--"));
      }
      int before = command.size();
      command.addAll(List.of(args).subList(Math.min(i + 1, args.length), args.length));
      if (command.size() == before) {
        throw new IllegalArgumentException("no command after --");
      }
    } catch (IllegalArgumentException e) {
      err.println("egressd isolate: " + e.getMessage());
      return SETUP_FAILED;
    }
    List<ServerSocketChannel> servers = new ArrayList<>();
    try {
      if (ip != null) {
        loopbackUp(ip);
      }
      for (Forward forward : forwards) {
        servers.add(listen(forward));
      }
      return runCommand(command, err);
    } catch (IOException e) {
      err.println("egressd isolate: cannot set up the namespace: " + e.getMessage());
      return SETUP_FAILED;
    } finally {
      servers.forEach(IsolationBridge::closeQuietly);
    }
  }

  private static String value(String[] args, int index, String option) {
    if (index >= args.length) {
      throw new IllegalArgumentException(option + " needs a value");
    }
    return args[index];
  }

  private static void loopbackUp(String ip) throws IOException {
    Process process = new ProcessBuilder(ip, "link", "set", "lo", "up").redirectErrorStream(true).start();
    String output = new String(process.getInputStream().readAllBytes()).strip();
    try {
      if (!process.waitFor(10, TimeUnit.SECONDS) || process.exitValue() != 0) {
        throw new IOException("ip link set lo up failed" + (output.isEmpty() ? "" : ": " + output));
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while bringing loopback up", e);
    }
  }

  private static ServerSocketChannel listen(Forward forward) throws IOException {
    ServerSocketChannel server = ServerSocketChannel.open();
    try {
      server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), forward.port()), 256);
    } catch (IOException e) {
      server.close();
      throw new IOException("cannot listen on 127.0.0.1:" + forward.port() + ": " + e.getMessage(), e);
    }
    Thread acceptor = new Thread(() -> accept(server, forward.socket()), "bridge-accept-" + forward.port());
    acceptor.setDaemon(true);
    acceptor.start();
    return server;
  }

  private static void accept(ServerSocketChannel server, Path socket) {
    while (true) {
      SocketChannel client;
      try {
        client = server.accept();
      } catch (IOException e) {
        return;
      }
      Thread connector = new Thread(() -> connect(client, socket), "bridge-connect");
      connector.setDaemon(true);
      connector.start();
    }
  }

  private static void connect(SocketChannel client, Path socket) {
    SocketChannel daemon;
    try {
      daemon = SocketChannel.open(StandardProtocolFamily.UNIX);
      daemon.connect(UnixDomainSocketAddress.of(socket));
    } catch (IOException e) {
      // The daemon is gone or full: the client sees a closed connection, as it would from a stopped proxy.
      closeQuietly(client);
      return;
    }
    AtomicInteger openDirections = new AtomicInteger(2);
    Thread up = new Thread(() -> pump(client, daemon, openDirections), "bridge-up");
    up.setDaemon(true);
    up.start();
    pump(daemon, client, openDirections);
  }

  /**
   * Copies {@code from} to {@code to} until end of stream, then half-closes {@code to}, so either side may finish
   * sending first; the pair closes when both directions are done, or at once on an error.
   */
  private static void pump(SocketChannel from, SocketChannel to, AtomicInteger openDirections) {
    ByteBuffer buffer = ByteBuffer.allocate(BUFFER_BYTES);
    try {
      while (from.read(buffer) >= 0) {
        buffer.flip();
        while (buffer.hasRemaining()) {
          to.write(buffer);
        }
        buffer.clear();
      }
      to.shutdownOutput();
      if (openDirections.decrementAndGet() > 0) {
        return;
      }
    } catch (IOException e) {
      // fall through: a reset or a closed peer ends both directions
    }
    closeQuietly(from);
    closeQuietly(to);
  }

  private static int runCommand(List<String> command, PrintStream err) {
    ProcessBuilder builder = new ProcessBuilder(command).inheritIO();
    Map<String, String> env = builder.environment();
    String javaToolOptions = env.remove(CHILD_JAVA_TOOL_OPTIONS);
    if (javaToolOptions != null) {
      env.put("JAVA_TOOL_OPTIONS", javaToolOptions);
    }
    Process child;
    try {
      child = builder.start();
    } catch (IOException e) {
      err.println("egressd: cannot run " + command.get(0) + ": " + e.getMessage());
      return 127;
    }
    Runtime.getRuntime().addShutdownHook(new Thread(child::destroy, "bridge-child-stop"));
    try {
      return child.waitFor();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      child.destroy();
      return SETUP_FAILED;
    }
  }

  private static void closeQuietly(Channel channel) {
    try {
      channel.close();
    } catch (IOException e) {
      // closing after an error: nothing left to tell anyone
    }
  }
}
