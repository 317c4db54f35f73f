package dev.egressd.policy.internal;

import dev.egressd.policy.CidrBlock;
import dev.egressd.policy.HostName;
import dev.egressd.policy.HostPattern;
import dev.egressd.policy.IpAddress;
import dev.egressd.policy.Rule;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Finds the most specific rule for a host and port in time independent of the number of rules: names go through a
 * trie keyed by labels from the right, IPs through a hash map, CIDR blocks through one hash map per prefix length.
 *
 * <p>Specificity: exact name or IP &gt; longest CIDR &gt; deepest wildcard suffix ({@code **.} at the apex counts
 * as deeper than {@code *.} one level up) &gt; {@code *}. Among equally specific rules, a port-scoped one wins.
 */
public final class RuleIndex {
  private static final class Node {
    final Map<String, Node> children = new HashMap<>(4);
    final List<Rule> exact = new ArrayList<>(1);
    final List<Rule> subdomains = new ArrayList<>(1);
    final List<Rule> apexAndSubdomains = new ArrayList<>(1);
  }

  private final Node root = new Node();
  private final Map<IpAddress, List<Rule>> ips = new HashMap<>();
  // Longest prefix first, so the first hit is the most specific block.
  private final TreeMap<Integer, Map<IpAddress, List<Rule>>> cidrsV4 = new TreeMap<>((a, b) -> b - a);
  private final TreeMap<Integer, Map<IpAddress, List<Rule>>> cidrsV6 = new TreeMap<>((a, b) -> b - a);
  private final List<Rule> any = new ArrayList<>(1);
  private final int size;

  /** Indexes {@code rules}; the caller has already split them by action. */
  public RuleIndex(List<Rule> rules) {
    for (Rule rule : rules) {
      add(rule);
    }
    this.size = rules.size();
  }

  /** Number of indexed rules. */
  public int size() {
    return size;
  }

  /** The most specific rule matching {@code host} on {@code port}, or null. */
  public Rule match(HostName host, int port) {
    if (host.isIpLiteral()) {
      Rule ipRule = matchIp(host.ip().orElseThrow().unmapped(), port);
      if (ipRule != null) {
        return ipRule;
      }
    } else {
      Rule nameRule = matchName(host.value(), port);
      if (nameRule != null) {
        return nameRule;
      }
    }
    return pick(any, port);
  }

  /** The most specific IP or CIDR rule containing {@code address} on {@code port}, or null; ignores name rules. */
  public Rule matchIp(IpAddress address, int port) {
    IpAddress target = address.unmapped();
    Rule exact = pick(ips.get(target), port);
    if (exact != null) {
      return exact;
    }
    for (Map.Entry<Integer, Map<IpAddress, List<Rule>>> byLength
        : (target.isIpv4() ? cidrsV4 : cidrsV6).entrySet()) {
      Rule rule = pick(byLength.getValue().get(target.mask(byLength.getKey())), port);
      if (rule != null) {
        return rule;
      }
    }
    return null;
  }

  private Rule matchName(String name, int port) {
    Node node = root;
    Rule candidate = null;
    int end = name.length();
    while (true) {
      int dot = name.lastIndexOf('.', end - 1);
      node = node.children.get(name.substring(dot + 1, end));
      if (node == null) {
        return candidate;
      }
      boolean last = dot < 0;
      if (last) {
        Rule exact = pick(node.exact, port);
        if (exact != null) {
          return exact;
        }
        Rule apex = pick(node.apexAndSubdomains, port);
        return apex != null ? apex : candidate;
      }
      // *.x and **.x are equally specific for a name below x, so the port decides between them.
      Rule wildcard = pick(node.subdomains, node.apexAndSubdomains, port);
      if (wildcard != null) {
        candidate = wildcard;
      }
      end = dot;
    }
  }

  private static Rule pick(List<Rule> first, List<Rule> second, int port) {
    Rule a = pick(first, port);
    Rule b = pick(second, port);
    if (a == null || b == null) {
      return a != null ? a : b;
    }
    return a.pattern().port() != port && b.pattern().port() == port ? b : a;
  }

  private static Rule pick(List<Rule> rules, int port) {
    if (rules == null) {
      return null;
    }
    Rule anyPort = null;
    for (Rule rule : rules) {
      if (rule.pattern().port() == port) {
        return rule;
      }
      if (rule.pattern().port() == 0 && anyPort == null) {
        anyPort = rule;
      }
    }
    return anyPort;
  }

  private void add(Rule rule) {
    HostPattern p = rule.pattern();
    switch (p.kind()) {
      case ANY -> any.add(rule);
      case IP -> ips.computeIfAbsent(p.host().ip().orElseThrow().unmapped(), k -> new ArrayList<>(1)).add(rule);
      case CIDR -> addCidr(unmapped(p.cidr()), rule);
      case EXACT -> node(p.host().value()).exact.add(rule);
      case SUBDOMAINS -> node(p.host().value()).subdomains.add(rule);
      case APEX_AND_SUBDOMAINS -> node(p.host().value()).apexAndSubdomains.add(rule);
    }
  }

  private void addCidr(CidrBlock block, Rule rule) {
    (block.network().isIpv4() ? cidrsV4 : cidrsV6)
        .computeIfAbsent(block.prefixLength(), k -> new HashMap<>())
        .computeIfAbsent(block.network(), k -> new ArrayList<>(1)).add(rule);
  }

  /**
   * The IPv4 block a block inside {@code ::ffff:0:0/96} stands for. Targets are unmapped before lookup (so that
   * {@code 10.0.0.0/8} matches {@code [::ffff:10.0.0.1]}), and a mapped block would otherwise never match anything.
   */
  private static CidrBlock unmapped(CidrBlock block) {
    IpAddress network = block.network();
    if (network.isIpv4() || block.prefixLength() < 96 || !network.unmapped().isIpv4()) {
      return block;
    }
    return new CidrBlock(network.unmapped(), block.prefixLength() - 96);
  }

  private Node node(String name) {
    Node node = root;
    int end = name.length();
    while (end > 0) {
      int dot = name.lastIndexOf('.', end - 1);
      node = node.children.computeIfAbsent(name.substring(dot + 1, end), k -> new Node());
      end = dot;
    }
    return node;
  }
}
