package dev.egressd.daemon;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Captures {@code System.out} and {@code System.err} for each test, for commands run in-process; register it on an
 * instance field with {@code @RegisterExtension}.
 */
final class StandardStreams implements BeforeEachCallback, AfterEachCallback {
  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();
  private PrintStream savedOut;
  private PrintStream savedErr;

  @Override
  public void beforeEach(ExtensionContext context) {
    savedOut = System.out;
    savedErr = System.err;
    System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
  }

  @Override
  public void afterEach(ExtensionContext context) {
    System.setOut(savedOut);
    System.setErr(savedErr);
  }

  /** What the test wrote to standard output so far. */
  String out() {
    return out.toString(StandardCharsets.UTF_8);
  }

  /** What the test wrote to standard error so far. */
  String err() {
    return err.toString(StandardCharsets.UTF_8);
  }

  /** Forgets standard output written so far. */
  void resetOut() {
    out.reset();
  }
}
