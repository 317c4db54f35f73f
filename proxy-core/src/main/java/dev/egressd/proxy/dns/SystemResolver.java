package dev.egressd.proxy.dns;

import dev.egressd.policy.HostName;
import dev.egressd.policy.IpAddress;
import io.netty.util.concurrent.Promise;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Resolves through the operating system ({@code getaddrinfo} via {@link InetAddress}), so {@code /etc/hosts},
 * {@code nsswitch.conf} and corporate resolver setups behave as they do for curl. The blocking calls run on a small
 * bounded pool, never on an event loop; the caller enforces the timeout on its promise.
 */
public final class SystemResolver implements Resolver, AutoCloseable {
  private final ExecutorService pool;

  /**
   * Creates a resolver.
   *
   * @param threads concurrent lookups; further lookups queue (up to {@code queueLimit}) and beyond that fail
   */
  public SystemResolver(int threads, int queueLimit) {
    AtomicInteger counter = new AtomicInteger();
    this.pool = new ThreadPoolExecutor(threads, threads, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(queueLimit),
        r -> {
          Thread t = new Thread(r, "egressd-dns-" + counter.incrementAndGet());
          t.setDaemon(true);
          return t;
        });
    ((ThreadPoolExecutor) pool).allowCoreThreadTimeOut(true);
  }

  @Override
  public void resolve(HostName host, Promise<List<IpAddress>> promise) {
    try {
      pool.execute(() -> lookup(host, promise));
    } catch (RejectedExecutionException e) {
      promise.tryFailure(new UnknownHostException(host.value() + ": too many lookups in progress"));
    }
  }

  private static void lookup(HostName host, Promise<List<IpAddress>> promise) {
    if (promise.isDone()) {
      return; // timed out while queued
    }
    try {
      InetAddress[] answers = InetAddress.getAllByName(host.value());
      List<IpAddress> addresses = new ArrayList<>(answers.length);
      for (InetAddress answer : answers) {
        addresses.add(IpAddress.of(answer));
      }
      promise.trySuccess(List.copyOf(addresses));
    } catch (UnknownHostException e) {
      promise.tryFailure(e);
    } catch (RuntimeException e) {
      promise.tryFailure(new UnknownHostException(host.value() + ": " + e.getMessage()));
    }
  }

  @Override
  public void close() {
    pool.shutdownNow();
  }
}
