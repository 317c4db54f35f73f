package dev.egressd.proxy.decider;

import static org.assertj.core.api.Assertions.assertThat;

import dev.egressd.policy.AccessRequest;
import dev.egressd.policy.Destination;
import dev.egressd.policy.Protocol;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/** Waiting requests and standing answers: scopes, expiry, the latest answer winning, unknown ids. */
class ApprovalsTest {
  private Instant now = Instant.parse("2026-12-07T10:00:00Z");
  private final Clock clock = new Clock() {
    @Override
    public ZoneOffset getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return now;
    }
  };
  private final Approvals approvals = new Approvals(clock);

  private static AccessRequest request(String authority) {
    return new AccessRequest(Destination.parseAuthority(authority), Protocol.HTTPS_CONNECT, "CONNECT", false,
        "127.0.0.1:1", 1);
  }

  @Test
  void onceAnswersOnlyThatRequest() {
    CompletableFuture<Approvals.Answer> first = new CompletableFuture<>();
    CompletableFuture<Approvals.Answer> second = new CompletableFuture<>();
    Approvals.Pending a = approvals.await(request("a.example:443"), "why", first);
    approvals.await(request("a.example:443"), "", second);
    assertThat(approvals.pending()).extracting(Approvals.Pending::reason).containsExactly("why", "");

    assertThat(approvals.answer(a.id(), new Approvals.Answer(true, "cli"), Approvals.Scope.ONCE, null)).isTrue();
    assertThat(first).isCompletedWithValue(new Approvals.Answer(true, "cli"));
    assertThat(second).isNotDone();
    assertThat(approvals.pending()).hasSize(1);
    assertThat(approvals.standingAnswer(request("a.example:443"))).isEmpty();
    assertThat(approvals.answer(a.id(), new Approvals.Answer(true, "cli"), Approvals.Scope.ONCE, null)).isFalse();
  }

  private static AccessRequest on(long connection, Protocol protocol, String authority) {
    return new AccessRequest(Destination.parseAuthority(authority), protocol, protocol == Protocol.HTTPS ? "POST"
        : null, false, "127.0.0.1:1", connection);
  }

  @Test
  void aTunnelApprovedOnceCoversTheRequestsInsideItAndNothingElse() {
    Approvals.Pending tunnel = approvals.await(on(7, Protocol.HTTPS_CONNECT, "a.example:443"), "",
        new CompletableFuture<>());
    approvals.answer(tunnel.id(), new Approvals.Answer(true, "cli"), Approvals.Scope.ONCE, null);
    assertThat(approvals.standingAnswer(on(7, Protocol.HTTPS, "a.example:443")))
        .contains(new Approvals.Answer(true, "cli"));
    assertThat(approvals.standingAnswer(on(8, Protocol.HTTPS, "a.example:443"))).isEmpty();
    assertThat(approvals.standingAnswer(on(7, Protocol.HTTPS_CONNECT, "a.example:443"))).isEmpty();
    assertThat(approvals.standingAnswer(on(7, Protocol.HTTP, "a.example:443"))).isEmpty();

    Approvals.Pending denied = approvals.await(on(9, Protocol.SOCKS5_TCP, "b.example:443"), "",
        new CompletableFuture<>());
    approvals.answer(denied.id(), new Approvals.Answer(false, "cli"), Approvals.Scope.ONCE, null);
    assertThat(approvals.standingAnswer(on(9, Protocol.HTTPS, "b.example:443"))).isEmpty();
  }

  @Test
  void hostScopeAnswersEveryPortNowAndLaterAndHostPortOnlyItsPort() {
    CompletableFuture<Approvals.Answer> first = new CompletableFuture<>();
    CompletableFuture<Approvals.Answer> otherPort = new CompletableFuture<>();
    CompletableFuture<Approvals.Answer> otherHost = new CompletableFuture<>();
    Approvals.Pending a = approvals.await(request("a.example:443"), "", first);
    approvals.await(request("a.example:8443"), "", otherPort);
    approvals.await(request("b.example:443"), "", otherHost);

    approvals.answer(a.id(), new Approvals.Answer(false, "cli"), Approvals.Scope.HOST_PORT, null);
    assertThat(first).isCompletedWithValue(new Approvals.Answer(false, "cli"));
    assertThat(otherPort).isNotDone();
    assertThat(approvals.standingAnswer(request("a.example:443"))).contains(new Approvals.Answer(false, "cli"));
    assertThat(approvals.standingAnswer(request("a.example:8443"))).isEmpty();

    Approvals.Pending port = approvals.pending().get(0);
    approvals.answer(port.id(), new Approvals.Answer(true, "watch"), Approvals.Scope.HOST, null);
    assertThat(otherPort).isCompletedWithValue(new Approvals.Answer(true, "watch"));
    assertThat(otherHost).isNotDone();
    assertThat(approvals.standingAnswer(request("a.example:443"))).as("the latest answer wins")
        .contains(new Approvals.Answer(true, "watch"));
    assertThat(approvals.standingAnswer(request("b.example:443"))).isEmpty();
  }

  @Test
  void standingAnswersExpire() {
    CompletableFuture<Approvals.Answer> first = new CompletableFuture<>();
    Approvals.Pending a = approvals.await(request("a.example:443"), "", first);
    approvals.answer(a.id(), new Approvals.Answer(true, "cli"), Approvals.Scope.HOST, Duration.ofMinutes(10));
    now = now.plus(Duration.ofMinutes(9));
    assertThat(approvals.standingAnswer(request("a.example:1"))).isPresent();
    now = now.plus(Duration.ofMinutes(1));
    assertThat(approvals.standingAnswer(request("a.example:1"))).isEmpty();
  }

  @Test
  void aForgottenOrCompletedRequestIsNoLongerListed() {
    CompletableFuture<Approvals.Answer> gone = new CompletableFuture<>();
    Approvals.Pending a = approvals.await(request("a.example:443"), "", gone);
    approvals.forget(a.id());
    assertThat(approvals.pending()).isEmpty();
    assertThat(approvals.answer(a.id(), new Approvals.Answer(true, "cli"), Approvals.Scope.HOST, null)).isFalse();
    assertThat(approvals.standingAnswer(request("a.example:443"))).as("no request, no standing answer").isEmpty();
  }

  @Test
  void standingAnswersAreReportedAndRestoredWithoutTheExpiredOnes() {
    java.util.List<java.util.List<Approvals.Standing>> reported = new java.util.ArrayList<>();
    approvals.onChange(reported::add);
    Approvals.Pending a = approvals.await(request("a.example:443"), "", new CompletableFuture<>());
    approvals.answer(a.id(), new Approvals.Answer(true, "cli"), Approvals.Scope.HOST_PORT, null);
    assertThat(reported).singleElement().satisfies(list -> assertThat(list).containsExactly(
        new Approvals.Standing("a.example", 443, new Approvals.Answer(true, "cli"), null)));

    Approvals restarted = new Approvals(clock);
    restarted.restore(java.util.List.of(reported.get(0).get(0),
        new Approvals.Standing("old.example", -1, new Approvals.Answer(false, "cli"), now.minusSeconds(1))));
    assertThat(restarted.standing()).hasSize(1);
    assertThat(restarted.standingAnswer(request("a.example:443"))).contains(new Approvals.Answer(true, "cli"));
    assertThat(restarted.standingAnswer(request("old.example:443"))).isEmpty();
  }

  @Test
  void scopesParseTheirLabels() {
    assertThat(Approvals.Scope.parse("host:port")).contains(Approvals.Scope.HOST_PORT);
    assertThat(Approvals.Scope.parse("HOST")).isEmpty();
  }
}
