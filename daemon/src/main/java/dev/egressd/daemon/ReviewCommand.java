package dev.egressd.daemon;

import dev.egressd.audit.JsonText;
import dev.egressd.config.ConfigException;
import dev.egressd.config.ConfigLoader;
import dev.egressd.config.DaemonConfig;
import dev.egressd.policy.AccessRequest;
import dev.egressd.policy.Destination;
import dev.egressd.policy.HostName;
import dev.egressd.policy.HostPattern;
import dev.egressd.policy.PolicyEngine;
import dev.egressd.policy.Protocol;
import dev.egressd.policy.Rule;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code egressd review}: keeps an allowlist honest. Each audited destination is decided again against the config's
 * rules as they are now, so the report says which rule each request used even for lines written before an edit:
 * rules nobody used in the window, rules past {@code review_by}, broad rules that only one or two names needed, and
 * the destinations refused most often (what tasks failed on).
 */
@Command(name = "review", mixinStandardHelpOptions = true,
    description = "Report unused rules, rules past review_by, broad rules used by one or two names, and the most"
        + " refused destinations, from a config and JSON audit files. Exit 0, or 2 for a bad config or audit file.")
final class ReviewCommand implements Callable<Integer> {
  private static final int TOP_REFUSED = 20;

  @Option(names = "--config", paramLabel = "FILE", required = true, description = "The config file to review.")
  Path config;

  @Option(names = "--profile", paramLabel = "NAME", description = "Review this profile.")
  String profile;

  @Option(names = "--audit", paramLabel = "FILE", arity = "1..*", description = "JSON audit files.")
  List<Path> audit = new ArrayList<>();

  @Option(names = "--since", paramLabel = "WINDOW", defaultValue = "90d",
      description = "The window: 90d (default), 12h, 30m or a date such as 2026-09-01.")
  String since;

  @Option(names = "--json", description = "JSON, for CI.")
  boolean json;

  @Option(names = "--markdown", description = "Markdown, for a pull-request comment.")
  boolean markdown;

  PrintStream out = System.out;
  PrintStream err = System.err;

  /** What one rule did in the window. */
  private static final class Usage {
    final Rule rule;
    long hits;
    final TreeMap<String, Long> names = new TreeMap<>();

    Usage(Rule rule) {
      this.rule = rule;
    }
  }

  @Override
  public Integer call() {
    DaemonConfig loaded;
    List<AuditRecords.Seen> seen;
    Instant from;
    try {
      loaded = ConfigLoader.load(config, profile);
      from = AuditRecords.since(since, Instant.now());
      seen = AuditRecords.read(audit, from);
    } catch (ConfigException e) {
      err.println(e.getMessage());
      return Main.CONFIG_ERROR;
    } catch (AuditRecords.AuditFileException | IllegalArgumentException e) {
      err.println("egressd review: " + e.getMessage());
      return Main.CONFIG_ERROR;
    }
    PolicyEngine engine = new PolicyEngine(loaded.policy(), true);
    Map<Rule, Usage> usage = new LinkedHashMap<>();
    loaded.policy().rules().forEach(rule -> usage.put(rule, new Usage(rule)));
    Map<String, Long> refused = new TreeMap<>();
    for (AuditRecords.Seen decision : seen) {
      Rule rule = ruleFor(engine, decision);
      Usage used = rule == null ? null : usage.get(rule);
      if (used != null) {
        used.hits++;
        used.names.merge(decision.host(), 1L, Long::sum);
      }
      if (decision.refused()) {
        refused.merge(authority(decision.host(), decision.port()) + " (" + decision.reason() + ")", 1L, Long::sum);
      }
    }
    LocalDate today = LocalDate.now(ZoneOffset.UTC);
    List<Usage> unused = usage.values().stream().filter(u -> u.hits == 0).toList();
    List<Usage> overdue = usage.values().stream().filter(u -> u.rule.metadata().reviewBy() != null
        && u.rule.metadata().reviewBy().isBefore(today)).toList();
    List<Usage> narrowable = usage.values().stream().filter(u -> u.rule.action() != Rule.Action.DENY
        && wildcard(u.rule) && u.hits > 0 && u.names.size() <= 2).toList();
    List<Map.Entry<String, Long>> top = refused.entrySet().stream()
        .sorted(Map.Entry.<String, Long>comparingByValue().reversed().thenComparing(Map.Entry.comparingByKey()))
        .limit(TOP_REFUSED).toList();
    String window = "since " + from + " (" + since + "), " + seen.size() + " decisions in " + audit.size()
        + (audit.size() == 1 ? " file" : " files");
    if (json) {
      printJson(loaded, window, usage.values(), unused, overdue, narrowable, top);
    } else {
      printText(loaded, window, usage.values(), unused, overdue, narrowable, top, markdown);
    }
    return 0;
  }

