package dev.egressd.it;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@code run --log-format json}: every stderr line is one JSON object with {@code level} and {@code message}, the
 * OTel SDK's own complaints included; the default text lines are unchanged.
 */
@Timeout(value = 60, unit = SECONDS)
class LogFormatIT {
  private static final String NETWORK = """
      [network]
      allowed_domains = ["allowed.test", "127.0.0.1"]
      denied_domains = ["denied.test"]
      """;
  private static final String TEXT_DECISION = "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z INFO  audit - "
      + "decision=deny reason=denied source=baseline_policy protocol=http host=denied\\.test port=%d method=GET "
      + "client=%s rule=\"denied\\.test\" conn=\\d+";

  @RegisterExtension
  static final OriginServer http = OriginServer.http();

  // A collector that refuses every connection, without retries, so the SDK reports a failed export within ~1 s.
  @RegisterExtension
  static final Daemon json = Daemon.withConfig(NETWORK + """

      [otel]
      exporter = { otlp-http = { endpoint = "http://127.0.0.1:%d/v1/logs" } }
      """.formatted(closedPort()))
      .withArgs("--log-format", "json")
      .withEnvironment("OTEL_JAVA_EXPORTER_OTLP_RETRY_DISABLED", "true");

  @RegisterExtension
  static final Daemon text = Daemon.withConfig(NETWORK);

  @Test
  void jsonDecisionLineCarriesTheDecision() throws Exception {
    AuditedRequest denied = AuditedRequest.get(json, http.authority("denied.test"), "/json");

    // The only decision of this test, found by logger name alone so that a line missing its details still shows.
    Map<String, Object> line = Json.object(json.awaitStderr("\"loggerName\":\"egressd.audit\""));
    assertThat(line).containsEntry("level", "INFO").containsEntry("loggerName", "egressd.audit")
        .containsKey("message");
    assertThat(readable(line)).matches(Pattern.quote("decision=deny reason=denied source=baseline_policy protocol=http"
        + " host=denied.test port=" + http.port() + " method=GET client=" + denied.client() + " rule=\"denied.test\"")
        + " conn=\\d+");
  }

  @Test
  void everyJsonStderrLineIsAnObjectEvenWhenTheSdkReportsAFailedExport() throws Exception {
    AuditedRequest.get(json, http.authority("denied.test"), "/export");
    json.awaitStderr("\"loggerName\":\"egressd.audit\"");

    json.awaitStderr("Failed to export");
    assertThat(json.stderr().lines()).isNotEmpty().allSatisfy(l -> {
      assertThat(isJsonObject(l)).as("stderr line is a JSON object: %s\n--- stderr ---\n%s", l, json.stderr())
          .isTrue();
      assertThat(Json.object(l)).containsKeys("level", "message");
    });
  }

  @Test
  void textFormatIsUnchanged() throws Exception {
    AuditedRequest denied = AuditedRequest.get(text, http.authority("denied.test"), "/text");

    assertThat(text.awaitStderr("decision=deny", denied.client()))
        .matches(TEXT_DECISION.formatted(http.port(), denied.client()));
    assertThat(text.stderr().lines()).noneMatch(l -> l.startsWith("{"));
  }

  /** The message as people read it: logback's formatted message when the encoder writes one, else the message. */
  private static String readable(Map<String, Object> line) {
    Object formatted = line.get("formattedMessage");
    return (String) (formatted != null ? formatted : line.get("message"));
  }

  private static boolean isJsonObject(String line) {
    try {
      Json.object(line);
      return true;
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  private static int closedPort() {
    try {
      return TestData.closedPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
