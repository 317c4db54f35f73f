package dev.egressd.proxy.http;

import dev.egressd.policy.Destination;
import dev.egressd.policy.HostName;
import dev.egressd.policy.InvalidHostException;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.util.List;

/**
 * An absolute-form request target ({@code http://host:port/path?query}) split into the destination and the
 * origin-form target sent upstream.
 *
 * @param destination where to connect
 * @param originForm path and query, at least {@code /}; the fragment is dropped
 */
record RequestTarget(Destination destination, String originForm) {
  /** Thrown for a target the proxy will not forward; the message is sent to the client. */
  static final class BadTargetException extends Exception {
    final String proxyError;
    final HttpResponseStatus status;

    BadTargetException(String proxyError, String message) {
      this(HttpResponseStatus.BAD_REQUEST, proxyError, message);
    }

    BadTargetException(HttpResponseStatus status, String proxyError, String message) {
      super(message);
      this.proxyError = proxyError;
      this.status = status;
    }
  }

  /**
   * Reads a request inside an intercepted tunnel to {@code tunnel}: origin-form ({@code /path}), {@code *} for
   * OPTIONS, or absolute-form naming the tunnel's host. The {@code Host} header must name the tunnel's host too, and
   * its port, if given, the tunnel's port; anything else is {@code 421 Misdirected Request}, so one tunnel can never
   * carry requests for another host.
   */
  static RequestTarget parseInTunnel(HttpRequest request, Destination tunnel) throws BadTargetException {
    String uri = request.uri();
    String originForm = uri;
    if (uri.regionMatches(true, 0, "https://", 0, 8)) {
      int end = 8;
      while (end < uri.length() && "/?#".indexOf(uri.charAt(end)) < 0) {
        end++;
      }
      requireTunnelHost(parseAuthority(uri.substring(8, end), tunnel.port()), tunnel, "request target");
      originForm = originForm(uri.substring(end));
    } else if (!uri.startsWith("/") && !(uri.equals("*") && request.method().name().equals("OPTIONS"))) {
      throw new BadTargetException("invalid-request", "request target must be origin-form (/path) in a tunnel");
    }
    List<String> hosts = request.headers().getAll(HttpHeaderNames.HOST);
    if (hosts.size() > 1) {
      throw new BadTargetException("host-mismatch", "more than one Host header");
    }
    if (hosts.size() == 1) {
      requireTunnelHost(parseAuthority(hosts.get(0), tunnel.port()), tunnel, "Host header");
    }
    return new RequestTarget(tunnel, originForm);
  }

  private static void requireTunnelHost(Destination named, Destination tunnel, String what)
      throws BadTargetException {
    if (!named.equals(tunnel)) {
      throw new BadTargetException(HttpResponseStatus.MISDIRECTED_REQUEST, "host-mismatch",
          "host mismatch: " + what + " names " + named.authority());
    }
  }

  static RequestTarget parseAbsolute(String uri) throws BadTargetException {
    if (uri.startsWith("/")) {
      throw new BadTargetException("origin-form-request",
          "origin-form request: this is a proxy; send absolute-form requests (http://host/path) or CONNECT");
    }
    if (uri.regionMatches(true, 0, "https://", 0, 8)) {
      throw new BadTargetException("unsupported-scheme", "https:// targets must use CONNECT");
    }
    if (!uri.regionMatches(true, 0, "http://", 0, 7)) {
      throw new BadTargetException("unsupported-scheme", "only http:// targets are supported (use CONNECT for TLS)");
    }
    int end = 7;
    while (end < uri.length() && "/?#".indexOf(uri.charAt(end)) < 0) {
      end++;
    }
    String authority = uri.substring(7, end);
    if (authority.indexOf('@') >= 0) {
      throw new BadTargetException("invalid-host", "userinfo in the request target is not allowed");
    }
    Destination destination = parseAuthority(authority, 80);
    return new RequestTarget(destination, originForm(uri.substring(end)));
  }

  /**
   * The origin-form for what follows an absolute target's authority: the fragment dropped and at least {@code /}, so
   * {@code http://host?q} goes upstream as {@code /?q} (RFC 9112 section 3.2.1).
   */
  private static String originForm(String rest) {
    int hash = rest.indexOf('#');
    String pathAndQuery = hash < 0 ? rest : rest.substring(0, hash);
    return pathAndQuery.isEmpty() || pathAndQuery.charAt(0) == '?' ? "/" + pathAndQuery : pathAndQuery;
  }

  /**
   * Checks the headers that must agree with the target: at most one {@code Host}, naming the target's host and port;
   * and no transfer coding other than plain {@code chunked}, so the body length is never ambiguous.
   */
  static void checkHeaders(HttpRequest request, Destination target) throws BadTargetException {
    checkHost(request, target);
    checkFraming(request);
  }

  private static void checkHost(HttpRequest request, Destination target) throws BadTargetException {
    List<String> hosts = request.headers().getAll(HttpHeaderNames.HOST);
    if (hosts.size() > 1) {
      throw new BadTargetException("host-mismatch", "more than one Host header");
    }
    if (hosts.size() == 1) {
      Destination stated;
      try {
        stated = parseAuthority(hosts.get(0), 80);
      } catch (BadTargetException e) {
        throw new BadTargetException("invalid-host", "invalid Host header");
      }
      if (!stated.equals(target)) {
        throw new BadTargetException("host-mismatch", "Host header does not match request target");
      }
    }
  }

  /** Only plain {@code chunked} is accepted as a transfer coding, so the body length is never ambiguous. */
  static void checkFraming(HttpRequest request) throws BadTargetException {
    List<String> codings = request.headers().getAll(HttpHeaderNames.TRANSFER_ENCODING);
    if (!codings.isEmpty() && (codings.size() != 1 || !codings.get(0).trim().equalsIgnoreCase("chunked"))) {
      throw new BadTargetException("malformed-request", "unsupported Transfer-Encoding (only \"chunked\" is accepted)");
    }
  }

  /** Parses {@code host} or {@code host:port} (IPv6 in brackets) with a default port. */
  static Destination parseAuthority(String authority, int defaultPort) throws BadTargetException {
    try {
      int colon = authority.lastIndexOf(':');
      boolean hasPort = colon >= 0 && (!authority.startsWith("[") || authority.lastIndexOf(']') < colon);
      if (hasPort) {
        return Destination.parseAuthority(authority);
      }
      if (!authority.startsWith("[") && authority.indexOf('[') >= 0 || authority.indexOf('\\') >= 0) {
        throw new BadTargetException("invalid-host", "invalid host in request target");
      }
      return new Destination(HostName.parse(authority), defaultPort);
    } catch (InvalidHostException e) {
      throw new BadTargetException("invalid-host", e.getMessage());
    }
  }
}
