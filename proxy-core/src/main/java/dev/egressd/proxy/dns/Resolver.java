package dev.egressd.proxy.dns;

import dev.egressd.policy.HostName;
import dev.egressd.policy.IpAddress;
import io.netty.util.concurrent.Promise;
import java.util.List;

/**
 * Resolves host names to addresses without blocking the caller. Only names the policy already allows are ever
 * passed in, so lookups never leak denied names.
 */
public interface Resolver {
  /**
   * Starts a lookup of {@code host} (never an IP literal) and completes {@code promise} with every address of the
   * answer, or fails it with {@link java.net.UnknownHostException}. Must not block the calling thread.
   */
  void resolve(HostName host, Promise<List<IpAddress>> promise);
}
