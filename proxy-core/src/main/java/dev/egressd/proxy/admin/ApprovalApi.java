package dev.egressd.proxy.admin;

import dev.egressd.audit.JsonText;
import dev.egressd.policy.AccessRequest;
import dev.egressd.proxy.admin.AdminListener.ApprovalControl;
import dev.egressd.proxy.decider.Approvals;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * {@code /approvals} on the admin listener, for {@code egressd pending}, {@code approve} and {@code deny}:
 * <ul>
 *   <li>{@code GET /approvals}: the waiting requests, a JSON array;</li>
 *   <li>{@code POST /approvals/ID/approve?scope=once|host|host:port&for=SECONDS&by=WHO};</li>
 *   <li>{@code POST /approvals/ID/deny?scope=...&for=...&by=WHO}.</li>
 * </ul>
 * Every request needs the bearer token (401 otherwise, compared in constant time).
 */
final class ApprovalApi {
  private static final long MAX_FOR_SECONDS = 366L * 24 * 3600;

  private ApprovalApi() {}

  static FullHttpResponse answer(FullHttpRequest request, ApprovalControl control) {
    if (!authorized(request.headers().get(HttpHeaderNames.AUTHORIZATION), control.token())) {
      FullHttpResponse refused = text(HttpResponseStatus.UNAUTHORIZED, "the approval API needs the admin token"
          + " (Authorization: Bearer ...; egressd pending/approve/deny read it from the daemon's token file)\n");
      refused.headers().set(HttpHeaderNames.WWW_AUTHENTICATE, "Bearer");
      return refused;
    }
    QueryStringDecoder uri = new QueryStringDecoder(request.uri());
    String[] parts = uri.path().split("/", -1); // "", "approvals", ID, verb
    if (parts.length == 2) {
      if (!request.method().equals(HttpMethod.GET)) {
        return notAllowed("GET");
      }
      return json(list(control.approvals().pending()));
    }
    if (parts.length != 4 || !(parts[3].equals("approve") || parts[3].equals("deny"))) {
      return text(HttpResponseStatus.NOT_FOUND, "not found; try GET /approvals or POST /approvals/ID/approve\n");
    }
    if (!request.method().equals(HttpMethod.POST)) {
      return notAllowed("POST");
    }
    long id;
    try {
      id = Long.parseLong(parts[2]);
    } catch (NumberFormatException e) {
      return text(HttpResponseStatus.BAD_REQUEST, "not a request id: " + printable(parts[2]) + "\n");
    }
    String scopeText = first(uri, "scope").orElse("once");
    Optional<Approvals.Scope> scope = Approvals.Scope.parse(scopeText);
    if (scope.isEmpty()) {
      return text(HttpResponseStatus.BAD_REQUEST, "scope must be once, host or host:port, not "
          + printable(scopeText) + "\n");
    }
    Duration duration = null;
    Optional<String> forText = first(uri, "for");
    if (forText.isPresent()) {
      try {
        long seconds = Long.parseLong(forText.get());
        if (seconds < 1 || seconds > MAX_FOR_SECONDS) {
          throw new NumberFormatException();
        }
        duration = Duration.ofSeconds(seconds);
      } catch (NumberFormatException e) {
        return text(HttpResponseStatus.BAD_REQUEST, "for must be whole seconds from 1 to " + MAX_FOR_SECONDS
            + ", not " + printable(forText.get()) + "\n");
      }
    }
    String who = first(uri, "by").filter(b -> b.matches("[a-z][a-z0-9_-]{0,15}")).orElse("cli");
    boolean approve = parts[3].equals("approve");
    if (!control.approvals().answer(id, new Approvals.Answer(approve, who), scope.get(), duration)) {
      return text(HttpResponseStatus.NOT_FOUND, "no request " + id + " is waiting (answered, timed out or gone)\n");
    }
    return text(HttpResponseStatus.OK, (approve ? "approved " : "denied ") + id + " (scope " + scope.get().label()
        + (duration == null ? "" : ", for " + duration.toSeconds() + " s") + ")\n");
  }

  /** Constant-time, so the token cannot be guessed byte by byte from response times. */
  private static boolean authorized(String header, String token) {
    if (header == null || !header.startsWith("Bearer ")) {
      return false;
    }
    return MessageDigest.isEqual(header.substring(7).strip().getBytes(StandardCharsets.UTF_8),
        token.getBytes(StandardCharsets.UTF_8));
  }

  private static String list(List<Approvals.Pending> pending) {
    Instant now = Instant.now();
    return pending.stream().map(p -> {
      AccessRequest r = p.request();
      return "{\"id\":" + p.id()
          + ",\"protocol\":" + JsonText.quote(r.protocol().label())
          + ",\"host\":" + JsonText.quote(r.destination().host().value())
          + ",\"port\":" + r.destination().port()
          + ",\"method\":" + (r.method() == null ? "null" : JsonText.quote(r.method()))
          + ",\"client\":" + JsonText.quote(r.client())
          + ",\"connection_id\":" + r.connectionId()
          + (r.executionId() == null ? "" : ",\"execution_id\":" + JsonText.quote(r.executionId()))
          + ",\"reason\":" + JsonText.quote(p.reason())
          + ",\"age_seconds\":" + Math.max(0, Duration.between(p.since(), now).toSeconds()) + "}";
    }).collect(Collectors.joining(",", "[", "]\n"));
  }

  private static Optional<String> first(QueryStringDecoder uri, String name) {
    List<String> values = uri.parameters().get(name);
    return values == null || values.isEmpty() ? Optional.empty() : Optional.of(values.get(0));
  }

  private static String printable(String text) {
    String cut = text.length() > 40 ? text.substring(0, 40) + "..." : text;
    return "\"" + cut.replaceAll("[^\\x20-\\x7e]", "?") + "\"";
  }

  private static FullHttpResponse notAllowed(String allow) {
    FullHttpResponse response = text(HttpResponseStatus.METHOD_NOT_ALLOWED, "only " + allow + "\n");
    response.headers().set(HttpHeaderNames.ALLOW, allow);
    return response;
  }

  private static FullHttpResponse json(String body) {
    FullHttpResponse response = text(HttpResponseStatus.OK, body);
    response.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/json");
    return response;
  }

  private static FullHttpResponse text(HttpResponseStatus status, String body) {
    FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
        Unpooled.copiedBuffer(body, StandardCharsets.UTF_8));
    response.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8");
    response.headers().set(HttpHeaderNames.CACHE_CONTROL, "no-store");
    return response;
  }
}
