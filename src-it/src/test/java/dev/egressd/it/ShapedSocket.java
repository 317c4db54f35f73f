package dev.egressd.it;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.FilterInputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * A TCP socket to 127.0.0.1 that shapes what a TLS layer on top of it sends and receives, for the ways real clients
 * start a tunnel that a simple client never does: {@link #dribbleNext} writes the next bytes one per segment with a
 * pause between them (a ClientHello split across many reads), and {@link #skipConnectResponse} hides a CONNECT
 * response head from the reader, so a client can send its ClientHello right behind the CONNECT without waiting for
 * the {@code 200}.
 */
final class ShapedSocket extends Socket {
  private OutputStream shapedOutput;
  private InputStream shapedInput;
  private volatile int dribbleLeft;
  private volatile Duration dribbleGap = Duration.ZERO;
  private volatile boolean skipResponseHead;
  private volatile String skippedStatusLine;

  private ShapedSocket() {}

  /** Connects to 127.0.0.1:{@code port} with TCP_NODELAY, so each dribbled byte leaves in its own segment. */
  static ShapedSocket connect(int port) throws IOException {
    ShapedSocket socket = new ShapedSocket();
    socket.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
    socket.setTcpNoDelay(true);
    return socket;
  }

  /** The next {@code bytes} bytes written go out one at a time, {@code gap} apart. */
  void dribbleNext(int bytes, Duration gap) {
    dribbleGap = gap;
    dribbleLeft = bytes;
  }

  /** How many of the bytes {@link #dribbleNext} asked for have not been written yet. */
  int dribbleLeft() {
    return dribbleLeft;
  }

  /** The next read first consumes one HTTP response head (through the blank line); see {@link #skippedStatusLine}. */
  void skipConnectResponse() {
    skipResponseHead = true;
  }

  /** The status line of the head {@link #skipConnectResponse} consumed, or null. */
  String skippedStatusLine() {
    return skippedStatusLine;
  }

  @Override
  public synchronized OutputStream getOutputStream() throws IOException {
    if (shapedOutput == null) {
      shapedOutput = new FilterOutputStream(super.getOutputStream()) {
        @Override
        public void write(int b) throws IOException {
          out.write(b);
        }

        @Override
        public void write(byte[] bytes, int offset, int length) throws IOException {
          int i = 0;
          while (i < length && dribbleLeft > 0) {
            out.write(bytes[offset + i++]);
            out.flush();
            dribbleLeft--;
            pause();
          }
          if (i < length) {
            out.write(bytes, offset + i, length - i);
          }
        }
      };
    }
    return shapedOutput;
  }

  @Override
  public synchronized InputStream getInputStream() throws IOException {
    if (shapedInput == null) {
      shapedInput = new FilterInputStream(super.getInputStream()) {
        @Override
        public int read() throws IOException {
          skipHead();
          return in.read();
        }

        @Override
        public int read(byte[] bytes, int offset, int length) throws IOException {
          skipHead();
          return in.read(bytes, offset, length);
        }

        private void skipHead() throws IOException {
          if (!skipResponseHead) {
            return;
          }
          skipResponseHead = false;
          ByteArrayOutputStream head = new ByteArrayOutputStream();
          int state = 0; // how much of CR LF CR LF has been seen
          while (state < 4) {
            int b = in.read();
            if (b < 0) {
              throw new EOFException("connection closed inside the CONNECT response head: " + head);
            }
            head.write(b);
            state = (b == '\r' && state % 2 == 0) || (b == '\n' && state % 2 == 1) ? state + 1
                : b == '\r' ? 1 : 0;
          }
          String text = head.toString(StandardCharsets.ISO_8859_1);
          skippedStatusLine = text.substring(0, text.indexOf("\r\n"));
        }
      };
    }
    return shapedInput;
  }

  private void pause() throws IOException {
    try {
      Thread.sleep(dribbleGap.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while dribbling");
    }
  }
}
