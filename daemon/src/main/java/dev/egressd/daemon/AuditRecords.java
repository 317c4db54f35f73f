package dev.egressd.daemon;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The decisions in JSON audit files ({@code [audit] file}, {@code run --audit-file}): one flat object per line, as
 * {@code JsonLinesWriter} writes them. {@code review} and {@code learn} read them; a line that is not such an object
 * is an error naming the file and line, never skipped.
 */
final class AuditRecords {
  private static final JsonFactory JSON = new JsonFactory();
  private static final Pattern SINCE = Pattern.compile("(\\d{1,6})([dhm])");

  /**
   * One audited decision.
   *
   * @param time when it was made
   * @param decision {@code allow}, {@code deny} or {@code ask}
   * @param reason the reason (for a report-mode allow, why it would have been refused)
   * @param wouldDeny report mode let it through
   * @param protocol the protocol label
   * @param host the destination host
   * @param port the destination port
   * @param method the method, or {@code none}
   */
  record Seen(Instant time, String decision, String reason, boolean wouldDeny, String protocol, String host, int port,
      String method) {
    /** Let through: an allow, report mode's included. */
    boolean allowed() {
      return decision.equals("allow");
    }

    /** Refused, or would have been. */
    boolean refused() {
      return !allowed() || wouldDeny;
    }
  }

  /** An audit file that cannot be read as egressd wrote it. */
  static final class AuditFileException extends Exception {
    AuditFileException(String message) {
      super(message);
    }
  }

  private AuditRecords() {}

  /** Every decision in {@code files} made at or after {@code since} (null for all), in file order. */
  static List<Seen> read(List<Path> files, Instant since) throws AuditFileException {
    List<Seen> seen = new ArrayList<>();
    for (Path file : files) {
      try (BufferedReader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
        String line;
        int number = 0;
        while ((line = reader.readLine()) != null) {
          number++;
          if (line.isBlank()) {
            continue;
          }
          Seen decision = parse(line, file + ":" + number);
          if (decision != null && (since == null || !decision.time().isBefore(since))) {
            seen.add(decision);
          }
        }
      } catch (IOException e) {
        throw new AuditFileException(file + ": cannot read the audit file (" + e.getMessage() + ")");
      }
    }
    return seen;
  }

  /** One line; null when it is an object but not a decision (another event kind). */
  static Seen parse(String line, String where) throws AuditFileException {
    Map<String, Object> fields = new LinkedHashMap<>();
    try (JsonParser json = JSON.createParser(line)) {
      if (json.nextToken() != JsonToken.START_OBJECT) {
        throw new AuditFileException(where + ": not a JSON object (is this an egressd JSON audit file?)");
      }
      JsonToken token;
      while ((token = json.nextToken()) == JsonToken.FIELD_NAME) {
        String name = json.currentName();
        JsonToken value = json.nextToken();
        fields.put(name, switch (value) {
          case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> json.getNumberValue();
          case VALUE_TRUE -> Boolean.TRUE;
          case VALUE_FALSE -> Boolean.FALSE;
          case VALUE_STRING -> json.getText();
          case VALUE_NULL -> null;
          default -> throw new AuditFileException(where + ": \"" + name + "\" is not a plain value");
        });
      }
      if (token != JsonToken.END_OBJECT || json.nextToken() != null) {
        throw new AuditFileException(where + ": not one JSON object per line");
      }
    } catch (JsonProcessingException e) {
      throw new AuditFileException(where + ": malformed JSON (" + e.getOriginalMessage() + ")");
    } catch (IOException e) {
      throw new AuditFileException(where + ": " + e.getMessage());
    }
    if (!(fields.get("network.policy.decision") instanceof String decision)) {
      return null;
    }
    try {
      return new Seen(Instant.parse(string(fields, "event.timestamp", where)), decision,
          string(fields, "network.policy.reason", where), Boolean.TRUE.equals(fields.get("egressd.would_deny")),
          string(fields, "network.transport.protocol", where), host(fields, where),
          number(fields, "server.port", where), String.valueOf(fields.getOrDefault("http.request.method", "none")));
    } catch (DateTimeParseException e) {
      throw new AuditFileException(where + ": event.timestamp is not a timestamp");
    }
  }

  /** A host as egressd audits it (canonical), so learn and review can write it back as a rule. */
  private static String host(Map<String, Object> fields, String where) throws AuditFileException {
    String host = string(fields, "server.address", where);
    try {
      return dev.egressd.policy.HostName.parse(host).value();
    } catch (IllegalArgumentException e) {
      throw new AuditFileException(where + ": server.address is not a host (" + e.getMessage() + ")");
    }
  }

  private static String string(Map<String, Object> fields, String key, String where) throws AuditFileException {
    if (fields.get(key) instanceof String value) {
      return value;
    }
    throw new AuditFileException(where + ": a decision without " + key);
  }

  private static int number(Map<String, Object> fields, String key, String where) throws AuditFileException {
    if (fields.get(key) instanceof Number value) {
      return value.intValue();
    }
    throw new AuditFileException(where + ": a decision without " + key);
  }

  /**
   * The start of a {@code --since} window: {@code 90d}, {@code 12h}, {@code 30m} before {@code now}, or a date
   * ({@code 2026-09-01}, UTC midnight).
   *
   * @throws IllegalArgumentException saying what is accepted
   */
  static Instant since(String text, Instant now) {
    Matcher relative = SINCE.matcher(text.trim());
    if (relative.matches()) {
      long amount = Long.parseLong(relative.group(1));
      Duration window = switch (relative.group(2)) {
        case "d" -> Duration.ofDays(amount);
        case "h" -> Duration.ofHours(amount);
        default -> Duration.ofMinutes(amount);
      };
      return now.minus(window);
    }
    try {
      return LocalDate.parse(text.trim()).atStartOfDay(ZoneOffset.UTC).toInstant();
    } catch (DateTimeParseException e) {
      throw new IllegalArgumentException("--since: \"" + text + "\" (expected e.g. 90d, 12h, 30m or 2026-09-01)");
    }
  }
}
