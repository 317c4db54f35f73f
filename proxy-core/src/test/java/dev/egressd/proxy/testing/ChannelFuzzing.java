package dev.egressd.proxy.testing;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ReferenceCountUtil;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/** Feeds fuzzer bytes to an EmbeddedChannel the way a socket would, and checks that nothing leaked or escaped. */
public final class ChannelFuzzing {
  private ChannelFuzzing() {}

  /**
   * Splits {@code input} into one to four chunks at points derived from its hash: reproducible from the input alone,
   * so seed files stay plain wire bytes while the fuzzer still sees messages cut at arbitrary places.
   */
  public static List<byte[]> chunks(byte[] input) {
    Random random = new Random(Arrays.hashCode(input));
    int count = 1 + random.nextInt(4);
    List<byte[]> chunks = new ArrayList<>(count);
    int offset = 0;
    for (int i = 0; i < count; i++) {
      int end = i == count - 1 ? input.length : offset + random.nextInt(input.length - offset + 1);
      chunks.add(Arrays.copyOfRange(input, offset, end));
      offset = end;
    }
    return chunks;
  }

  /**
   * Writes the chunks of {@code input} inbound while the channel stays open, running pending tasks after each, then
   * lets every timer fire. Throws whatever reached the end of the pipeline.
   */
  public static void feed(EmbeddedChannel channel, byte[] input) {
    for (byte[] chunk : chunks(input)) {
      if (!channel.isOpen()) {
        break;
      }
      ByteBuf buf = channel.alloc().buffer(chunk.length).writeBytes(chunk);
      channel.writeInbound(buf);
      channel.runPendingTasks();
      channel.checkException();
    }
    channel.advanceTimeBy(1, TimeUnit.HOURS);
    channel.runScheduledPendingTasks();
    channel.runPendingTasks();
    channel.checkException();
  }

  /** Reads every outbound message, releasing each, and returns the bytes of those that were buffers. */
  public static byte[] drainOutbound(EmbeddedChannel channel) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    for (Object msg; (msg = channel.readOutbound()) != null; ) {
      try {
        if (msg instanceof ByteBuf buf) {
          bytes.writeBytes(ByteBufUtil.getBytes(buf));
        }
      } finally {
        ReferenceCountUtil.release(msg);
      }
    }
    return bytes.toByteArray();
  }

  /** Closes the channel as a client hang-up would, and throws whatever reached the end of the pipeline. */
  public static void close(EmbeddedChannel channel) {
    channel.close();
    channel.runPendingTasks();
    channel.checkException();
  }

  /**
   * Checks that every buffer {@code allocator} handed out was released, and that Netty's leak detector has not
   * reported a leak; call it after {@link EmbeddedChannel#finishAndReleaseAll()}.
   */
  public static void assertNoLeaks(TrackingAllocator allocator) {
    allocator.assertAllReleased();
    List<String> leaks = NettyLeakCheck.drain();
    if (!leaks.isEmpty()) {
      throw new AssertionError("Netty's leak detector reported a leak (possibly from an earlier input): "
          + leaks.get(0));
    }
  }
}
