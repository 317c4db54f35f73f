package dev.egressd.proxy.tunnel;

import dev.egressd.audit.AuditEvent;
import dev.egressd.audit.AuditSink;
import dev.egressd.policy.AccessRequest;
import dev.egressd.proxy.PipelineNames;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import java.time.Clock;
import java.time.Instant;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayDeque;
import java.util.Queue;

/**
 * Joins a client channel and an upstream channel with a pair of {@link RelayHandler}s and records one
 * {@link AuditEvent.TunnelClosed} when both directions have ended. Front ends call {@link #start} once their
 * protocol handshake is over and their own handlers are gone.
 */
public final class Tunnel {
  private final AccessRequest request;
  private final AuditSink audit;
  private final Clock clock;
  private final Instant opened;
  private long bytesUp = -1;
  private long bytesDown = -1;

  private Tunnel(AccessRequest request, AuditSink audit, Clock clock) {
    this.request = request;
    this.audit = audit;
    this.clock = clock;
    this.opened = clock.instant();
  }

  /**
   * Sends {@code earlyData} (bytes the client sent before the tunnel was established) upstream, then installs the
   * relays at the end of both pipelines and starts reading. Both channels must share an event loop and have
   * auto-read off; call on that loop.
   */
  public static void start(Channel client, Channel upstream, AccessRequest request, AuditSink audit, Clock clock,
      Queue<Object> earlyData) {
    Tunnel tunnel = new Tunnel(request, audit, clock);
    audit.record(new AuditEvent.TunnelOpened(tunnel.opened, request));
    long early = 0;
    for (Object msg; (msg = earlyData.poll()) != null; ) {
      early += msg instanceof ByteBuf buf ? buf.readableBytes() : 0;
      upstream.write(msg);
    }
    upstream.flush();
    long earlyBytes = early;
    // From here a FIN ends one direction only (RelayHandler); before, it ended the front end's exchange.
    client.config().setOption(ChannelOption.ALLOW_HALF_CLOSURE, true);
    upstream.config().setOption(ChannelOption.ALLOW_HALF_CLOSURE, true);
    client.pipeline().addLast(PipelineNames.RELAY, new RelayHandler(upstream, n -> tunnel.upDone(earlyBytes + n)));
    upstream.pipeline().addLast(PipelineNames.RELAY, new RelayHandler(client, tunnel::downDone));
  }

  /**
   * Ends a front end's handshake phase and starts the tunnel: removes the named front-end handlers from the client
   * pipeline, sends {@code early} upstream first, relays both ways, and closes the client once the upstream is gone.
   * Call on the event loop after the client was told the tunnel is open.
   */
  public static void handOver(Channel client, Channel upstream, AccessRequest request, AuditSink audit, Clock clock,
      Queue<Object> early, String... frontEndHandlers) {
    Queue<Object> handover = detach(client, early, frontEndHandlers);
    start(client, upstream, request, audit, clock, handover);
    upstream.closeFuture().addListener(c -> RelayHandler.closeOnFlush(client));
  }

  /** As {@link #handOver}, but to the interception stage, which connects every inner request itself. */
  static void handOver(Channel client, Vetting.Approved tunnel, TunnelInterceptor interceptor,
      TunnelEstablisher establisher, Queue<Object> early, String... frontEndHandlers) {
    interceptor.intercept(client, tunnel, establisher, detach(client, early, frontEndHandlers));
  }

  /** Releases what a front end queued for a tunnel that will not start (refused, failed, or the client left). */
  public static void releaseAll(Queue<Object> early) {
    for (Object msg; (msg = early.poll()) != null; ) {
      ReferenceCountUtil.release(msg);
    }
  }

  private static Queue<Object> detach(Channel client, Queue<Object> early, String... frontEndHandlers) {
    Queue<Object> handover = new ArrayDeque<>(early);
    early.clear(); // the handlers removed below release what they still hold; this now belongs to the tunnel
    for (String name : frontEndHandlers) {
      client.pipeline().remove(name);
    }
    return handover;
  }

  private void upDone(long bytes) {
    bytesUp = bytes;
    maybeRecord();
  }

  private void downDone(long bytes) {
    bytesDown = bytes;
    maybeRecord();
  }

  private void maybeRecord() {
    if (bytesUp >= 0 && bytesDown >= 0) {
      Instant closed = clock.instant();
      audit.record(new AuditEvent.TunnelClosed(closed, request, bytesUp, bytesDown,
          closed.toEpochMilli() - opened.toEpochMilli()));
    }
  }
}