  /** The rule the config's policy would decide {@code decision} with now, or null. */
  private static Rule ruleFor(PolicyEngine engine, AuditRecords.Seen decision) {
    try {
      Protocol protocol = Protocol.valueOf(decision.protocol().toUpperCase(java.util.Locale.ROOT));
      String method = decision.method().equals("none") ? null : decision.method();
      AccessRequest request = AccessRequest.of(new Destination(HostName.parse(decision.host()), decision.port()),
          protocol, method, "review");
      return engine.decide(request).rule().orElse(null);
    } catch (IllegalArgumentException e) {
      return null; // a line from a newer egressd (an unknown protocol): it counts for no rule
    }
  }

  /** {@code *}, {@code *.x} or {@code **.x}: a rule that covers names nobody listed. */
  private static boolean wildcard(Rule rule) {
    HostPattern.Kind kind = rule.pattern().kind();
    return kind == HostPattern.Kind.ANY || kind == HostPattern.Kind.SUBDOMAINS
        || kind == HostPattern.Kind.APEX_AND_SUBDOMAINS;
  }

  private static String authority(String host, int port) {
    return new Destination(HostName.parse(host), port).authority();
  }

  private static String describe(Rule rule) {
    return rule.action().name().toLowerCase(java.util.Locale.ROOT) + " \"" + rule.pattern().text() + "\" ("
        + rule.origin() + ")";
  }

  private void printText(DaemonConfig loaded, String window, java.util.Collection<Usage> all, List<Usage> unused,
      List<Usage> overdue, List<Usage> narrowable, List<Map.Entry<String, Long>> top, boolean md) {
    String h = md ? "### " : "";
    String bullet = md ? "- " : "  ";
    out.println((md ? "## " : "") + "egressd review of " + loaded.policy().scope() + ", " + window);
    out.println();
    out.println(h + "Rules never used (" + unused.size() + ")");
    unused.forEach(u -> out.println(bullet + describe(u.rule) + ": remove it, or say why it stays"));
    out.println();
    out.println(h + "Rules past review_by (" + overdue.size() + ")");
    overdue.forEach(u -> out.println(bullet + describe(u.rule) + ": due " + u.rule.metadata().reviewBy()
        + (u.rule.metadata().owner() == null ? "" : ", owner " + u.rule.metadata().owner())));
    out.println();
    out.println(h + "Broad rules one or two names needed (" + narrowable.size() + ")");
    narrowable.forEach(u -> out.println(bullet + describe(u.rule) + ": " + u.hits + (u.hits == 1 ? " request" : " requests") + ", all to "
        + String.join(" and ", u.names.keySet()) + "; narrow it to " + u.names.keySet().stream()
            .map(n -> "\"" + n + "\"").collect(Collectors.joining(", "))));
    out.println();
    out.println(h + "Most refused destinations (" + top.size() + ")");
    top.forEach(e -> out.println(bullet + e.getKey() + ": " + e.getValue()));
    out.println();
    out.println(h + "Use per rule");
    all.stream().sorted(Comparator.comparingLong((Usage u) -> u.hits).reversed())
        .forEach(u -> out.println(bullet + describe(u.rule) + ": " + u.hits + (u.hits == 1 ? " request" : " requests")
            + ", " + u.names.size() + (u.names.size() == 1 ? " name" : " names")));
  }

  private void printJson(DaemonConfig loaded, String window, java.util.Collection<Usage> all, List<Usage> unused,
      List<Usage> overdue, List<Usage> narrowable, List<Map.Entry<String, Long>> top) {
    StringBuilder s = new StringBuilder("{\"scope\":").append(JsonText.quote(loaded.policy().scope()))
        .append(",\"window\":").append(JsonText.quote(window));
    s.append(",\"unused\":").append(rules(unused)).append(",\"past_review\":").append(rules(overdue));
    s.append(",\"narrowable\":[");
    s.append(narrowable.stream().map(u -> rule(u) + ",\"names\":[" + u.names.keySet().stream().map(JsonText::quote)
        .collect(Collectors.joining(",")) + "]}").collect(Collectors.joining(",")));
    s.append("],\"refused\":[").append(top.stream().map(e -> "{\"destination\":" + JsonText.quote(e.getKey())
        + ",\"count\":" + e.getValue() + "}").collect(Collectors.joining(",")));
    s.append("],\"rules\":[").append(all.stream().map(u -> rule(u) + ",\"names\":" + u.names.size() + "}")
        .collect(Collectors.joining(","))).append("]}");
    out.println(s);
  }

  private static String rules(List<Usage> list) {
    return "[" + list.stream().map(u -> rule(u) + "}").collect(Collectors.joining(",")) + "]";
  }

  /** A rule's object, left open for more fields. */
  private static String rule(Usage u) {
    return "{\"rule\":" + JsonText.quote(u.rule.pattern().text()) + ",\"action\":\""
        + u.rule.action().name().toLowerCase(java.util.Locale.ROOT) + "\",\"origin\":" + JsonText.quote(u.rule.origin())
        + ",\"hits\":" + u.hits + (u.rule.metadata().reviewBy() == null ? ""
        : ",\"review_by\":\"" + u.rule.metadata().reviewBy() + "\"")
        + (u.rule.metadata().owner() == null ? "" : ",\"owner\":" + JsonText.quote(u.rule.metadata().owner()));
  }
}
