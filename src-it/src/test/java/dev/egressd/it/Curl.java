package dev.egressd.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/** Runs the system curl with the options a test gives (e.g. {@code -x PROXY URL}), ignoring any ~/.curlrc. */
final class Curl {
  private Curl() {}

  /**
   * Runs {@code curl -q -sS --max-time 30 ARGS} and returns how it ended. Without {@code -o}, the body goes to
   * stdout.
   */
  static ProcessResult run(String... args) {
    List<String> command = new ArrayList<>(List.of("curl", "-q", "-sS", "--max-time", "30"));
    command.addAll(Arrays.asList(args));
    return Processes.run(command, Map.of(), null, Duration.ofSeconds(60));
  }

  /**
   * Runs one curl transfer with {@code ARGS} and returns the final response as curl received it (CONNECT response
   * headers suppressed) plus curl's exit status and stderr.
   */
  static Result fetch(String... args) {
    Path dir;
    try {
      dir = Files.createTempDirectory("egressd-it-curl");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    try {
      Path headers = dir.resolve("headers");
      Path body = dir.resolve("body");
      List<String> all = new ArrayList<>(List.of("--suppress-connect-headers", "-D", headers.toString(),
          "-o", body.toString()));
      all.addAll(Arrays.asList(args));
      ProcessResult result = run(all.toArray(String[]::new));
      HttpReply reply = null;
      if (Files.exists(headers) && Files.size(headers) > 0) {
        reply = lastResponse(Files.readAllLines(headers, java.nio.charset.StandardCharsets.ISO_8859_1),
            Files.exists(body) ? Files.readAllBytes(body) : new byte[0]);
      }
      return new Result(result.exitCode(), reply, result.stdout(), result.stderr());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } finally {
      try (var paths = Files.walk(dir)) {
        paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      } catch (IOException e) {
        // best effort
      }
    }
  }

  private static HttpReply lastResponse(List<String> lines, byte[] body) {
    List<List<String>> blocks = new ArrayList<>();
    List<String> current = new ArrayList<>();
    for (String line : lines) {
      if (line.isEmpty()) {
        if (!current.isEmpty()) {
          blocks.add(current);
          current = new ArrayList<>();
        }
      } else {
        current.add(line);
      }
    }
    if (!current.isEmpty()) {
      blocks.add(current);
    }
    List<String> last = blocks.get(blocks.size() - 1);
    return new HttpReply(last.get(0), HttpReply.statusOf(last.get(0)), Headers.parse(last.subList(1, last.size())),
        body);
  }

  /**
   * One curl transfer.
   *
   * @param exitCode curl's exit status
   * @param reply the final response, or null when curl got none
   * @param stdout what curl printed (e.g. {@code -w} output)
   * @param stderr curl's messages ({@code -v} output included)
   */
  record Result(int exitCode, HttpReply reply, String stdout, String stderr) {
    @Override
    public String toString() {
      return "curl exit " + exitCode + "\n" + reply + "\n--- stderr ---\n" + stderr;
    }
  }
}
