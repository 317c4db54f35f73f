package dev.egressd.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.egressd.policy.Destination;
import dev.egressd.policy.HostName;
import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import java.nio.charset.StandardCharsets;
import java.util.Optional;

/**
 * Fuzzes {@link RequestTarget}: absolute-form targets on the proxy listener and targets inside an intercepted
 * tunnel. Input: the request target, optionally a newline and a {@code Host} header value. Only
 * {@link RequestTarget.BadTargetException} may escape; what parses is normalised so that parsing it again changes
 * nothing. Seeds and past findings: {@code RequestTargetFuzzTestInputs/}; see docs/fuzzing.md.
 */
class RequestTargetFuzzTest {
  private static final Destination TUNNEL = new Destination(HostName.parse("tunnel.test"), 443);

  @FuzzTest(maxDuration = "15s")
  @DictionaryEntries({"http://", "https://", "HTTP://", "tunnel.test", ":443", ":80", "[::1]", "@", "#", "?", "/",
      "\\\\", "\\x0A", "%00", "*"})
  void targetsNormaliseToAFixedPoint(byte[] input) {
    // Netty's decoder maps each request-line byte to one char, as ISO-8859-1 does.
    String text = new String(input, StandardCharsets.ISO_8859_1);
    int newline = text.indexOf('\n');
    String uri = newline < 0 ? text : text.substring(0, newline);
    String host = newline < 0 ? null : text.substring(newline + 1);
    checkAbsolute(uri, host);
    checkInTunnel(uri, host);
  }

  private static void checkAbsolute(String uri, String host) {
    RequestTarget target;
    try {
      target = RequestTarget.parseAbsolute(uri);
    } catch (RequestTarget.BadTargetException e) {
      assertThat(e.proxyError).isNotEmpty();
      return;
    }
    assertBuiltOriginForm(target.originForm());
    String again = "http://" + target.destination().authority() + target.originForm();
    assertThat(parse(again)).as("re-parse of %s", again).isEqualTo(target);
    Optional<HttpRequest> ownHost = request(HttpMethod.GET, uri, target.destination().authority());
    try {
      if (ownHost.isPresent()) {
        RequestTarget.checkHeaders(ownHost.get(), target.destination());
      }
    } catch (RequestTarget.BadTargetException e) {
      throw new AssertionError("a Host header naming the target itself is refused: " + e.getMessage(), e);
    }
    Optional<HttpRequest> request = host == null ? Optional.empty() : request(HttpMethod.GET, uri, host);
    try {
      if (request.isPresent()) {
        RequestTarget.checkHeaders(request.get(), target.destination());
      }
    } catch (RequestTarget.BadTargetException e) {
      assertThat(e.proxyError).isNotEmpty();
    }
  }

  private static void checkInTunnel(String uri, String host) {
    for (HttpMethod method : new HttpMethod[] {HttpMethod.GET, HttpMethod.OPTIONS}) {
      Optional<HttpRequest> request = request(method, uri, host);
      if (request.isEmpty()) {
        return;
      }
      RequestTarget target;
      try {
        target = RequestTarget.parseInTunnel(request.get(), TUNNEL);
      } catch (RequestTarget.BadTargetException e) {
        assertThat(e.proxyError).isNotEmpty();
        continue;
      }
      assertThat(target.destination()).isEqualTo(TUNNEL);
      if (uri.regionMatches(true, 0, "https://", 0, 8)) {
        assertBuiltOriginForm(target.originForm());
      } else {
        assertThat(target.originForm()).as("origin-form is passed on as written").isEqualTo(uri);
      }
    }
  }

  /** An origin-form the proxy built from an absolute target: a path and optional query, no fragment (RFC 9112). */
  private static void assertBuiltOriginForm(String originForm) {
    assertThat(originForm).startsWith("/").doesNotContain("#");
  }

  private static RequestTarget parse(String uri) {
    try {
      return RequestTarget.parseAbsolute(uri);
    } catch (RequestTarget.BadTargetException e) {
      throw new AssertionError("normalised target " + uri + " is refused: " + e.getMessage(), e);
    }
  }

  /** The request Netty's decoder would produce, or empty for a target it refuses (as it refuses CR in a URI). */
  private static Optional<HttpRequest> request(HttpMethod method, String uri, String host) {
    HttpRequest request;
    try {
      request = new DefaultHttpRequest(HttpVersion.HTTP_1_1, method, uri,
          DefaultHttpHeadersFactory.headersFactory().withValidation(false));
    } catch (IllegalArgumentException e) {
      return Optional.empty();
    }
    if (host != null) {
      request.headers().add(HttpHeaderNames.HOST, host);
    }
    return Optional.of(request);
  }
}
