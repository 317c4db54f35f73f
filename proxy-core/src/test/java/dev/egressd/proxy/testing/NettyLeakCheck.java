package dev.egressd.proxy.testing;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.UnpooledByteBufAllocator;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Fails a test class when Netty's leak detector reported a leaked buffer during it. The detector only logs, so on
 * its own a leak in a passing test would go unnoticed; registered for every test class of the Netty modules through
 * JUnit's extension auto-detection (the service file next to this test-jar, enabled in the parent pom).
 *
 * <p>The detector notices a leak only when the leaked buffer has been garbage collected and a later allocation polls
 * its queue, so after each class this collects and allocates until the queue has been drained.
 */
public final class NettyLeakCheck implements AfterAllCallback {
  private static final Queue<String> REPORTED = new ConcurrentLinkedQueue<>();

  static {
    ByteBufUtil.setLeakListener((resourceType, records) -> REPORTED.add(resourceType + records));
  }

  /** Leaks reported since the last call, and forgets them. */
  public static List<String> drain() {
    List<String> leaks = new ArrayList<>();
    for (String leak; (leak = REPORTED.poll()) != null; ) {
      leaks.add(leak);
    }
    return leaks;
  }

  @Override
  public void afterAll(ExtensionContext context) throws InterruptedException {
    for (int round = 0; round < 3; round++) {
      System.gc();
      Thread.sleep(20);
      // Allocations run the detector's reference-queue poll, which is where it reports.
      for (int i = 0; i < 64; i++) {
        ByteBuf pooled = PooledByteBufAllocator.DEFAULT.directBuffer(16);
        ByteBuf unpooled = UnpooledByteBufAllocator.DEFAULT.heapBuffer(16);
        pooled.release();
        unpooled.release();
      }
    }
    List<String> leaks = drain();
    if (!leaks.isEmpty()) {
      throw new AssertionError("Netty's leak detector reported " + leaks.size() + " leaked buffer(s) during "
          + context.getDisplayName() + ":\n" + String.join("\n", leaks));
    }
  }
}
