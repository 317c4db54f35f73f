package dev.egressd.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import ch.qos.logback.core.read.ListAppender;
import dev.egressd.audit.AuditEvent;
import dev.egressd.policy.AccessRequest;
import dev.egressd.policy.Decision;
import dev.egressd.policy.Destination;
import dev.egressd.policy.HostName;
import dev.egressd.policy.PolicySource;
import dev.egressd.policy.Protocol;
import dev.egressd.policy.Reason;
import dev.egressd.policy.Rule;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.slf4j.LoggerFactory;

@Timeout(30)
class LoggingAuditSinkTest {
  private static final Instant AT = Instant.parse("2026-11-23T10:15:30Z");
  private static final String CLIENT = "127.0.0.1:5555";

  private final Logger audit = (Logger) LoggerFactory.getLogger("egressd.audit");
  private final Logger warnings = (Logger) LoggerFactory.getLogger(LoggingAuditSink.class);
  private final ListAppender<ILoggingEvent> lines = new ListAppender<>();
  private final ListAppender<ILoggingEvent> warned = new ListAppender<>();
  private final CountDownLatch release = new CountDownLatch(1);
  private final CountDownLatch blocked = new CountDownLatch(1);
  private final AppenderBase<ILoggingEvent> stall = new AppenderBase<>() {
    @Override
    protected void append(ILoggingEvent event) {
      blocked.countDown();
      try {
        release.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  };

  @BeforeEach
  void captureLines() {
    lines.start();
    warned.start();
    audit.addAppender(lines);
    audit.setAdditive(false); // keep test lines off stderr
    warnings.addAppender(warned);
    warnings.setAdditive(false);
  }

  @AfterEach
  void restoreLoggers() {
    release.countDown();
    audit.detachAndStopAllAppenders();
    audit.setAdditive(true);
    audit.setLevel(null);
    warnings.detachAndStopAllAppenders();
    warnings.setAdditive(true);
  }

  @Test
  void linesKeepTheRecordedOrderAndNoneIsLostUnderNormalLoad() {
    LoggingAuditSink sink = new LoggingAuditSink();
    IntStream.rangeClosed(1, 5_000).forEach(port -> sink.record(allowed(port)));
    sink.close();

    assertThat(sink.dropped()).isZero();
    assertThat(messages()).hasSize(5_000)
        .containsExactlyElementsOf(IntStream.rangeClosed(1, 5_000).mapToObj(LoggingAuditSinkTest::allowedLine)
            .toList());
  }

  @Test
  void closeWritesWhatIsStillQueued() throws Exception {
    audit.addAppender(startedStall());
    LoggingAuditSink sink = new LoggingAuditSink();
    sink.record(allowed(1));
    blocked.await();
    IntStream.rangeClosed(2, 100).forEach(port -> sink.record(allowed(port)));
    new Thread(() -> {
      try {
        Thread.sleep(200);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      release.countDown();
    }).start();

    sink.close(Duration.ofSeconds(10));

    assertThat(messages()).hasSize(100).first().isEqualTo(allowedLine(1));
    assertThat(messages()).last().isEqualTo(allowedLine(100));
  }

  @Test
  void aFullQueueDropsAndCountsInsteadOfBlockingTheCaller() throws Exception {
    audit.addAppender(startedStall());
    LoggingAuditSink sink = new LoggingAuditSink(4);
    sink.record(allowed(1));
    blocked.await(); // the worker holds event 1; the queue is empty again

    long start = System.nanoTime();
    IntStream.rangeClosed(2, 11).forEach(port -> sink.record(allowed(port)));
    assertThat(System.nanoTime() - start).isLessThan(TimeUnit.SECONDS.toNanos(1));
    assertThat(sink.dropped()).isEqualTo(6);

    release.countDown();
    sink.close();
    assertThat(messages()).containsExactly(allowedLine(1), allowedLine(2), allowedLine(3), allowedLine(4),
        allowedLine(5));
    assertThat(warned.list).singleElement().extracting(ILoggingEvent::getFormattedMessage)
        .isEqualTo("6 audit log lines dropped: the queue of lines to write was full");
  }

  @Test
  void noLineIsQueuedWhenTheAuditLoggerIsAboveInfo() {
    audit.setLevel(Level.WARN);
    LoggingAuditSink sink = new LoggingAuditSink(1);
    IntStream.rangeClosed(1, 10).forEach(port -> sink.record(allowed(port)));
    sink.close();

    assertThat(sink.dropped()).isZero();
    assertThat(lines.list).isEmpty();
  }

  /** The proxy parses a URL with credentials, a path and a query; only host and port may reach a line. */
  @Test
  void noPathQueryOrCredentialReachesALine() {
    String secret = "s3cret";
    URI url = URI.create("http://alice:" + secret + "@api.example.com:8080/v1/" + secret + "?token=" + secret);
    AccessRequest request = new AccessRequest(new Destination(HostName.parse(url.getHost()), url.getPort()),
        Protocol.HTTP, "POST", true, CLIENT);
    Decision denied = Decision.deny(Reason.DENIED, PolicySource.BASELINE_POLICY,
        Rule.deny("api.example.com", "/home/alice/" + secret + ".toml:3"), "remove " + secret);
    LoggingAuditSink sink = new LoggingAuditSink();

    sink.record(new AuditEvent.PolicyDecision(AT, request, denied));
    sink.record(new AuditEvent.TunnelOpened(AT, request));
    sink.record(new AuditEvent.UpstreamFailed(AT, request, "refused"));
    sink.record(new AuditEvent.TunnelClosed(AT, request, 10, 20, 30));
    sink.close();

    assertThat(messages()).containsExactly(
        "decision=deny reason=denied source=baseline_policy protocol=http host=api.example.com port=8080"
            + " method=POST client=127.0.0.1:5555 rule=\"api.example.com\"",
        "upstream_failure cause=refused protocol=http host=api.example.com port=8080 method=POST"
            + " client=127.0.0.1:5555",
        "tunnel_closed bytes_up=10 bytes_down=20 duration_ms=30 protocol=http host=api.example.com port=8080"
            + " method=POST client=127.0.0.1:5555");
    assertThat(messages()).allSatisfy(line -> assertThat(line)
        .doesNotContain(secret, "alice", "/v1", "token", "?", "@"));
  }

  @Test
  void everyLineOfOneConnectionEndsWithItsId() {
    AccessRequest request = new AccessRequest(Destination.parseAuthority("api.example.com:443"),
        Protocol.HTTPS_CONNECT, "CONNECT", false, CLIENT, 7);
    LoggingAuditSink sink = new LoggingAuditSink();

    sink.record(new AuditEvent.PolicyDecision(AT, request, Decision.allow(Rule.allow("api.example.com", "test"))));
    sink.record(new AuditEvent.UpstreamFailed(AT, request, "connect_refused"));
    sink.record(new AuditEvent.TunnelClosed(AT, request, 1, 2, 3));
    sink.close();

    assertThat(messages()).hasSize(3).allSatisfy(line -> assertThat(line).endsWith(" conn=7"));
    assertThat(messages().get(0)).endsWith(" rule=\"api.example.com\" conn=7");
  }

  private AppenderBase<ILoggingEvent> startedStall() {
    stall.start();
    return stall;
  }

  private List<String> messages() {
    return lines.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
  }

  private static AuditEvent allowed(int port) {
    AccessRequest request = AccessRequest.of(Destination.parseAuthority("example.com:" + port),
        Protocol.HTTPS_CONNECT, "CONNECT", CLIENT);
    return new AuditEvent.PolicyDecision(AT, request, Decision.allow(Rule.allow("example.com", "test")));
  }

  private static String allowedLine(int port) {
    return "decision=allow reason=allow source=baseline_policy protocol=https_connect host=example.com port=" + port
        + " method=CONNECT client=" + CLIENT + " rule=\"example.com\"";
  }
}
