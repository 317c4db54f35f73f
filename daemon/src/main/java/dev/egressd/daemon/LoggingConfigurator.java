package dev.egressd.daemon;

import ch.qos.logback.classic.AsyncAppender;
import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.JsonEncoder;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.Configurator;
import ch.qos.logback.classic.spi.ConfiguratorRank;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.encoder.Encoder;
import ch.qos.logback.core.spi.ContextAwareBase;
import java.util.Locale;

/**
 * egressd's logging, set up in code (found by logback through {@code META-INF/services}) rather than by a
 * {@code logback.xml}: parsing one loads logback's Joran and the JDK's XML parser, some 600 classes that a sidecar
 * would carry in memory for its whole life (docs/performance.md, "Memory"). A {@code -Dlogback.configurationFile}
 * still wins: then this configurator steps aside and logback reads that file.
 *
 * <ul>
 *   <li>Everything goes to stderr ({@link StderrAppender}), so stdout stays the child's or machine-readable;
 *       {@code egressd.log.format} (the {@code --log-format} option or {@code EGRESSD_LOG_FORMAT}) picks text or
 *       JSON lines.
 *   <li>Event loops never wait on a full stderr pipe: the root logger writes through an {@link AsyncAppender} that
 *       drops rather than blocks. Audit lines ({@code egressd.audit}) are already queued off the event loops by
 *       {@code LoggingAuditSink}, so they skip that second queue.
 *   <li>Netty and the OpenTelemetry SDK log warnings and worse only; the root level is {@code EGRESSD_LOG_LEVEL}
 *       (a system property or the environment), INFO by default.
 * </ul>
 */
@ConfiguratorRank(ConfiguratorRank.CUSTOM_HIGH_PRIORITY)
public final class LoggingConfigurator extends ContextAwareBase implements Configurator {
  private static final String TEXT_PATTERN = "%d{yyyy-MM-dd'T'HH:mm:ss.SSSXXX,UTC} %-5level %logger{0} - %msg%n";

  /** Public for {@link java.util.ServiceLoader}. */
  public LoggingConfigurator() {}

  @Override
  public ExecutionStatus configure(LoggerContext context) {
    if (System.getProperty("logback.configurationFile") != null) {
      return ExecutionStatus.INVOKE_NEXT_IF_ANY;
    }
    StderrAppender stderr = new StderrAppender();
    stderr.setContext(context);
    stderr.setName("STDERR");
    stderr.setEncoder(encoder(context, "json".equals(setting("egressd.log.format", "text"))));
    stderr.start();

    AsyncAppender async = new AsyncAppender();
    async.setContext(context);
    async.setName("ASYNC");
    async.setQueueSize(8192);
    async.setDiscardingThreshold(0);
    async.setNeverBlock(true);
    async.addAppender(stderr);
    async.start();

    Logger audit = context.getLogger(StderrAppender.AUDIT_LOGGER);
    audit.setAdditive(false);
    audit.addAppender(stderr);
    context.getLogger("io.netty").setLevel(Level.WARN);
    context.getLogger("io.opentelemetry").setLevel(Level.WARN);
    Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
    root.setLevel(Level.toLevel(setting("EGRESSD_LOG_LEVEL", "INFO").toUpperCase(Locale.ROOT), Level.INFO));
    root.addAppender(async);
    return ExecutionStatus.DO_NOT_INVOKE_NEXT_IF_ANY;
  }

  private static Encoder<ILoggingEvent> encoder(LoggerContext context, boolean json) {
    if (json) {
      JsonEncoder encoder = new JsonEncoder();
      encoder.setContext(context);
      encoder.setWithSequenceNumber(false);
      encoder.setWithNanoseconds(false);
      encoder.setWithContext(false);
      encoder.setWithFormattedMessage(true);
      encoder.setWithArguments(false);
      encoder.setWithMDC(false);
      encoder.setWithKVPList(false);
      encoder.setWithThreadName(false);
      encoder.start();
      return encoder;
    }
    PatternLayoutEncoder encoder = new PatternLayoutEncoder();
    encoder.setContext(context);
    encoder.setPattern(TEXT_PATTERN);
    encoder.start();
    return encoder;
  }

  /** As logback's {@code ${NAME:-default}}: a system property, else the environment, else the default. */
  private static String setting(String name, String fallback) {
    String value = System.getProperty(name);
    if (value == null || value.isEmpty()) {
      value = System.getenv(name);
    }
    return value == null || value.isEmpty() ? fallback : value;
  }
}
