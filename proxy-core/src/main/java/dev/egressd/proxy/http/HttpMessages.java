package dev.egressd.proxy.http;

import dev.egressd.audit.JsonText;
import dev.egressd.policy.AccessRequest;
import dev.egressd.policy.Decision;
import dev.egressd.policy.Destination;
import dev.egressd.proxy.tunnel.UpstreamFailure;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** Builds the proxy's own responses and strips hop-by-hop headers. */
final class HttpMessages {
  /** The response header that names why the proxy refused or failed a request. */
  static final String PROXY_ERROR = "x-proxy-error";

  private HttpMessages() {}

  /** 403 for a refused absolute-form request: a JSON body, as the reference sends. */
  static FullHttpResponse blockedJson(AccessRequest request, Decision decision) {
    String json = "{\"status\":\"blocked\""
        + ",\"host\":" + JsonText.quote(request.destination().host().value())
        + ",\"reason\":" + JsonText.quote(decision.reasonLabel())
        + ",\"decision\":" + JsonText.quote(decision.verdict().label())
        + ",\"source\":" + JsonText.quote(decision.source().label())
        + ",\"protocol\":" + JsonText.quote(request.protocol().label())
        + ",\"port\":" + request.destination().port()
        + ",\"message\":" + JsonText.quote(decision.message()) + "}\n";
    return response(HttpResponseStatus.FORBIDDEN, decision.reason().proxyError(), "application/json", json);
  }

  /** 403 for a refused CONNECT: one line of text. */
  static FullHttpResponse blockedText(Decision decision) {
    return response(HttpResponseStatus.FORBIDDEN, decision.reason().proxyError(), "text/plain; charset=utf-8",
        decision.message() + "\n");
  }

  /** 502 or 504 for an allowed request whose upstream failed. */
  static FullHttpResponse upstreamFailure(UpstreamFailure failure, String detail) {
    String text = detail == null || detail.isEmpty() ? failure.message() : failure.message() + ": " + detail;
    return response(HttpResponseStatus.valueOf(failure.httpStatus()), failure.proxyError(),
        "text/plain; charset=utf-8", text + "\n");
  }

  /** The answer to a request the codec could not parse: 414, 431, 413 or 400. */
  static FullHttpResponse malformed(Throwable cause) {
    HttpResponseStatus status = cause instanceof TooLongHttpLineException ? HttpResponseStatus.REQUEST_URI_TOO_LONG
        : cause instanceof TooLongHttpHeaderException ? HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE
        : cause instanceof TooLongFrameException ? HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE
        : HttpResponseStatus.BAD_REQUEST;
    String reason = cause == null ? "malformed request" : cause.getMessage();
    return error(status, "malformed-request", "malformed request: " + reason);
  }

  /**
   * How a forwarded response is framed towards the client.
   *
   * @param upstreamReusable the origin connection may carry the next request
   * @param closeClient the client connection closes after this response
   */
  record Framing(boolean upstreamReusable, boolean closeClient) {}

  /**
   * Rewrites an origin's response head for the client: hop-by-hop headers removed, the proxy's own HTTP version
   * (RFC 9110 section 6.2), chunked bodies sent close-delimited to HTTP/1.0 clients, and a {@code Connection}
   * header that says what happens next. Bodies without length or chunking are close-delimited, so both connections
   * end with them.
   */
  static Framing prepareResponseHead(HttpResponse response, String requestMethod, boolean clientHttp11,
      boolean mustClose) {
    int code = response.status().code();
    boolean chunked = HttpUtil.isTransferEncodingChunked(response);
    boolean framed = HttpUtil.isContentLengthSet(response) || chunked || code == 204 || code == 304
        || HttpMethod.HEAD.name().equals(requestMethod);
    boolean upstreamReusable = framed && HttpUtil.isKeepAlive(response);
    stripHopByHop(response.headers());
    boolean close = mustClose || !framed;
    if (chunked && !clientHttp11) {
      response.headers().remove(HttpHeaderNames.TRANSFER_ENCODING);
      close = true;
    }
    response.setProtocolVersion(HttpVersion.HTTP_1_1);
    if (close) {
      response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
    } else if (!clientHttp11) {
      response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
    }
    return new Framing(upstreamReusable, close);
  }

