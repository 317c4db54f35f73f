package dev.egressd.it;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.util.ArrayList;
import java.util.List;

/**
 * A port on 127.0.0.1 where connection attempts time out: a listener that never accepts, with its accept queue
 * filled, so Linux drops further SYNs instead of answering them (no refusal either). Stands in for an unreachable
 * host without sending anything off the machine.
 */
final class UnansweredPort implements AutoCloseable {
  private final ServerSocket listener;
  private final List<Socket> fillers = new ArrayList<>();

  private UnansweredPort(ServerSocket listener) {
    this.listener = listener;
  }

  /** Binds the listener and fills its queue until a connection attempt goes unanswered. */
  static UnansweredPort open() throws IOException {
    UnansweredPort port = new UnansweredPort(new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1")));
    try {
      for (int i = 0; i < 16; i++) {
        Socket socket = new Socket();
        try {
          socket.connect(new InetSocketAddress("127.0.0.1", port.port()), 500);
          port.fillers.add(socket);
        } catch (SocketTimeoutException e) {
          socket.close();
          return port;
        }
      }
    } catch (IOException e) {
      port.close();
      throw e;
    }
    port.close();
    throw new IllegalStateException("the accept queue never filled up; connections to it would not time out");
  }

  /** The port. */
  int port() {
    return listener.getLocalPort();
  }

  @Override
  public void close() throws IOException {
    for (Socket socket : fillers) {
      socket.close();
    }
    listener.close();
  }
}
