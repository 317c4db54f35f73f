package dev.egressd.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Reading JSON audit files for learn and review: decisions only, canonical hosts, and errors naming file:line. */
class AuditRecordsTest {
  private static final String ALLOW = "{\"event.name\":\"codex.network_proxy.policy_decision\","
      + "\"event.timestamp\":\"2026-12-01T10:00:00.000Z\",\"network.policy.decision\":\"allow\","
      + "\"network.policy.reason\":\"allow\",\"network.transport.protocol\":\"http\",\"server.address\":\"Api.Example.COM\","
      + "\"server.port\":443,\"http.request.method\":\"GET\",\"network.policy.override\":false}";
  private static final String WOULD_DENY = "{\"event.timestamp\":\"2026-12-02T10:00:00.000Z\","
      + "\"network.policy.decision\":\"allow\",\"network.policy.reason\":\"not_allowed\",\"egressd.would_deny\":true,"
      + "\"network.transport.protocol\":\"https_connect\",\"server.address\":\"::1\",\"server.port\":8443}";

  @TempDir
  Path dir;

  private Path file(String... lines) throws Exception {
    return Files.writeString(dir.resolve("audit.jsonl"), String.join("\n", lines) + "\n");
  }

  @Test
  void decisionsAreReadWithCanonicalHostsAndOtherEventsAndBlankLinesSkipped() throws Exception {
    Path audit = file(ALLOW, "", "{\"event.name\":\"something.else\",\"x\":1}", WOULD_DENY);

    List<AuditRecords.Seen> seen = AuditRecords.read(List.of(audit), null);

    assertThat(seen).hasSize(2);
    assertThat(seen.get(0)).isEqualTo(new AuditRecords.Seen(Instant.parse("2026-12-01T10:00:00Z"), "allow", "allow",
        false, "http", "api.example.com", 443, "GET"));
    assertThat(seen.get(0).allowed()).isTrue();
    assertThat(seen.get(0).refused()).isFalse();
    assertThat(seen.get(1).host()).isEqualTo("::1");
    assertThat(seen.get(1).method()).isEqualTo("none");
    assertThat(seen.get(1).allowed()).as("let through").isTrue();
    assertThat(seen.get(1).refused()).as("but would have been refused").isTrue();
  }

  @Test
  void sinceDropsOlderDecisions() throws Exception {
    Path audit = file(ALLOW, WOULD_DENY);

    assertThat(AuditRecords.read(List.of(audit), Instant.parse("2026-12-02T00:00:00Z")))
        .extracting(AuditRecords.Seen::reason).containsExactly("not_allowed");
  }

  @Test
  void sinceAcceptsDaysHoursMinutesAndDates() {
    Instant now = Instant.parse("2026-12-07T12:00:00Z");

    assertThat(AuditRecords.since("90d", now)).isEqualTo(Instant.parse("2026-09-08T12:00:00Z"));
    assertThat(AuditRecords.since("12h", now)).isEqualTo(Instant.parse("2026-12-07T00:00:00Z"));
    assertThat(AuditRecords.since("30m", now)).isEqualTo(Instant.parse("2026-12-07T11:30:00Z"));
    assertThat(AuditRecords.since("2026-09-01", now)).isEqualTo(Instant.parse("2026-09-01T00:00:00Z"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "90", "d", "-5d", "3w", "99999999999d", "2026-13-01"})
  void badSinceSaysWhatIsAccepted(String text) {
    assertThatThrownBy(() -> AuditRecords.since(text, Instant.now())).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("expected e.g. 90d, 12h, 30m or 2026-09-01");
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "not json at all|malformed JSON",
      "[1,2]|not a JSON object",
      "{\"network.policy.decision\":\"allow\"} {}|not one JSON object per line",
      "{\"network.policy.decision\":\"allow\",\"a\":{\"b\":1}}|\"a\" is not a plain value",
      "{\"network.policy.decision\":\"allow\",\"network.policy.reason\":\"allow\"}|a decision without event.timestamp",
      "{\"event.timestamp\":\"yesterday\",\"network.policy.decision\":\"allow\"}|event.timestamp is not a timestamp"})
  void aLineEgressdDidNotWriteIsAnErrorNamingFileAndLine(String lineAndMessage) throws Exception {
    String[] parts = lineAndMessage.split("\\|");
    Path audit = file(ALLOW, parts[0]);

    assertThatThrownBy(() -> AuditRecords.read(List.of(audit), null))
        .isInstanceOf(AuditRecords.AuditFileException.class)
        .hasMessageStartingWith(audit + ":2: ").hasMessageContaining(parts[1]);
  }

  @Test
  void aServerAddressThatIsNotAHostIsAnError() throws Exception {
    Path audit = file(ALLOW.replace("Api.Example.COM", "bad host!"));

    assertThatThrownBy(() -> AuditRecords.read(List.of(audit), null))
        .isInstanceOf(AuditRecords.AuditFileException.class)
        .hasMessageStartingWith(audit + ":1: server.address is not a host");
  }

  @Test
  void aMissingFileIsAnErrorNamingIt() {
    Path absent = dir.resolve("absent.jsonl");

    assertThatThrownBy(() -> AuditRecords.read(List.of(absent), null))
        .isInstanceOf(AuditRecords.AuditFileException.class).hasMessageStartingWith(absent + ": cannot read");
  }
}
