package dev.egressd.policy;

import dev.egressd.policy.internal.RuleIndex;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** A policy's {@link Credential}s, with an index of the hosts each belongs to. */
public final class Credentials {
  /** No credentials. */
  public static final Credentials NONE = new Credentials(List.of());

  private final List<Credential> all;
  private final List<RuleIndex> hosts = new ArrayList<>();

  /** Indexes {@code credentials}. */
  public Credentials(List<Credential> credentials) {
    this.all = List.copyOf(credentials);
    for (Credential credential : all) {
      hosts.add(new RuleIndex(credential.hosts().stream()
          .map(p -> new Rule(p, Rule.Action.ALLOW, credential.origin())).toList()));
    }
  }

  /** Every credential, in order. */
  public List<Credential> all() {
    return all;
  }

  /** True when there are none. */
  public boolean isEmpty() {
    return all.isEmpty();
  }

  /** The credentials that belong to {@code host:port}. */
  public List<Credential> boundTo(HostName host, int port) {
    List<Credential> bound = new ArrayList<>();
    for (int i = 0; i < all.size(); i++) {
      if (hosts.get(i).match(host, port) != null) {
        bound.add(all.get(i));
      }
    }
    return bound;
  }

  /** True when a credential belongs to {@code host:port}: its tunnels are intercepted, so the swap can happen. */
  public boolean covers(HostName host, int port) {
    for (RuleIndex index : hosts) {
      if (index.match(host, port) != null) {
        return true;
      }
    }
    return false;
  }

  /**
   * The first credential not bound to {@code host:port} whose stand-in {@code request} carries (in its path, query
   * or any header value), or null.
   */
  public Credential misusedIn(InnerRequest request, HostName host, int port) {
    if (all.isEmpty()) {
      return null;
    }
    // Worked out once per request, not once per credential.
    String target = request.query() == null ? request.path() : request.path() + "?" + request.query();
    String decodedTarget = decoded(target);
    List<String> headerValues = request.allHeaderValues();
    for (int i = 0; i < all.size(); i++) {
      Credential credential = all.get(i);
      if (hosts.get(i).match(host, port) == null && (target.contains(credential.dummy())
          || decodedTarget.contains(credential.dummy()) || headerValues.stream().anyMatch(credential::carriedBy))) {
        return credential;
      }
    }
    return null;
  }

  private static String decoded(String text) {
    try {
      return URLDecoder.decode(text, StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      return text;
    }
  }
}
