package dev.egressd.proxy.tunnel;

import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.RecvByteBufAllocator;

/**
 * Caps how many bytes one socket read may take. Every channel the proxy owns has auto-read off and reads again
 * only after the previous read's bytes were written on ({@link RelayHandler}, the HTTP handlers), so this cap is
 * also the most one direction of a connection holds in memory: a peer that stops reading stalls its sender in the
 * kernel's socket buffers, not in the heap.
 */
public final class ReadLimit {
  /** Netty's own default ceiling, and the {@code [limits] max_buffered_bytes} default. */
  public static final int DEFAULT_MAX_READ_BYTES = 65536;

  private ReadLimit() {}

  /** An adaptive allocator that grows with busy connections but never beyond {@code maxReadBytes}. */
  public static RecvByteBufAllocator allocator(int maxReadBytes) {
    if (maxReadBytes < 64) {
      throw new IllegalArgumentException("maxReadBytes: " + maxReadBytes + " (expected: >= 64)");
    }
    return new AdaptiveRecvByteBufAllocator(64, Math.min(2048, maxReadBytes), maxReadBytes);
  }
}
