package dev.egressd.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The bridge on its own, in this network namespace: forwarding from a loopback port to a Unix socket with both
 * half-closes, the command's exit status, and every argument and setup error. {@code RunCommand --isolate} is
 * covered end to end in src-it.
 */
@Timeout(60)
class IsolationBridgeTest {
  @TempDir
  Path dir;

  private final ByteArrayOutputStream errBytes = new ByteArrayOutputStream();
  private final PrintStream err = new PrintStream(errBytes, true, StandardCharsets.UTF_8);

  @Test
  void forwardParsesPortAndSocket() {
    IsolationBridge.Forward forward = IsolationBridge.Forward.parse("3128=/run/egressd/http.sock");
    assertThat(forward.port()).isEqualTo(3128);
    assertThat(forward.socket()).isEqualTo(Path.of("/run/egressd/http.sock"));
    assertThat(IsolationBridge.Forward.parse(forward.argument())).isEqualTo(forward);
  }

  @ParameterizedTest
  @ValueSource(strings = {"3128", "=/s.sock", "3128=", "http=/s.sock", "0=/s.sock", "65536=/s.sock", "-1=/s.sock"})
  void forwardRejectsMalformedText(String text) {
    assertThatThrownBy(() -> IsolationBridge.Forward.parse(text)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("--forward: " + text + " (");
  }

  @Test
  void argumentErrorsEndWithTheSetupStatusAndSayWhy() {
    assertThat(IsolationBridge.run(new String[] {"--bogus", "--", "true"}, err)).isEqualTo(125);
    assertThat(IsolationBridge.run(new String[] {"--forward", "1=/s.sock", "--"}, err)).isEqualTo(125);
    assertThat(IsolationBridge.run(new String[] {"--forward"}, err)).isEqualTo(125);
    assertThat(IsolationBridge.run(new String[] {"--run-as", "1000", "--unshare", "/usr/bin/unshare", "--", "true"},
        err)).isEqualTo(125);
    assertThat(IsolationBridge.run(new String[] {"--run-as", "1000:1000", "--", "true"}, err)).isEqualTo(125);
    assertThat(errorText()).contains("unknown argument: --bogus", "no command after --", "--forward needs a value",
        "--run-as: 1000 (expected UID:GID, with --unshare)", "--run-as: 1000:1000 (expected UID:GID, with --unshare)");
  }

  @Test
  void commandStatusIsTheBridgeStatus() {
    assertThat(IsolationBridge.run(new String[] {"--", "sh", "-c", "exit 42"}, err)).isEqualTo(42);
    assertThat(IsolationBridge.run(new String[] {"--", dir.resolve("missing").toString()}, err)).isEqualTo(127);
    assertThat(errorText()).contains("cannot run " + dir.resolve("missing"));
  }

  @Test
  void aPortInUseIsASetupErrorAndTheCommandNeverRuns() throws IOException {
    Path marker = dir.resolve("ran");
    try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      int status = IsolationBridge.run(new String[] {"--forward", taken.getLocalPort() + "=" + dir.resolve("s.sock"),
          "--", "touch", marker.toString()}, err);
      assertThat(status).isEqualTo(125);
      assertThat(errorText()).contains("cannot listen on 127.0.0.1:" + taken.getLocalPort());
    }
    assertThat(marker).doesNotExist();
  }

  @Test
  void relaysBothWaysAndPassesEachHalfCloseOn() throws Exception {
    Path socket = dir.resolve("daemon.sock");
    Path reply = dir.resolve("reply");
    try (ServerSocketChannel daemon = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      daemon.bind(UnixDomainSocketAddress.of(socket));
      // Answers only after the client's half-close arrives: proves the bridge passed it on.
      Thread upperCaser = new Thread(() -> {
        try (SocketChannel connection = daemon.accept()) {
          String request = readToEnd(connection);
          connection.write(ByteBuffer.wrap(request.toUpperCase(Locale.ROOT).getBytes(StandardCharsets.UTF_8)));
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      });
      upperCaser.start();
      int port = freePort();
      int status = IsolationBridge.run(new String[] {"--forward", port + "=" + socket, "--", "python3", "-c",
          clientScript(port, reply)}, err);
      upperCaser.join(10_000);
      assertThat(status).as("stderr: %s", errorText()).isZero();
    }
    // 200 000 bytes: more than one buffer of the bridge, and the reply ended with the daemon's close.
    assertThat(Files.readString(reply)).isEqualTo("HELLO".repeat(40_000));
  }

  @Test
  void aClientOfAStoppedDaemonSeesItsConnectionClosed() throws Exception {
    Path reply = dir.resolve("reply");
    int port = freePort();
    int status = IsolationBridge.run(new String[] {"--forward", port + "=" + dir.resolve("gone.sock"), "--",
        "python3", "-c", clientScript(port, reply)}, err);
    assertThat(status).isZero();
    assertThat(Files.readString(reply)).isEmpty();
  }

  /** Sends "hello" x 40 000, half-closes, writes everything it receives until end of stream to {@code reply}. */
  private static String clientScript(int port, Path reply) {
    return String.join("\n",
        "import socket",
        "s = socket.create_connection(('127.0.0.1', " + port + "))",
        "try:",
        "    s.sendall(b'hello' * 40000)",
        "    s.shutdown(socket.SHUT_WR)",
        "except OSError:",
        "    pass",
        "data = b''",
        "while True:",
        "    try:",
        "        chunk = s.recv(65536)",
        "    except OSError:",
        "        break",
        "    if not chunk:",
        "        break",
        "    data += chunk",
        "open('" + reply + "', 'wb').write(data)");
  }

  private static String readToEnd(SocketChannel channel) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    ByteBuffer buffer = ByteBuffer.allocate(8192);
    while (channel.read(buffer) >= 0) {
      bytes.write(buffer.array(), 0, buffer.position());
      buffer.clear();
    }
    return bytes.toString(StandardCharsets.UTF_8);
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }

  private String errorText() {
    return errBytes.toString(StandardCharsets.UTF_8);
  }
}
