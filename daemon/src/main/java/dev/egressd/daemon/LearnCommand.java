package dev.egressd.daemon;

import dev.egressd.policy.Destination;
import dev.egressd.policy.HostName;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code egressd learn}: from the audit lines of a report-mode run, the smallest allowlist that would have let
 * through what was seen: exact hosts, with {@code :port} where one port was used, one comment per entry giving when
 * it was first seen and how often. What ran is not what should run: the snippet is for review, not for pasting.
 */
@Command(name = "learn", mixinStandardHelpOptions = true,
    description = "Write the minimal allowlist (TOML) that would have allowed what JSON audit files show, e.g. from a"
        + " run with --report. Exit 0, or 2 when a file cannot be read.")
final class LearnCommand implements Callable<Integer> {
  @Option(names = "--audit", paramLabel = "FILE", required = true, arity = "1..*",
      description = "JSON audit files ([audit] file, run --audit-file).")
  List<Path> audit = new ArrayList<>();

  @Option(names = "--profile", paramLabel = "NAME",
      description = "Write the snippet as [permissions.NAME.network] instead of [network].")
  String profile;

  @Option(names = "--since", paramLabel = "WINDOW", description = "Only decisions in this window: 90d, 12h or a date.")
  String since;

  PrintStream out = System.out;
  PrintStream err = System.err;

  /** What one host needed. */
  private static final class Use {
    final TreeSet<Integer> ports = new TreeSet<>();
    Instant first;
    long count;
  }

  @Override
  public Integer call() {
    List<AuditRecords.Seen> seen;
    try {
      seen = AuditRecords.read(audit, since == null ? null : AuditRecords.since(since, Instant.now()));
    } catch (AuditRecords.AuditFileException | IllegalArgumentException e) {
      err.println("egressd learn: " + e.getMessage());
      return Main.CONFIG_ERROR;
    }
    Map<String, Use> hosts = new TreeMap<>();
    Map<String, Use> denied = new TreeMap<>();
    for (AuditRecords.Seen decision : seen) {
      if (!decision.allowed()) {
        continue; // refused and not let through (a local address, say): nothing to learn, nothing ran
      }
      // A deny rule is a decision someone wrote down: report mode let it through, learn never turns it into an allow.
      boolean deniedByRule = decision.wouldDeny() && decision.reason().equals("denied");
      Use use = (deniedByRule ? denied : hosts).computeIfAbsent(decision.host(), h -> new Use());
      use.ports.add(decision.port());
      use.count++;
      if (use.first == null || decision.time().isBefore(use.first)) {
        use.first = decision.time();
      }
    }
    out.println("# egressd learn: " + hosts.size() + (hosts.size() == 1 ? " host" : " hosts") + " from " + seen.size()
        + " decisions in " + String.join(", ", audit.stream().map(Path::toString).toList()));
    out.println("# What ran, not what should: review every entry before enforcing it.");
    out.println(profile == null ? "[network]" : "[permissions." + tomlKey(profile) + ".network]");
    if (hosts.isEmpty()) {
      out.println("allowed_domains = []");
      err.println("egressd learn: no allowed traffic in the audit files");
    } else {
      out.println("allowed_domains = [");
      hosts.forEach((host, use) -> {
        String pattern = use.ports.size() == 1
            ? new Destination(HostName.parse(host), use.ports.first()).authority() : host;
        out.println("  \"" + pattern + "\", # first seen " + use.first + ", " + use.count
            + (use.count == 1 ? " request" : " requests") + (use.ports.size() > 1 ? ", ports " + use.ports : ""));
      });
      out.println("]");
    }
    denied.forEach((host, use) -> out.println("# not learned: " + host + " (" + use.count
        + (use.count == 1 ? " request" : " requests") + ", first seen " + use.first + ") is refused by a deny rule"));
    return 0;
  }

  /** A profile name as a TOML key: bare when it can be, quoted otherwise. */
  private static String tomlKey(String name) {
    return name.matches("[A-Za-z0-9_-]+") ? name : "\"" + name.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
  }
}
