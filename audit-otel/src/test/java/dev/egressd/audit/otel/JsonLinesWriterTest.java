package dev.egressd.audit.otel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.egressd.policy.Protocol;
import dev.egressd.policy.Reason;
import java.io.IOException;
import java.io.StringWriter;
import java.io.Writer;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** One JSON object per decision and line, with exactly the event's attributes. */
class JsonLinesWriterTest {
  @Test
  void eachDecisionIsOneJsonObjectPerLineWithExactlyTheAttributes() {
    StringWriter out = new StringWriter();
    JsonLinesWriter writer = new JsonLinesWriter(out, "test", true);
    List<Map<String, Object>> events = List.of(
        AuditAttributes.of(Events.allowedGet(80), "e", new AuditMetadata("1.0", "c", "u")),
        AuditAttributes.of(Events.decision("[::1]:9", Protocol.SOCKS5_UDP, null, Events.deny(Reason.DENIED)), "e",
            AuditMetadata.NONE));

    events.forEach(writer::write);
    writer.flush();

    String text = out.toString();
    assertThat(text).endsWith("\n");
    List<String> lines = text.lines().toList();
    assertThat(lines).hasSize(2);
    for (int i = 0; i < lines.size(); i++) {
      assertThat(FlatJson.parseObject(lines.get(i))).containsExactlyEntriesOf(events.get(i));
    }
  }

  @Test
  void numbersAndBooleansAreUnquoted() {
    String line = JsonLinesWriter.line(AuditAttributes.of(Events.allowedGet(8080), "e", AuditMetadata.NONE));

    assertThat(line).startsWith("{\"event.name\":\"e\",")
        .contains("\"server.port\":8080,")
        .endsWith(",\"network.policy.override\":false}");
    assertThat(FlatJson.parseObject(line).get("server.port")).isEqualTo(8080L);
    assertThat(FlatJson.parseObject(line).get("network.policy.override")).isEqualTo(false);
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"quote \" in it", "back\\slash", "new\nline", "tab\tand\rreturn", "nul \u0000 bell \u0007",
      "esc \u001b[31m", "line sep \u2028 para \u2029", "unicode bücher ✓", "{\"json\":1}", "</script>"})
  void stringsAreEscapedAndRoundTrip(String value) {
    Map<String, Object> attributes = new LinkedHashMap<>();
    attributes.put("key \"q\"", value);
    attributes.put("n", 1L);
    attributes.put("b", true);

    String line = JsonLinesWriter.line(attributes);

    assertThat(line).doesNotContain("\n", "\r", "\u2028", "\u2029");
    assertThat(line.chars().noneMatch(c -> c < 0x20)).as("no raw control characters").isTrue();
    assertThat(FlatJson.parseObject(line)).containsExactlyEntriesOf(attributes);
  }

  @Test
  void aMethodThatLooksLikeJsonCannotAddAttributes() {
    String method = "GET\",\"injected\":\"1";
    String line = JsonLinesWriter.line(AuditAttributes.of(Events.decision("a.example:1", Protocol.HTTP, method,
        Events.allow()), "e", AuditMetadata.NONE));

    Map<String, Object> parsed = FlatJson.parseObject(line);
    assertThat(parsed).doesNotContainKey("injected").containsEntry("http.request.method", method);
  }

  @Test
  void theParserRejectsInvalidJson() {
    // The round-trip tests mean something only if the parser is strict.
    for (String bad : List.of("{\"a\":\"x\ny\"}", "{\"a\":1,}", "{\"a\":1} x", "{\"a\":\"\\q\"}", "{a:1}",
        "{\"a\":1,\"a\":2}")) {
      assertThatThrownBy(() -> FlatJson.parseObject(bad)).as(bad).isInstanceOf(IllegalArgumentException.class);
    }
  }

  @Test
  void closeFlushesAndClosesOnlyWhenItOwnsTheStream() {
    RecordingOut owned = new RecordingOut();
    RecordingOut shared = new RecordingOut();
    new JsonLinesWriter(owned, "file", true).close();
    JsonLinesWriter stdout = new JsonLinesWriter(shared, "standard output", false);
    stdout.write(Map.of("a", "b"));

    stdout.close();

    assertThat(owned.flushes.get()).isPositive();
    assertThat(owned.closed).isTrue();
    assertThat(shared.toString()).isEqualTo("{\"a\":\"b\"}\n");
    assertThat(shared.flushes.get()).isPositive();
    assertThat(shared.closed).isFalse();
  }

  @Test
  void writeFailuresAreSwallowed() {
    Writer broken = new Writer() {
      @Override
      public void write(char[] buf, int off, int len) throws IOException {
        throw new IOException("disk full");
      }

      @Override
      public void flush() throws IOException {
        throw new IOException("disk full");
      }

      @Override
      public void close() throws IOException {
        throw new IOException("disk full");
      }
    };
    JsonLinesWriter writer = new JsonLinesWriter(broken, "broken", true);

    assertThatCode(() -> {
      writer.write(Map.of("a", "b"));
      writer.write(Map.of("a", "c"));
      writer.flush();
      writer.close();
    }).doesNotThrowAnyException();
  }

  private static final class RecordingOut extends StringWriter {
    final AtomicInteger flushes = new AtomicInteger();
    volatile boolean closed;

    @Override
    public void flush() {
      flushes.incrementAndGet();
    }

    @Override
    public void close() {
      closed = true;
    }
  }
}
