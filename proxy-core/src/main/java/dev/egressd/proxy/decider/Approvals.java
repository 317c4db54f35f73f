package dev.egressd.proxy.decider;

import dev.egressd.policy.AccessRequest;
import dev.egressd.policy.Protocol;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * Requests waiting for a person, and the standing answers people gave ({@code --scope host}). Held in memory for the
 * daemon's life. Thread-safe; nothing here blocks: a waiting request is a future that the answer, or the caller's
 * timeout, completes.
 */
public final class Approvals {
  /** How far an answer reaches. */
  public enum Scope {
    /** This request only. */
    ONCE("once"),
    /** Every port of this host, and the requests waiting for it now. */
    HOST("host"),
    /** This host and port, and the requests waiting for it now. */
    HOST_PORT("host:port");

    private final String label;

    Scope(String label) {
      this.label = label;
    }

    /** The command-line spelling, e.g. {@code host:port}. */
    public String label() {
      return label;
    }

    /** Parses {@link #label()}. */
    public static Optional<Scope> parse(String text) {
      for (Scope scope : values()) {
        if (scope.label.equals(text)) {
          return Optional.of(scope);
        }
      }
      return Optional.empty();
    }
  }

  /**
   * A person's answer.
   *
   * @param approved allow or deny
   * @param who who answered, e.g. {@code cli}
   */
  public record Answer(boolean approved, String who) {}

  /**
   * A request waiting for an answer.
   *
   * @param id what {@code egressd approve ID} names
   * @param request what is asked for
   * @param since when it started waiting
   * @param reason why it is asked (the decider's reason), or empty
   */
  public record Pending(long id, AccessRequest request, Instant since, String reason) {}

  private record Waiter(Pending pending, CompletableFuture<Answer> answer) {}

  /**
   * An answer that stands for requests to come.
   *
   * @param host the canonical host it covers
   * @param port the port it covers, or -1 for every port ({@link Scope#HOST})
   * @param until when it expires, or null for never (the daemon's life, or the approvals file's)
   */
  public record Standing(String host, int port, Answer answer, Instant until) {
    /** Null checks. */
    public Standing {
      Objects.requireNonNull(host, "host");
      Objects.requireNonNull(answer, "answer");
      if (port < -1 || port > 65535) {
        throw new IllegalArgumentException("port: " + port + " (expected: -1 for any, or 0 to 65535)");
      }
    }

    boolean covers(AccessRequest request, Instant now) {
      return host.equals(request.destination().host().value())
          && (port == -1 || port == request.destination().port())
          && (until == null || now.isBefore(until));
    }
  }

  private static final int MAX_APPROVED_TUNNELS = 4096;

  private final Clock clock;
  private final AtomicLong ids = new AtomicLong();
  private final Map<Long, Waiter> waiting = new ConcurrentHashMap<>();
  private final List<Standing> standing = new CopyOnWriteArrayList<>();
  private volatile Consumer<List<Standing>> onChange = list -> {};
  // Tunnels a person approved once, by connection id: the requests inside an intercepted tunnel are decided again,
  // and must not ask again for the connection that was just approved. Ids only grow, so the oldest go first.
  private final Map<Long, Answer> approvedTunnels = java.util.Collections.synchronizedMap(
      new java.util.LinkedHashMap<>(16, 0.75f, false) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Long, Answer> eldest) {
          return size() > MAX_APPROVED_TUNNELS;
        }
      });

  /** Timed by {@code clock} (standing answers with {@code --for} expire by it). */
  public Approvals(Clock clock) {
    this.clock = Objects.requireNonNull(clock, "clock");
  }

  /** Adds answers kept from an earlier run ({@code --approvals FILE}); expired ones are dropped. */
  public void restore(List<Standing> answers) {
    Instant now = clock.instant();
    answers.stream().filter(a -> a.until() == null || now.isBefore(a.until())).forEach(standing::add);
  }

  /** The standing answers in force now, oldest first. */
  public List<Standing> standing() {
    Instant now = clock.instant();
    return standing.stream().filter(a -> a.until() == null || now.isBefore(a.until())).toList();
  }

  /** Called with {@link #standing()} after every new standing answer (to keep them in a file). */
  public void onChange(Consumer<List<Standing>> listener) {
    this.onChange = Objects.requireNonNull(listener, "listener");
  }

  /**
   * The standing answer that covers {@code request}, if a person gave one with a host or host:port scope; for a
   * request inside an intercepted tunnel, also the approval of that tunnel (its connection), whatever the scope.
   */
  public Optional<Answer> standingAnswer(AccessRequest request) {
    if (request.protocol() == Protocol.HTTPS) {
      Answer tunnel = approvedTunnels.get(request.connectionId());
      if (tunnel != null) {
        return Optional.of(tunnel);
      }
    }
    Instant now = clock.instant();
    standing.removeIf(s -> s.until() != null && !now.isBefore(s.until()));
    // The latest answer wins, so "approve --scope host" after an earlier "deny --scope host" opens the host again.
    for (int i = standing.size() - 1; i >= 0; i--) {
      Standing s = standing.get(i);
      if (s.covers(request, now)) {
        return Optional.of(s.answer());
      }
    }
    return Optional.empty();
  }

  /**
   * Lists {@code request} as waiting; the future completes with a person's answer. The caller times it out and then
   * calls {@link #forget}.
   */
  public Pending await(AccessRequest request, String reason, CompletableFuture<Answer> answer) {
    Pending pending = new Pending(ids.incrementAndGet(), request, clock.instant(), reason == null ? "" : reason);
    waiting.put(pending.id(), new Waiter(pending, answer));
    answer.whenComplete((a, e) -> waiting.remove(pending.id()));
    return pending;
  }

  /** Stops listing a request (its client went away, or it timed out). */
  public void forget(long id) {
    waiting.remove(id);
  }

  /** The requests waiting now, oldest first. */
  public List<Pending> pending() {
    List<Pending> all = new ArrayList<>();
    waiting.values().forEach(w -> all.add(w.pending()));
    all.sort(Comparator.comparingLong(Pending::id));
    return all;
  }

  /**
   * Answers the waiting request {@code id}; with a host or host:port scope, also every request waiting for the same
   * destination and, as a standing answer, the ones to come (for {@code duration}, or for the daemon's life when
   * null).
   *
   * @return false when no request with that id is waiting (already answered, timed out, or never was)
   */
  public boolean answer(long id, Answer answer, Scope scope, Duration duration) {
    Objects.requireNonNull(answer, "answer");
    Objects.requireNonNull(scope, "scope");
    Waiter waiter = waiting.get(id);
    if (waiter == null) {
      return false;
    }
    AccessRequest request = waiter.pending().request();
    if (scope != Scope.ONCE) {
      Standing given = new Standing(request.destination().host().value(),
          scope == Scope.HOST ? -1 : request.destination().port(), answer,
          duration == null ? null : clock.instant().plus(duration));
      standing.add(given);
      onChange.accept(standing());
      Instant now = clock.instant();
      for (Waiter other : List.copyOf(waiting.values())) {
        if (given.covers(other.pending().request(), now)) {
          other.answer().complete(answer);
        }
      }
    }
    if (answer.approved() && (request.protocol() == Protocol.HTTPS_CONNECT
        || request.protocol() == Protocol.SOCKS5_TCP)) {
      approvedTunnels.put(request.connectionId(), answer);
    }
    waiter.answer().complete(answer);
    return true;
  }
}
