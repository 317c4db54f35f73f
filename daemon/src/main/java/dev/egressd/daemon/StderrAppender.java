package dev.egressd.daemon;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.OutputStreamAppender;
import java.io.BufferedOutputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;

/**
 * The stderr appender {@link LoggingConfigurator} installs. Every event is flushed at once except audit lines ({@code
 * egressd.audit}), which stay in a buffer until {@link LoggingAuditSink}'s worker ends a batch and calls {@link
 * #flushAuditLines}: a busy proxy then writes its audit lines in a few large {@code write(2)} calls instead of one per
 * request. A line is never split between two writes (it is shorter than the buffer), so lines from other writers to
 * stderr cannot land inside it.
 */
public final class StderrAppender extends OutputStreamAppender<ILoggingEvent> {
  static final String AUDIT_LOGGER = "egressd.audit";
  private static final OutputStream STDERR =
      new BufferedOutputStream(new FileOutputStream(FileDescriptor.err), 1 << 16) {
        @Override
        public void close() throws IOException {
          flush(); // the appender closes its stream when stopped; file descriptor 2 must stay open
        }
      };

  @Override
  public void start() {
    setImmediateFlush(false);
    setOutputStream(STDERR);
    super.start();
  }

  @Override
  protected void writeOut(ILoggingEvent event) throws IOException {
    super.writeOut(event);
    if (!AUDIT_LOGGER.equals(event.getLoggerName())) {
      STDERR.flush();
    }
  }

  /** Writes the audit lines buffered so far. */
  static void flushAuditLines() {
    try {
      STDERR.flush();
    } catch (IOException e) {
      // stderr is gone (a closed pipe); the appender reports that on its next write
    }
  }
}
