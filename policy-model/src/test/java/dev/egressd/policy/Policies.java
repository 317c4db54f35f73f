package dev.egressd.policy;

/** Builds test policies from a compact spec: {@code "+*.example.com -evil.test limited local off"}. */
final class Policies {
  static final String SCOPE = "profile \"test\"";

  private Policies() {}

  /**
   * Tokens separated by spaces: {@code +pattern} allows, {@code -pattern} denies, {@code ?pattern} asks,
   * {@code limited} sets limited mode, {@code local} sets allow_local_binding, {@code off} disables the proxy,
   * {@code mitm} sets mitm, {@code askmiss} sets {@code default = "ask"}.
   */
  static NetworkPolicy policy(String spec) {
    NetworkPolicy.Builder builder = NetworkPolicy.builder().scope(SCOPE);
    for (String token : spec.trim().split("\\s+")) {
      if (token.isEmpty()) {
        continue;
      }
      switch (token) {
        case "limited" -> builder.mode(AccessMode.LIMITED);
        case "local" -> builder.allowLocalBinding(true);
        case "off" -> builder.enabled(false);
        case "mitm" -> builder.mitm(true);
        case "askmiss" -> builder.askOnMiss(true);
        default -> {
          if (token.startsWith("+")) {
            builder.addRule(Rule.allow(token.substring(1), "allow-origin"));
          } else if (token.startsWith("?")) {
            builder.addRule(Rule.ask(token.substring(1), "ask-origin"));
          } else if (token.startsWith("-")) {
            builder.addRule(Rule.deny(token.substring(1), "deny-origin"));
          } else {
            throw new IllegalArgumentException("spec token: " + token);
          }
        }
      }
    }
    return builder.build();
  }

  static AccessRequest request(Protocol protocol, String method, String authority) {
    return AccessRequest.of(Destination.parseAuthority(authority), protocol, method, "127.0.0.1:50000");
  }

  static IpAddress ip(String text) {
    return IpAddress.parse(text).orElseThrow();
  }
}
