package dev.egressd.it;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * Collects one output stream of a child process line by line, so tests can wait for a line and read them all.
 *
 * <p>The child writes to a file that this collector tails, not to a pipe: {@link Process#destroy()} closes the pipes
 * at once, under a reader still blocked in them ("Stream closed"), and the lines a child printed while stopping,
 * often the ones a shutdown test asserts on, were lost.
 */
final class OutputCollector {
  private static final long POLL_MILLIS = 10;
  private final List<String> lines = new ArrayList<>();
  private final Thread pump;
  private boolean ended;

  private OutputCollector(Path file, ProcessHandle process, String name) {
    pump = new Thread(() -> tail(file, process), name);
    pump.setDaemon(true);
    pump.start();
  }

  /** Collects what {@code process} writes to {@code file} ({@link ChildProcess#start}); deletes it at the end. */
  static OutputCollector tail(Path file, Process process, String name) {
    return new OutputCollector(file, process.toHandle(), name);
  }

  private void tail(Path file, ProcessHandle process) {
    ByteArrayOutputStream line = new ByteArrayOutputStream();
    byte[] chunk = new byte[8192];
    try (InputStream in = Files.newInputStream(file)) {
      boolean exited = false;
      while (true) {
        int n = in.read(chunk);
        if (n > 0) {
          for (int i = 0; i < n; i++) {
            if (chunk[i] == '\n') {
              add(line);
            } else {
              line.write(chunk[i]);
            }
          }
        } else if (exited) {
          break; // the end of the file after the exit: nothing more can come
        } else if (!process.isAlive()) {
          exited = true; // one more pass reads what was written just before the exit
        } else {
          Thread.sleep(POLL_MILLIS);
        }
      }
      if (line.size() > 0) {
        add(line);
      }
    } catch (IOException e) {
      // the file went away; what was read so far stays available
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      synchronized (this) {
        ended = true;
        notifyAll();
      }
      try {
        Files.deleteIfExists(file);
      } catch (IOException e) {
        // a temporary file; the system cleans it up eventually
      }
    }
  }

  private void add(ByteArrayOutputStream line) {
    String text = line.toString(StandardCharsets.UTF_8);
    line.reset();
    synchronized (this) {
      lines.add(text.endsWith("\r") ? text.substring(0, text.length() - 1) : text);
      notifyAll();
    }
  }

  /** Every line read so far. */
  synchronized List<String> lines() {
    return List.copyOf(lines);
  }

  /** How many lines have been read so far. */
  synchronized int size() {
    return lines.size();
  }

  /** Everything read so far, one line per line. */
  String text() {
    List<String> copy = lines();
    return copy.isEmpty() ? "" : String.join("\n", copy) + "\n";
  }

  /** The lines read so far, starting at index {@code from}. */
  synchronized List<String> linesFrom(int from) {
    return List.copyOf(lines.subList(Math.min(from, lines.size()), lines.size()));
  }

  /**
   * Waits for a line at index {@code from} or later that matches, until the stream ends or the timeout passes.
   */
  synchronized Optional<String> await(int from, Predicate<String> matcher, Duration timeout)
      throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    int i = from;
    while (true) {
      for (; i < lines.size(); i++) {
        if (matcher.test(lines.get(i))) {
          return Optional.of(lines.get(i));
        }
      }
      long left = deadline - System.nanoTime();
      if (ended || left <= 0) {
        return Optional.empty();
      }
      TimeUnit.NANOSECONDS.timedWait(this, left);
    }
  }

  /** Waits until the file has been read to its end after the process exited. */
  void awaitEnd(Duration timeout) throws InterruptedException {
    pump.join(timeout.toMillis());
  }
}
