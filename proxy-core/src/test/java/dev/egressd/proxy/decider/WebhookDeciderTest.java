package dev.egressd.proxy.decider;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.egressd.policy.AccessRequest;
import dev.egressd.policy.DeciderAnswer;
import dev.egressd.policy.DeciderException;
import dev.egressd.policy.Decision.Verdict;
import dev.egressd.policy.Destination;
import dev.egressd.policy.Protocol;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The webhook decider against a real HTTP server on loopback: what it sends, and every way an answer can fail. */
class WebhookDeciderTest {
  private static final AccessRequest REQUEST = new AccessRequest(Destination.parseAuthority("pkg.example:443"),
      Protocol.HTTPS_CONNECT, "CONNECT", false, "127.0.0.1:40000", 17);

  private final List<String> seen = new CopyOnWriteArrayList<>();
  private HttpServer server;
  private WebhookDecider decider;

  @AfterEach
  void stop() {
    if (decider != null) {
      decider.close();
    }
    if (server != null) {
      server.stop(0);
    }
  }

  private WebhookDecider serving(String token, Duration timeout, Consumer<HttpExchange> handler) throws IOException {
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.createContext("/decide", exchange -> {
      seen.add(exchange.getRequestMethod() + " " + exchange.getRequestURI() + " auth="
          + exchange.getRequestHeaders().getFirst("Authorization") + " type="
          + exchange.getRequestHeaders().getFirst("Content-Type") + " body="
          + new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8));
      handler.accept(exchange);
    });
    server.start();
    decider = WebhookDecider.http(URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/decide?v=1"),
        token, timeout);
    return decider;
  }

  private static Consumer<HttpExchange> reply(int status, String body) {
    return exchange -> {
      try (exchange) {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.sendResponseHeaders(status, bytes.length == 0 ? -1 : bytes.length);
        if (bytes.length > 0) {
          try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
          }
        }
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    };
  }

  private static Throwable failure(WebhookDecider decider) throws Exception {
    try {
      decider.decide(REQUEST).get(5, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      return e.getCause();
    }
    throw new AssertionError("expected the decision to fail");
  }

  @Test
  void postsTheRequestAsJsonWithTheTokenAndParsesTheAnswer() throws Exception {
    DeciderAnswer answer = serving("s3cret", Duration.ofSeconds(5),
        reply(200, "{\"decision\":\"allow\",\"reason\":\"reviewed\",\"cache_seconds\":30,\"extra\":{\"a\":[1]}}"))
        .decide(REQUEST).get(5, TimeUnit.SECONDS);

    assertThat(answer).isEqualTo(new DeciderAnswer(Verdict.ALLOW, "reviewed", Duration.ofSeconds(30)));
    assertThat(seen).containsExactly("POST /decide?v=1 auth=Bearer s3cret type=application/json body="
        + "{\"version\":1,\"protocol\":\"https_connect\",\"host\":\"pkg.example\",\"port\":443,\"method\":\"CONNECT\","
        + "\"client\":\"127.0.0.1:40000\",\"connection_id\":17}");
  }

  @Test
  void theRequestBodyNamesTheExecutionOnlyWhenEgressdKnowsIt() {
    AccessRequest known = new AccessRequest(Destination.parseAuthority("pkg.example:443"), Protocol.HTTPS_CONNECT,
        "CONNECT", false, "unix-socket", 3, "ci-job-42");
    AccessRequest unknown = new AccessRequest(Destination.parseAuthority("pkg.example:443"), Protocol.HTTPS_CONNECT,
        "CONNECT", false, "127.0.0.1:1", 3);

    assertThat(new String(WebhookDecider.requestBody(known), java.nio.charset.StandardCharsets.UTF_8))
        .endsWith(",\"connection_id\":3,\"execution_id\":\"ci-job-42\"}");
    assertThat(new String(WebhookDecider.requestBody(unknown), java.nio.charset.StandardCharsets.UTF_8))
        .doesNotContain("execution_id");
  }

  @Test
  void withoutATokenNoAuthorizationIsSentAndSocksHasNoMethod() throws Exception {
    serving(null, Duration.ofSeconds(5), reply(200, "{\"decision\":\"deny\"}"));
    AccessRequest socks = new AccessRequest(Destination.parseAuthority("[2001:db8::1]:22"), Protocol.SOCKS5_TCP,
        null, false, "[::1]:4000", 3);
    assertThat(decider.decide(socks).get(5, TimeUnit.SECONDS).verdict()).isEqualTo(Verdict.DENY);
    assertThat(seen).singleElement().asString().contains("auth=null").contains("\"host\":\"2001:db8::1\"")
        .contains("\"method\":null");
  }

  @Test
  void anHttpErrorIsAFailureNamingTheStatus() throws Exception {
    assertThat(failure(serving(null, Duration.ofSeconds(5), reply(500, "oops"))))
        .isInstanceOf(DeciderException.class).hasMessage("answered HTTP 500");
  }

  @Test
  void invalidJsonIsAFailure() throws Exception {
    assertThat(failure(serving(null, Duration.ofSeconds(5), reply(200, "{\"decision\": allow"))))
        .isInstanceOf(DeciderException.class).hasMessage("answered invalid JSON");
  }

  @Test
  void anOversizedAnswerIsAFailure() throws Exception {
    String big = "{\"decision\":\"allow\",\"pad\":\"" + "x".repeat(WebhookDecider.MAX_ANSWER_BYTES) + "\"}";
    assertThat(failure(serving(null, Duration.ofSeconds(5), reply(200, big))))
        .isInstanceOf(DeciderException.class).hasMessage("answered more than 16384 bytes");
  }

  @Test
  void aDeciderThatDoesNotAnswerTimesOut() throws Exception {
    Throwable late = failure(serving(null, Duration.ofMillis(200), exchange -> {
      try {
        Thread.sleep(2000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      reply(200, "{\"decision\":\"allow\"}").accept(exchange);
    }));
    assertThat(late).isInstanceOf(TimeoutException.class).hasMessage("no answer within 200 ms");
  }

  @Test
  void aDeciderThatIsNotListeningCannotBeReached() throws Exception {
    int port;
    try (ServerSocket free = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = free.getLocalPort();
    }
    decider = WebhookDecider.http(URI.create("http://127.0.0.1:" + port + "/"), null, Duration.ofSeconds(2));
    assertThat(failure(decider)).isInstanceOf(DeciderException.class)
        .hasMessage("could not be reached (connection refused)");
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "{\"decision\":\"ASK\",\"reason\":null}|ASK||0",
      "{\"decision\":\"deny\",\"reason\":\"no\\nline\"}|DENY|noline|0",
      "{\"decision\":\"allow\",\"cache_seconds\":0.5}|ALLOW||500",
      "{\"decision\":\"allow\",\"cache_seconds\":1e12}|ALLOW||86400000",
      "  {\"cache_seconds\":2, \"decision\":\"allow\"}  |ALLOW||2000",
  })
  void answersAreParsed(String json, Verdict verdict, String reason, long cacheMillis) {
    DeciderAnswer answer = WebhookDecider.parseAnswer(new ByteArrayInputStream(json.getBytes(StandardCharsets.UTF_8)));
    assertThat(answer).isEqualTo(new DeciderAnswer(verdict, reason, Duration.ofMillis(cacheMillis)));
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "''|answered JSON that is not an object",
      "[]|answered JSON that is not an object",
      "\"allow\"|answered JSON that is not an object",
      "{}|answered no decision",
      "{\"decision\":\"maybe\"}|answered no valid decision (expected \"allow\", \"deny\" or \"ask\")",
      "{\"decision\":true}|answered no valid decision (expected \"allow\", \"deny\" or \"ask\")",
      "{\"decision\":\"allow\",\"decision\":\"deny\"}|answered invalid JSON",
      "{\"decision\":\"allow\",\"reason\":5}|answered a reason that is not a string",
      "{\"decision\":\"allow\",\"cache_seconds\":-1}|answered a cache_seconds that is not a number from 0",
      "{\"decision\":\"allow\",\"cache_seconds\":\"60\"}|answered a cache_seconds that is not a number from 0",
      "{\"decision\":\"allow\"} {}|answered invalid JSON",
      "{\"decision\":\"allow\"|answered invalid JSON",
  })
  void badAnswersAreFailuresSayingWhy(String json, String message) {
    assertThatThrownBy(() -> WebhookDecider.parseAnswer(new ByteArrayInputStream(json.getBytes(StandardCharsets.UTF_8))))
        .isInstanceOf(DeciderException.class).hasMessage(message);
  }
}
