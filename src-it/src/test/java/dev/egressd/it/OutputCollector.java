package dev.egressd.it;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/** Drains one output stream of a child process line by line, so tests can wait for a line and read them all. */
final class OutputCollector {
  private final List<String> lines = new ArrayList<>();
  private final Thread pump;
  private boolean ended;

  OutputCollector(InputStream in, String name) {
    pump = new Thread(() -> drain(in), name);
    pump.setDaemon(true);
    pump.start();
  }

  private void drain(InputStream in) {
    try (BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
      String line;
      while ((line = reader.readLine()) != null) {
        synchronized (this) {
          lines.add(line);
          notifyAll();
        }
      }
    } catch (IOException e) {
      // The process went away; what was read so far stays available.
    } finally {
      synchronized (this) {
        ended = true;
        notifyAll();
      }
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

  /** Waits until the stream has been read to its end. */
  void awaitEnd(Duration timeout) throws InterruptedException {
    pump.join(timeout.toMillis());
  }
}
