package dev.egressd.proxy.testing;

import io.netty.buffer.AbstractByteBufAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.UnpooledDirectByteBuf;
import io.netty.buffer.UnpooledHeapByteBuf;
import java.util.ArrayList;
import java.util.List;

/**
 * An unpooled allocator that remembers every buffer it hands out, so a test can check that all of them were
 * released once a channel is finished. Unlike Netty's leak detector this does not wait for garbage collection, so
 * a leak fails the very input that caused it. Not thread-safe: use it on one EmbeddedChannel.
 */
public final class TrackingAllocator extends AbstractByteBufAllocator {
  private final List<ByteBuf> allocated = new ArrayList<>();

  public TrackingAllocator() {
    super(false);
  }

  @Override
  protected ByteBuf newHeapBuffer(int initialCapacity, int maxCapacity) {
    return track(new UnpooledHeapByteBuf(this, initialCapacity, maxCapacity));
  }

  @Override
  protected ByteBuf newDirectBuffer(int initialCapacity, int maxCapacity) {
    return track(new UnpooledDirectByteBuf(this, initialCapacity, maxCapacity));
  }

  @Override
  public boolean isDirectBufferPooled() {
    return false;
  }

  /** Throws an AssertionError naming the unreleased buffers, if there are any. */
  public void assertAllReleased() {
    List<String> leaked = allocated.stream().filter(b -> b.refCnt() != 0)
        .map(b -> b + " refCnt=" + b.refCnt()).toList();
    if (!leaked.isEmpty()) {
      throw new AssertionError(leaked.size() + " of " + allocated.size() + " buffers not released: " + leaked);
    }
  }

  private ByteBuf track(ByteBuf buf) {
    allocated.add(buf);
    return buf;
  }
}
