package dev.egressd.audit.otel;

import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.SimpleFormatter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Routes what the OTel SDK logs through {@code java.util.logging} (a failed export, an invalid setting) to SLF4J, as
 * one line with the exception's message and no stack trace. Without this the JDK's console handler prints its own
 * two-line format and a stack trace on stderr, which breaks {@code --log-format json} and prints a trace for a
 * collector that is merely down.
 */
final class SdkLogging {
  /** Held strongly: {@code java.util.logging} keeps loggers weakly and would forget the handler with the logger. */
  private static final java.util.logging.Logger SDK = java.util.logging.Logger.getLogger("io.opentelemetry");
  private static final Handler TO_SLF4J = new Slf4jHandler();

  private SdkLogging() {}

  /** Installs the route; calling it again changes nothing. */
  static synchronized void routeToSlf4j() {
    for (Handler handler : SDK.getHandlers()) {
      if (handler == TO_SLF4J) {
        return;
      }
    }
    SDK.setUseParentHandlers(false);
    SDK.addHandler(TO_SLF4J);
  }

  private static final class Slf4jHandler extends Handler {
    private final SimpleFormatter formatter = new SimpleFormatter();

    @Override
    public void publish(LogRecord record) {
      if (record == null || !isLoggable(record)) {
        return;
      }
      Logger log = LoggerFactory.getLogger(record.getLoggerName() == null ? "io.opentelemetry"
          : record.getLoggerName());
      String message = formatter.formatMessage(record);
      Throwable thrown = record.getThrown();
      // No arguments: a '{}' in the SDK's text must stay as it is.
      String line = thrown == null ? message : message + " (" + thrown + ")";
      int level = record.getLevel().intValue();
      if (level >= Level.SEVERE.intValue()) {
        log.error(line);
      } else if (level >= Level.WARNING.intValue()) {
        log.warn(line);
      } else if (level >= Level.INFO.intValue()) {
        log.info(line);
      } else {
        log.debug(line);
      }
    }

    @Override
    public void flush() {}

    @Override
    public void close() {}
  }
}
