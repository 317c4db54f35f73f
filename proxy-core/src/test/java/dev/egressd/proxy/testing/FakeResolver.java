package dev.egressd.proxy.testing;

import dev.egressd.policy.HostName;
import dev.egressd.policy.IpAddress;
import dev.egressd.proxy.dns.Resolver;
import io.netty.util.concurrent.Promise;
import java.net.UnknownHostException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/** Answers from a fixed table and records every lookup, so "never resolved" is a real assertion. */
public final class FakeResolver implements Resolver {
  private final Map<String, List<IpAddress>> answers = new ConcurrentHashMap<>();
  private final List<String> lookups = new CopyOnWriteArrayList<>();
  private volatile boolean hang;

  public FakeResolver map(String host, String... addresses) {
    answers.put(host, java.util.Arrays.stream(addresses).map(a -> IpAddress.parse(a).orElseThrow()).toList());
    return this;
  }

  /** Never completes lookups, to exercise the timeout. */
  public FakeResolver hang() {
    hang = true;
    return this;
  }

  public List<String> lookups() {
    return List.copyOf(lookups);
  }

  @Override
  public void resolve(HostName host, Promise<List<IpAddress>> promise) {
    lookups.add(host.value());
    if (hang) {
      return;
    }
    List<IpAddress> found = answers.get(host.value());
    if (found == null) {
      promise.tryFailure(new UnknownHostException(host.value()));
    } else {
      promise.trySuccess(found);
    }
  }
}