  /** A 4xx/5xx for input the proxy cannot or will not handle. */
  static FullHttpResponse error(HttpResponseStatus status, String proxyError, String message) {
    return response(status, proxyError, "text/plain; charset=utf-8", message + "\n");
  }

  private static FullHttpResponse response(HttpResponseStatus status, String proxyError, String type, String body) {
    FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
        Unpooled.copiedBuffer(body, StandardCharsets.UTF_8));
    HttpHeaders headers = response.headers();
    headers.set(HttpHeaderNames.CONTENT_TYPE, type);
    headers.setInt(HttpHeaderNames.CONTENT_LENGTH, response.content().readableBytes());
    headers.set(HttpHeaderNames.CACHE_CONTROL, HttpHeaderValues.NO_STORE);
    if (proxyError != null) {
      headers.set(PROXY_ERROR, proxyError);
    }
    return response;
  }

  /**
   * Removes hop-by-hop headers (RFC 9110 section 7.6.1): {@code Connection} and every header it names,
   * {@code Keep-Alive}, {@code Proxy-Connection}, {@code Proxy-Authorization}, {@code Proxy-Authenticate},
   * {@code TE}, {@code Trailer}, {@code Upgrade}. {@code Transfer-Encoding} is kept: the codecs re-frame the body
   * and need it to stay chunked.
   */
  static void stripHopByHop(HttpHeaders headers) {
    List<String> named = new ArrayList<>();
    for (String value : headers.getAll(HttpHeaderNames.CONNECTION)) {
      for (String token : value.split(",")) {
        String name = token.trim();
        // Framing and Host may never be removed this way ("Connection: Host" is a known smuggling trick).
        if (!name.isEmpty() && !name.equalsIgnoreCase(HttpHeaderNames.TRANSFER_ENCODING.toString())
            && !name.equalsIgnoreCase(HttpHeaderNames.CONTENT_LENGTH.toString())
            && !name.equalsIgnoreCase(HttpHeaderNames.HOST.toString())) {
          named.add(name);
        }
      }
    }
    for (String name : named) {
      headers.remove(name);
    }
    headers.remove(HttpHeaderNames.CONNECTION);
    headers.remove(HttpHeaderNames.KEEP_ALIVE);
    headers.remove("Proxy-Connection");
    headers.remove(HttpHeaderNames.PROXY_AUTHORIZATION);
    headers.remove(HttpHeaderNames.PROXY_AUTHENTICATE);
    headers.remove(HttpHeaderNames.TE);
    headers.remove(HttpHeaderNames.TRAILER);
    headers.remove(HttpHeaderNames.UPGRADE);
  }


  /**
   * Turns an allowed request's head into what goes to the origin: origin-form target, no hop-by-hop headers except
   * an upgrade the policy allowed, a {@code Host} if there was none, and no {@code Expect}.
   *
   * @return whether the client expects {@code 100 Continue}, which the proxy then answers itself
   */
  /** {@code host} or {@code host:port}, as a {@code Host} header or an absolute-form authority names it. */
  static String hostHeader(Destination destination) {
    return destination.port() == 80 ? destination.host().authorityForm() : destination.authority();
  }

  static boolean prepareRequestHead(HttpRequest request, RequestTarget target, boolean upgrade) {
    request.setUri(target.originForm());
    String upgradeTo = upgrade ? request.headers().get(HttpHeaderNames.UPGRADE) : null;
    stripHopByHop(request.headers());
    if (upgradeTo != null) {
      // The policy allowed the upgrade (full mode), so it is the one hop-by-hop header pair we pass on.
      request.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE);
      request.headers().set(HttpHeaderNames.UPGRADE, upgradeTo);
    }
    Destination destination = target.destination();
    if (!request.headers().contains(HttpHeaderNames.HOST)) {
      request.headers().set(HttpHeaderNames.HOST, hostHeader(destination));
    }
    boolean expectsContinue = HttpUtil.is100ContinueExpected(request);
    if (expectsContinue) {
      request.headers().remove(HttpHeaderNames.EXPECT);
    }
    return expectsContinue;
  }
}
