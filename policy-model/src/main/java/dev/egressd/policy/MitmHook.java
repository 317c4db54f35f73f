package dev.egressd.policy;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * One {@code [[network.mitm_hooks]]} entry: which requests inside intercepted tunnels to {@code host} it matches,
 * and what it does to their headers. A host with hooks is reachable only through a matching hook.
 *
 * @param host the exact host (no wildcards)
 * @param methods upper-case methods; empty: any method
 * @param pathPrefixes path prefixes or globs; empty: any path
 * @param query parameter name to the values allowed for it; every listed name must be present with a matching value
 * @param headers lower-case header name to the values allowed for it; an empty list only requires the header
 * @param stripHeaders lower-case names of headers removed from a matching request
 * @param injectHeaders headers set on a matching request, after the strip
 * @param origin where the hook was written ({@code egressd.toml:12 network.mitm_hooks[0]})
 */
public record MitmHook(HostName host, List<String> methods, List<TextPattern> pathPrefixes,
    Map<String, List<TextPattern>> query, Map<String, List<TextPattern>> headers, List<String> stripHeaders,
    List<InjectedHeader> injectHeaders, String origin) {
  /**
   * A header a hook sets: {@code name: prefix + secret}.
   *
   * @param name the lower-case header name
   * @param secret the value's secret part
   * @param prefix text before the secret, such as {@code Bearer }; may be empty
   */
  public record InjectedHeader(String name, Secret secret, String prefix) {
    /** Null checks. */
    public InjectedHeader {
      Objects.requireNonNull(name, "name");
      Objects.requireNonNull(secret, "secret");
      Objects.requireNonNull(prefix, "prefix");
    }

    /** The header value to send. */
    public String value() {
      return prefix + secret.reveal();
    }
  }

  /** Null checks and defensive copies; methods and header names are normalised. */
  public MitmHook {
    Objects.requireNonNull(host, "host");
    Objects.requireNonNull(origin, "origin");
    methods = methods.stream().map(m -> m.trim().toUpperCase(Locale.ROOT)).toList();
    pathPrefixes = List.copyOf(pathPrefixes);
    query = copy(query, false);
    headers = copy(headers, true);
    stripHeaders = stripHeaders.stream().map(h -> h.toLowerCase(Locale.ROOT)).toList();
    injectHeaders = List.copyOf(injectHeaders);
  }

  private static Map<String, List<TextPattern>> copy(Map<String, List<TextPattern>> map, boolean lowerCaseKeys) {
    Map<String, List<TextPattern>> copy = new LinkedHashMap<>();
    map.forEach((k, v) -> copy.put(lowerCaseKeys ? k.toLowerCase(Locale.ROOT) : k, List.copyOf(v)));
    return Collections.unmodifiableMap(copy);
  }

  /**
   * Whether {@code request} is one this hook is for. A path that is not in canonical form (dot segments, encoded
   * {@code .}, {@code /} or {@code \}) never matches: an origin that normalises it could serve a path outside the
   * prefix the hook was written for.
   */
  public boolean matches(InnerRequest request) {
    if (!methods.isEmpty() && !methods.contains(request.method())) {
      return false;
    }
    String path = request.path();
    if (!pathPrefixes.isEmpty() && (!canonical(path) || pathPrefixes.stream().noneMatch(p -> p.matchesPrefixOf(path)))) {
      return false;
    }
    if (!query.isEmpty()) {
      Map<String, List<String>> parameters = parameters(request.query());
      if (parameters == null) {
        return false;
      }
      for (Map.Entry<String, List<TextPattern>> wanted : query.entrySet()) {
        List<String> values = parameters.getOrDefault(wanted.getKey(), List.of());
        if (values.stream().noneMatch(v -> wanted.getValue().stream().anyMatch(p -> p.matches(v)))) {
          return false;
        }
      }
    }
    for (Map.Entry<String, List<TextPattern>> wanted : headers.entrySet()) {
      List<String> values = request.headerValues(wanted.getKey());
      if (values.isEmpty()) {
        return false;
      }
      if (!wanted.getValue().isEmpty()
          && values.stream().noneMatch(v -> wanted.getValue().stream().anyMatch(p -> p.matches(v.trim())))) {
        return false;
      }
    }
    return true;
  }

  private static boolean canonical(String path) {
    String lower = path.toLowerCase(Locale.ROOT);
    if (lower.contains("%2e") || lower.contains("%2f") || lower.contains("%5c") || path.contains("\\")) {
      return false;
    }
    for (String segment : path.split("/", -1)) {
      if (segment.equals(".") || segment.equals("..")) {
        return false;
      }
    }
    return true;
  }

  /** The decoded query parameters, or null when the query cannot be decoded (a bad percent escape). */
  private static Map<String, List<String>> parameters(String query) {
    Map<String, List<String>> parameters = new LinkedHashMap<>();
    if (query == null || query.isEmpty()) {
      return parameters;
    }
    try {
      for (String pair : query.split("&")) {
        if (pair.isEmpty()) {
          continue;
        }
        int equals = pair.indexOf('=');
        String name = decode(equals < 0 ? pair : pair.substring(0, equals));
        String value = equals < 0 ? "" : decode(pair.substring(equals + 1));
        parameters.computeIfAbsent(name, n -> new ArrayList<>()).add(value);
      }
    } catch (IllegalArgumentException e) {
      return null;
    }
    return parameters;
  }

  private static String decode(String text) {
    return URLDecoder.decode(text, StandardCharsets.UTF_8);
  }
}
