package dev.egressd.proxy.decider;

import static org.assertj.core.api.Assertions.assertThat;

import dev.egressd.policy.AccessRequest;
import dev.egressd.policy.DeciderAnswer;
import dev.egressd.policy.Destination;
import dev.egressd.policy.PolicyDecider;
import dev.egressd.policy.Protocol;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** Concurrent misses for one destination share a call; answers with cache_seconds are reused until they expire. */
class SharedDeciderTest {
  private final List<CompletableFuture<DeciderAnswer>> calls = new ArrayList<>();
  private final List<AccessRequest> asked = new ArrayList<>();
  private final AtomicLong now = new AtomicLong(1_000);
  private final PolicyDecider slow = request -> {
    asked.add(request);
    CompletableFuture<DeciderAnswer> call = new CompletableFuture<>();
    calls.add(call);
    return call;
  };
  private final SharedDecider shared = new SharedDecider(slow, now::get);

  private static AccessRequest request(String authority, Protocol protocol, long connection) {
    return new AccessRequest(Destination.parseAuthority(authority), protocol, "GET", false, "127.0.0.1:1", connection);
  }

  @Test
  void pendingRequestsForOneDestinationShareOneCall() {
    List<CompletionStage<DeciderAnswer>> waiting = new ArrayList<>();
    for (int i = 1; i <= 200; i++) {
      waiting.add(shared.decide(request("new.example:443", Protocol.HTTPS_CONNECT, i)));
    }
    assertThat(calls).hasSize(1);
    assertThat(asked.get(0).connectionId()).isEqualTo(1);
    calls.get(0).complete(DeciderAnswer.allow("ok"));
    assertThat(waiting).allSatisfy(w -> assertThat(w.toCompletableFuture().join().reason()).isEqualTo("ok"));
    shared.decide(request("new.example:443", Protocol.HTTPS_CONNECT, 201));
    assertThat(calls).as("no cache_seconds: the next miss asks again").hasSize(2);
  }

  @Test
  void anotherPortOrProtocolIsAnotherCall() {
    shared.decide(request("new.example:443", Protocol.HTTPS_CONNECT, 1));
    shared.decide(request("new.example:8443", Protocol.HTTPS_CONNECT, 2));
    shared.decide(request("new.example:443", Protocol.SOCKS5_TCP, 3));
    shared.decide(request("other.example:443", Protocol.HTTPS_CONNECT, 4));
    assertThat(calls).hasSize(4);
  }

  @Test
  void aCachedAnswerIsReusedUntilItExpires() {
    shared.decide(request("new.example:443", Protocol.HTTPS_CONNECT, 1));
    calls.get(0).complete(DeciderAnswer.deny("no").cachedFor(Duration.ofSeconds(60)));
    now.addAndGet(Duration.ofSeconds(59).toNanos());
    assertThat(shared.decide(request("new.example:443", Protocol.HTTPS_CONNECT, 2)).toCompletableFuture().join()
        .reason()).isEqualTo("no");
    assertThat(calls).hasSize(1);
    now.addAndGet(Duration.ofSeconds(1).toNanos());
    shared.decide(request("new.example:443", Protocol.HTTPS_CONNECT, 3));
    assertThat(calls).hasSize(2);
    assertThat(shared.cachedAnswers()).isZero();
  }

  @Test
  void failuresAreSharedButNeverCached() {
    CompletionStage<DeciderAnswer> first = shared.decide(request("new.example:443", Protocol.HTTPS_CONNECT, 1));
    CompletionStage<DeciderAnswer> second = shared.decide(request("new.example:443", Protocol.HTTPS_CONNECT, 2));
    calls.get(0).completeExceptionally(new IllegalStateException("down"));
    assertThat(first.toCompletableFuture()).isCompletedExceptionally();
    assertThat(second.toCompletableFuture()).isCompletedExceptionally();
    shared.decide(request("new.example:443", Protocol.HTTPS_CONNECT, 3));
    assertThat(calls).hasSize(2);
  }

  @Test
  void oneWaiterCancellingDoesNotCancelTheOthers() {
    CompletionStage<DeciderAnswer> first = shared.decide(request("new.example:443", Protocol.HTTPS_CONNECT, 1));
    CompletionStage<DeciderAnswer> second = shared.decide(request("new.example:443", Protocol.HTTPS_CONNECT, 2));
    first.toCompletableFuture().cancel(true);
    calls.get(0).complete(DeciderAnswer.allow(""));
    assertThat(second.toCompletableFuture().join().verdict().label()).isEqualTo("allow");
  }

  @Test
  void aDeciderThatThrowsFailsTheCallAndFreesTheSlot() {
    SharedDecider throwing = new SharedDecider(request -> {
      throw new IllegalStateException("bug");
    });
    assertThat(throwing.decide(request("a.example:1", Protocol.HTTP, 1)).toCompletableFuture())
        .isCompletedExceptionally();
    assertThat(throwing.decide(request("a.example:1", Protocol.HTTP, 2)).toCompletableFuture())
        .isCompletedExceptionally();
  }
}
