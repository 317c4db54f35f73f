package dev.egressd.daemon;

import dev.egressd.policy.HostName;
import dev.egressd.proxy.decider.Approvals;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code run --approvals FILE}: the standing answers ({@code --scope host} or {@code host:port}) kept across
 * restarts. One line per answer, {@code allow|deny HOST PORT|* UNTIL|- WHO}, e.g.
 * {@code allow pkg.example * 2026-12-07T18:00:00Z cli}. Written 0600 and atomically (a temporary file renamed over
 * it) after every new standing answer.
 */
final class ApprovalsFile {
  private static final Logger log = LoggerFactory.getLogger(ApprovalsFile.class);

  private final Path file;

  ApprovalsFile(Path file) {
    this.file = file.toAbsolutePath();
  }

  /** A bad line stops the start: an approvals file egressd half-understood would be a policy it half-enforces. */
  static final class BadFileException extends Exception {
    private static final long serialVersionUID = 1L;

    BadFileException(String message) {
      super(message);
    }
  }

  /** The answers in the file; none when it does not exist yet. */
  List<Approvals.Standing> load() throws IOException, BadFileException {
    List<String> lines;
    try {
      lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      return List.of();
    }
    List<Approvals.Standing> answers = new ArrayList<>();
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i).strip();
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      try {
        answers.add(parse(line));
      } catch (RuntimeException e) {
        throw new BadFileException(file + ":" + (i + 1) + ": expected \"allow|deny HOST PORT|* UNTIL|- WHO\", found \""
            + line + "\" (" + e.getMessage() + ")");
      }
    }
    return answers;
  }

  private static Approvals.Standing parse(String line) {
    String[] f = line.split("\\s+");
    if (f.length != 5 || !(f[0].equals("allow") || f[0].equals("deny"))) {
      throw new IllegalArgumentException("five fields, the first allow or deny");
    }
    String host = HostName.parse(f[1]).value();
    int port = f[2].equals("*") ? -1 : Integer.parseInt(f[2]);
    Instant until = f[3].equals("-") ? null : Instant.parse(f[3]);
    return new Approvals.Standing(host, port, new Approvals.Answer(f[0].equals("allow"), f[4]), until);
  }

  /** Rewrites the file with {@code answers}; a failure is logged, and the answers still hold in memory. */
  void save(List<Approvals.Standing> answers) {
    StringBuilder text = new StringBuilder("# egressd standing approvals: allow|deny HOST PORT|* UNTIL|- WHO\n");
    for (Approvals.Standing a : answers) {
      text.append(a.answer().approved() ? "allow" : "deny").append(' ').append(a.host()).append(' ')
          .append(a.port() == -1 ? "*" : String.valueOf(a.port())).append(' ')
          .append(a.until() == null ? "-" : a.until().toString()).append(' ').append(a.answer().who()).append('\n');
    }
    try {
      Files.createDirectories(file.getParent());
      PrivateFiles.writeAtomically(file, text.toString());
    } catch (IOException e) {
      log.warn("cannot write the approvals file {} ({}); the answers hold until egressd stops", file, e.toString());
    }
  }
}
