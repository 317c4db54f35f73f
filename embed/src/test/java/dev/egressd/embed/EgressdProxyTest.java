package dev.egressd.embed;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpServer;
import dev.egressd.audit.AuditEvent;
import dev.egressd.config.ConfigLoader;
import dev.egressd.policy.DeciderAnswer;
import dev.egressd.policy.Decision;
import dev.egressd.policy.NetworkPolicy;
import dev.egressd.policy.PolicyDecider;
import dev.egressd.policy.PolicySource;
import dev.egressd.policy.Rule;
import dev.egressd.proxy.decider.Approvals;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * egressd embedded in a Java program: a policy built in code, a lambda decider, an audit sink and approvals answered
 * in code, driven by the JDK's HttpClient through real loopback sockets to a JDK HttpServer origin.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class EgressdProxyTest {
  private static final InetSocketAddress FREE_LOOPBACK = new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);

  private HttpServer origin;
  private final List<AuditEvent.PolicyDecision> decisions = new CopyOnWriteArrayList<>();
  private final List<String> asked = new CopyOnWriteArrayList<>();
  private EgressdProxy proxy;

  @BeforeEach
  void startOrigin() throws IOException {
    origin = HttpServer.create(FREE_LOOPBACK, 0);
    origin.createContext("/", exchange -> {
      byte[] body = ("origin saw " + exchange.getRequestMethod() + " " + exchange.getRequestURI())
          .getBytes(StandardCharsets.UTF_8);
      exchange.sendResponseHeaders(200, body.length);
      exchange.getResponseBody().write(body);
      exchange.close();
    });
    origin.start();
  }

  @AfterEach
  void stop() {
    if (proxy != null) {
      proxy.close(Duration.ZERO);
    }
    origin.stop(0);
  }

  /** Loopback origins need allow_local_binding; no host is allowed by a rule, so every request is a miss. */
  private static NetworkPolicy.Builder missesOnly() {
    return NetworkPolicy.builder().allowLocalBinding(true).scope("the embedding test");
  }

  /** Allows {@code localhost}, denies {@code 127.0.0.1}, and asks about anything else. */
  private final PolicyDecider byHost = request -> {
    asked.add(request.destination().authority());
    return CompletableFuture.completedFuture(switch (request.destination().host().value()) {
      case "localhost" -> DeciderAnswer.allow("task 42 may fetch from localhost");
      case "127.0.0.1" -> DeciderAnswer.deny("not by address");
      default -> DeciderAnswer.ask("a person decides");
    });
  };

  private EgressdProxy.Builder embedded() {
    return EgressdProxy.builder().policy(missesOnly().build()).httpListen(FREE_LOOPBACK).socks(false)
        .auditSink(event -> {
          if (event instanceof AuditEvent.PolicyDecision decision) {
            decisions.add(decision);
          }
        });
  }

  private HttpResponse<String> get(String host, String path) throws Exception {
    HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
        .proxy(ProxySelector.of(proxy.httpAddress())).build();
    URI uri = URI.create("http://" + host + ":" + origin.getAddress().getPort() + path);
    return client.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(20)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void aLambdaDeciderOpensOneNameAndRefusesAnotherAndTheSinkSeesBoth() throws Exception {
    proxy = embedded().decider(byHost, Duration.ofSeconds(2)).start();

    HttpResponse<String> allowed = get("localhost", "/allowed?q=1");
    assertThat(allowed.statusCode()).isEqualTo(200);
    assertThat(allowed.body()).isEqualTo("origin saw GET /allowed?q=1");

    HttpResponse<String> denied = get("127.0.0.1", "/denied");
    assertThat(denied.statusCode()).isEqualTo(403);
    assertThat(denied.headers().firstValue("x-proxy-error")).contains("blocked-by-policy");
    assertThat(denied.body()).contains("not by address");

    assertThat(asked).containsExactly("localhost:" + origin.getAddress().getPort(),
        "127.0.0.1:" + origin.getAddress().getPort());
    assertThat(decisions).extracting(d -> d.decision().source()).containsExactly(PolicySource.DECIDER,
        PolicySource.DECIDER);
    assertThat(decisions.get(0).decision().overridden()).isTrue();
    assertThat(decisions.get(0).decision().reasonLabel()).isEqualTo("task 42 may fetch from localhost");
    assertThat(decisions.get(1).decision().verdict()).isEqualTo(Decision.Verdict.DENY);
  }

  @Test
  void aDeciderThatFailsRefusesTheRequest() throws Exception {
    proxy = embedded().decider(request -> CompletableFuture.failedFuture(new IllegalStateException("down")),
        Duration.ofSeconds(2)).start();
    HttpResponse<String> refused = get("localhost", "/");
    assertThat(refused.statusCode()).isEqualTo(403);
    assertThat(refused.body()).contains("decider_failed").contains("fails closed");
  }

  @Test
  void anAskIsAnsweredInCodeThroughTheApprovals() throws Exception {
    Approvals approvals = new Approvals(Clock.systemUTC());
    proxy = embedded().policy(missesOnly().addRule(Rule.ask("localhost", "the embedding test")).build())
        .approvals(approvals).start();
    assertThat(proxy.approvals()).isSameAs(approvals);

    CompletableFuture<HttpResponse<String>> waiting = CompletableFuture.supplyAsync(() -> {
      try {
        return get("localhost", "/held");
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    });
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (approvals.pending().isEmpty() && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    assertThat(approvals.pending()).singleElement().satisfies(p -> assertThat(p.reason()).isEqualTo("rule localhost"));
    assertThat(waiting).isNotDone();
    approvals.answer(approvals.pending().get(0).id(), new Approvals.Answer(true, "embedding host"),
        Approvals.Scope.ONCE, null);
    assertThat(waiting.get(10, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
    assertThat(decisions).extracting(d -> d.decision().verdict()).containsExactly(Decision.Verdict.ASK,
        Decision.Verdict.ALLOW);
    assertThat(decisions.get(1).decision().reasonLabel()).isEqualTo("approved by embedding host");
  }

  @Test
  void thePolicyCanBeReplacedWhileItRuns() throws Exception {
    proxy = embedded().start();
    assertThat(get("localhost", "/").statusCode()).isEqualTo(403);
    proxy.policy().set(missesOnly().addRule(Rule.allow("localhost", "replaced in code")).build());
    assertThat(get("localhost", "/").statusCode()).isEqualTo(200);
    assertThat(proxy.policy().current().rules()).singleElement().hasToString(
        "allow localhost (replaced in code)");
  }

  @Test
  void theDaemonsStartUpChecksRefuseWithAMessage() throws Exception {
    assertThatThrownBy(() -> embedded().policy(missesOnly().enabled(false).build()).start())
        .isInstanceOf(StartException.class)
        .hasMessage("the network proxy is disabled (enabled = false in the embedding test); nothing to serve. Set"
            + " enabled = true to run it.");
    assertThatThrownBy(() -> embedded().httpListen(new InetSocketAddress("0.0.0.0", 0)).start())
        .isInstanceOf(StartException.class).hasMessageContaining("is not a loopback address");
    assertThatThrownBy(() -> embedded().approvals(new Approvals(Clock.systemUTC()))
        .approvalToken("t".repeat(40)).start())
        .isInstanceOf(StartException.class).hasMessageContaining("needs approvals and an admin listener");
    try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      assertThatThrownBy(() -> embedded().httpListen(new InetSocketAddress(InetAddress.getLoopbackAddress(),
          taken.getLocalPort())).start())
          .isInstanceOf(StartException.class).hasMessageStartingWith("cannot start:");
    }
  }

  @Test
  void closeReleasesTheListenersAndIsIdempotent() throws Exception {
    proxy = embedded().config(ConfigLoader.defaults()).httpListen(FREE_LOOPBACK).socksListen(FREE_LOOPBACK)
        .socks(true).start();
    InetSocketAddress http = proxy.httpAddress();
    assertThat(proxy.socksAddress()).isNotNull();
    assertThat(proxy.adminAddress()).isNull();
    proxy.close(Duration.ZERO);
    proxy.close(Duration.ZERO);
    try (ServerSocket again = new ServerSocket(http.getPort(), 1, http.getAddress())) {
      assertThat(again.getLocalPort()).isEqualTo(http.getPort());
    }
    proxy = null;
  }
}
