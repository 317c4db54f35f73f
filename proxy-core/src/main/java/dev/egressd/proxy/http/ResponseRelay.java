package dev.egressd.proxy.http;

import dev.egressd.policy.AccessRequest;
import dev.egressd.proxy.tunnel.TunnelEstablisher;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.HttpResponse;

/**
 * The client side of forwarded responses: frames each response head for the client, writes its parts, and turns an
 * accepted upgrade into a tunnel ({@link ProtocolSwitch}). It holds the response's state; the request's state stays
 * with {@link HttpProxyHandler}, which it tells through {@link Exchange}. One per client connection, on its loop.
 */
final class ResponseRelay implements OriginResponseHandler.Listener {
  /** What the relay needs to know of, and tell, the request side. */
  interface Exchange {
    /** Whether the request body is still being sent (an answer now is an early one). */
    boolean uploading();

    /** Whether the whole request was sent and its response is awaited. */
    boolean awaitingResponse();

    /** Whether nothing more is being forwarded (the client connection is closing). */
    boolean closing();

    /** The response is complete and the connection stays open: read the next request. */
    void nextRequest();

    /** Closes the client connection after what was written. */
    void closeClient();

    /** The origin closed before a response started. */
    void originLost();

    /** The connection is becoming a tunnel: stop handling HTTP. */
    void switchingProtocols();
  }

  private final ChannelHandlerContext client;
  private final OriginConnection origin;
  private final TunnelEstablisher establisher;
  private final Exchange exchange;
  private AccessRequest request;
  private boolean clientHttp11;
  private boolean closeAfterResponse;
  private boolean responseInProgress;
  private boolean draining;
  private ProtocolSwitch switching;

  ResponseRelay(ChannelHandlerContext client, OriginConnection origin, TunnelEstablisher establisher,
      Exchange exchange) {
    this.client = client;
    this.origin = origin;
    this.establisher = establisher;
    this.exchange = exchange;
  }

  /** A request was sent to the origin; its response comes next. */
  void begin(AccessRequest sent, boolean clientHttp11, boolean closeAfter) {
    this.request = sent;
    this.clientHttp11 = clientHttp11;
    this.closeAfterResponse = closeAfter;
    this.responseInProgress = false;
  }

  /** Whether part of a response was already written to the client (so it cannot get a proxy answer instead). */
  boolean responseInProgress() {
    return responseInProgress;
  }

  /** Shutdown: the connection closes once the response in flight, if any, is complete. */
  void drain() {
    draining = true;
    closeAfterResponse = true;
  }

  /** The client went away: drops a protocol switch in progress. */
  void abandon() {
    if (switching != null) {
      switching.abandon();
    }
  }

  @Override
  public boolean serves(Channel upstream) {
    return upstream == origin.channel() && !exchange.closing();
  }

  @Override
  public OriginResponseHandler.Head head(HttpResponse response) {
    int code = response.status().code();
    if (code == 101) {
      if (request.upgrade() && exchange.awaitingResponse()) {
        exchange.switchingProtocols();
        switching = new ProtocolSwitch(origin.release());
        switching.start(client, response, request, establisher, exchange::closeClient);
        return OriginResponseHandler.Head.UPGRADE;
      }
      origin.close(); // a switch nobody asked for: the exchange cannot continue
      exchange.closeClient();
      return OriginResponseHandler.Head.ABORT;
    }
    if (code >= 100 && code < 200) {
      return OriginResponseHandler.Head.INTERIM; // we answered any Expect ourselves
    }
    // An early answer to an unfinished upload, or shutdown, ends the connection after this response.
    boolean mustClose = closeAfterResponse || exchange.uploading() || draining;
    HttpMessages.Framing framing = HttpMessages.prepareResponseHead(response, request.method(), clientHttp11,
        mustClose);
    origin.reusable(framing.upstreamReusable());
    closeAfterResponse = framing.closeClient();
    responseInProgress = true;
    return OriginResponseHandler.Head.FORWARD;
  }

  @Override
  public ChannelFuture forward(Object part, boolean last) {
    if (last) {
      responseInProgress = false;
      return client.writeAndFlush(part);
    }
    return client.write(part);
  }

  @Override
  public void flush() {
    client.flush();
  }

  @Override
  public void responseComplete() {
    responseInProgress = false;
    if (exchange.uploading() || closeAfterResponse) {
      // The origin answered before the request body was complete, or either side asked to close.
      exchange.closeClient();
      return;
    }
    if (!origin.reusable()) {
      origin.close();
    }
    exchange.nextRequest();
  }

  @Override
  public void clientWriteFailed() {
    exchange.closeClient();
  }

  @Override
  public void upgradeBytes(ByteBuf bytes) {
    if (switching != null) {
      switching.originBytes(bytes);
    } else {
      bytes.release();
    }
  }

  @Override
  public void originClosed(Channel closed) {
    if (!origin.forget(closed)) {
      return;
    }
    if (responseInProgress) {
      exchange.closeClient(); // a truncated response cannot be repaired; the client must see the connection end
    } else {
      exchange.originLost();
    }
  }
}
