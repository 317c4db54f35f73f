package dev.egressd.proxy.http;

import dev.egressd.policy.AccessRequest;
import dev.egressd.policy.Decision;
import dev.egressd.policy.Destination;
import dev.egressd.policy.InvalidHostException;
import dev.egressd.policy.IpAddress;
import dev.egressd.policy.PolicySource;
import dev.egressd.policy.Protocol;
import dev.egressd.policy.Reason;
import dev.egressd.proxy.PipelineNames;
import dev.egressd.proxy.ProxyOptions;
import dev.egressd.proxy.internal.DrainEvent;
import dev.egressd.proxy.tunnel.RelayHandler;
import dev.egressd.proxy.tunnel.Tunnel;
import dev.egressd.proxy.tunnel.TunnelInterceptor;
import dev.egressd.proxy.tunnel.UpstreamConnector;
import dev.egressd.proxy.tunnel.UpstreamFailure;
import dev.egressd.proxy.tunnel.Vetting;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.ssl.NotSslRecordException;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP proxy front end for one client connection: decides each absolute-form request and streams it to its
 * origin, or decides a CONNECT and hands the connection to a {@link Tunnel}.
 *
 * <p>Requests on a kept-alive connection are handled one at a time, each decided on its own; pipelined requests
 * wait in {@link #pending} (at most what one socket read produced, since reading stops while a request is being
 * decided or answered). Bodies stream in both directions with read-after-write backpressure; nothing is buffered
 * whole. The upstream connection is reused for the next request only when it goes to the same vetted destination.
 */
final class HttpProxyHandler extends ChannelInboundHandlerAdapter {
  private static final Logger log = LoggerFactory.getLogger(HttpProxyHandler.class);

  private enum State {
    /** Waiting for the next request head. */
    AWAITING_HEAD,
    /** Deciding, resolving or connecting; client input waits in {@link #pending}. */
    VETTING,
    /** Forwarding the request body upstream. */
    STREAMING_BODY,
    /** Request sent; waiting for the response to finish. */
    AWAITING_RESPONSE,
    /** The request was answered by the proxy; dropping the rest of its body. */
    DISCARDING_BODY,
    /** The origin accepted an upgrade; the connection is becoming a tunnel. */
    SWITCHING_PROTOCOLS,
    /** Closing; everything is dropped. */
    CLOSING
  }

  private final UpstreamConnector connector;
  private final ProxyOptions options;
  private final TunnelInterceptor interceptor;
  private final InterceptedHttp.Tunnel tunnel;
  private final ArrayDeque<Object> pending = new ArrayDeque<>();
  private ChannelHandlerContext ctx;
  private State state = State.AWAITING_HEAD;
  private ScheduledFuture<?> headDeadline;
  private AccessRequest current;
  private boolean clientKeepAlive;
  private boolean requestHasBody;
  private Channel upstream;
  private Destination upstreamDestination;
  private boolean upstreamReusable;
  private boolean responseInProgress;
  private boolean skippingInformational;
  private boolean closeAfterResponse;
  private Channel switching;
  private boolean clientHttp11;
  private boolean draining;
  private final ArrayDeque<Object> upgradeEarly = new ArrayDeque<>();

  /**
   * Creates the handler for one connection.
   *
   * @param interceptor takes over CONNECT tunnels the policy says to intercept; null when interception is off
   * @param tunnel null on the proxy listener; inside an intercepted tunnel, the tunnel's request: every inner
   *     request must name its host, is decided as {@link Protocol#HTTPS}, and goes upstream over verified TLS
   */
  HttpProxyHandler(UpstreamConnector connector, ProxyOptions options, TunnelInterceptor interceptor,
      InterceptedHttp.Tunnel tunnel) {
    this.connector = connector;
    this.options = options;
    this.interceptor = interceptor;
    this.tunnel = tunnel;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
    if (ctx.channel().isActive()) {
      start(); // installed into a running tunnel: there will be no channelActive
    }
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) {
    start();
    ctx.fireChannelActive();
  }

  private void start() {
    armHeadDeadline();
    ctx.read();
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    switch (state) {
      case AWAITING_HEAD -> {
        if (msg instanceof HttpRequest request) {
          onRequestHead(request);
        } else {
          ReferenceCountUtil.release(msg); // stray content after a refused request's body
          readIfIdle();
        }
      }
      case STREAMING_BODY -> {
        if (msg instanceof HttpContent content) {
          forwardBody(content);
        } else {
          pending.add(msg);
        }
      }
      case DISCARDING_BODY -> {
        if (msg instanceof HttpContent content && content.decoderResult().isFailure()) {
          content.release();
          closeClient(); // the codec discards everything after a framing error: nothing more can be parsed
        } else if (msg instanceof HttpContent content) {
          boolean last = content instanceof LastHttpContent;
          content.release();
          if (last) {
            state = State.AWAITING_HEAD;
            armHeadDeadline();
            drainPending();
          }
          readIfIdle();
        } else {
          pending.add(msg);
        }
      }
      case SWITCHING_PROTOCOLS -> ReferenceCountUtil.release(msg); // no reads are asked for while switching
      case CLOSING -> ReferenceCountUtil.release(msg);
      default -> pending.add(msg);
    }
  }

  private void onRequestHead(HttpRequest request) {
    cancelHeadDeadline();
    if (request.decoderResult().isFailure()) {
      answer(HttpMessages.malformed(request.decoderResult().cause()), true);
      return;
    }
    clientKeepAlive = HttpUtil.isKeepAlive(request) && !draining;
    clientHttp11 = HttpVersion.HTTP_1_1.equals(request.protocolVersion());
    requestHasBody = HttpUtil.isTransferEncodingChunked(request) || HttpUtil.getContentLength(request, 0L) > 0;
    if (HttpMethod.CONNECT.equals(request.method()) && tunnel != null) {
      answer(HttpMessages.error(HttpResponseStatus.METHOD_NOT_ALLOWED, "connect-in-tunnel",
          "CONNECT not supported inside an intercepted tunnel"), true);
    } else if (HttpMethod.CONNECT.equals(request.method())) {
      onConnect(request);
    } else {
      onForward(request);
    }
  }

  /**
   * Hands the connection to a {@link ConnectHandler}: it replaces this handler before the codec stops decoding, so
   * bytes the client sends behind the CONNECT head reach it raw.
   */
  private void onConnect(HttpRequest request) {
    Destination destination;
    try {
      destination = Destination.parseAuthority(request.uri());
    } catch (InvalidHostException e) {
      answer(HttpMessages.error(HttpResponseStatus.BAD_REQUEST, "invalid-host", e.getMessage()), true);
      return;
    }
    if (pending.stream().anyMatch(msg -> !(msg instanceof LastHttpContent last) || last.content().isReadable())) {
      // Bytes after a pipelined CONNECT were already parsed as HTTP, so they cannot be tunnelled intact.
      answer(HttpMessages.error(HttpResponseStatus.BAD_REQUEST, "malformed-request",
          "CONNECT must not be pipelined behind other requests"), true);
      return;
    }
    AccessRequest connect = AccessRequest.of(destination, Protocol.HTTPS_CONNECT, "CONNECT", client());
    ChannelHandlerContext own = ctx;
    own.pipeline().replace(this, PipelineNames.CONNECT, new ConnectHandler(connector, connect,
        options.idleTimeout(), interceptor));
    own.pipeline().get(HttpServerCodec.class).removeInboundHandler();
  }

  // ---- absolute-form forwarding ----

  private void onForward(HttpRequest request) {
    RequestTarget target;
    try {
      if (tunnel == null) {
        target = RequestTarget.parseAbsolute(request.uri());
        RequestTarget.checkHeaders(request, target.destination());
      } else {
        target = RequestTarget.parseInTunnel(request, tunnel.request().destination());
        RequestTarget.checkFraming(request);
      }
    } catch (RequestTarget.BadTargetException e) {
      if (tunnel != null && e.proxyError.equals("host-mismatch")) {
        recordHostMismatch(request, e.getMessage());
      }
      answer(HttpMessages.error(e.status, e.proxyError, e.getMessage()), true);
      return;
    }
    boolean upgrade = request.headers().contains(HttpHeaderNames.UPGRADE);
    current = new AccessRequest(target.destination(), tunnel == null ? Protocol.HTTP : Protocol.HTTPS,
        request.method().name(), upgrade, client());
    if (request.headers().contains("x-unix-socket")) {
      Decision unsupported = Decision.deny(Reason.UNIX_SOCKET_UNSUPPORTED, PolicySource.PROXY_STATE, null,
          "Unix-socket proxying via x-unix-socket is only available on macOS.");
      connector.recordDecision(current, unsupported);
      answer(HttpMessages.error(HttpResponseStatus.NOT_IMPLEMENTED, "unix-socket-unsupported",
          "unix sockets unsupported"), requestHasBody);
      return;
    }
    state = State.VETTING;
    connector.vet(current, ctx.executor()).addListener(f -> onForwardVetted(request, target, (Vetting) f.getNow()));
  }

  /** Unlike the reference, refusals inside intercepted tunnels are audited too. */
  private void recordHostMismatch(HttpRequest request, String why) {
    AccessRequest inner = new AccessRequest(tunnel.request().destination(), Protocol.HTTPS,
        request.method().name(), false, client());
    connector.recordDecision(inner, Decision.deny(Reason.HOST_MISMATCH, PolicySource.BASELINE_POLICY, null,
        why + " (the tunnel was opened for " + tunnel.request().destination().authority() + ")."));
  }

  private void onForwardVetted(HttpRequest request, RequestTarget target, Vetting vetting) {
    if (state == State.CLOSING) {
      return;
    }
    if (vetting instanceof Vetting.Refused refused) {
      answer(HttpMessages.blockedJson(current, refused.decision()), requestHasBody);
    } else if (vetting instanceof Vetting.Unresolved unresolved) {
      answer(HttpMessages.upstreamFailure(unresolved.failure(), current.destination().host().value()),
          requestHasBody);
    } else {
      Vetting.Approved approved = (Vetting.Approved) vetting;
      if (upstream != null && upstreamReusable && upstream.isActive()
          && target.destination().equals(upstreamDestination) && dialsVettedAddress(upstream, approved)) {
        sendRequest(request, target);
        return;
      }
      closeUpstream();
      connector.connect(approved, ctx.channel().eventLoop(), new ChannelInitializer<>() {
        @Override
        protected void initChannel(Channel ch) {
          ch.pipeline().addLast(PipelineNames.IDLE_TIMEOUT, idleHandler());
          if (tunnel != null) {
            ch.pipeline().addLast(PipelineNames.UPSTREAM_TLS, tunnel.upstreamTls(ch.alloc(), target.destination()));
          }
          ch.pipeline().addLast(PipelineNames.HTTP_CLIENT_CODEC, new HttpClientCodec(
              options.maxInitialLineLength(), options.maxHeaderSize(), 65536));
          ch.pipeline().addLast(PipelineNames.UPSTREAM_RESPONSE, new UpstreamResponseHandler());
        }
      }).addListener(f -> onForwardConnected(request, target, f));
    }
  }

  /** A kept-alive upstream is reused only if its address passed this request's vetting too. */
  private static boolean dialsVettedAddress(Channel channel, Vetting.Approved approved) {
    return channel.remoteAddress() instanceof InetSocketAddress remote
        && approved.addresses().contains(IpAddress.of(remote.getAddress()));
  }

  private void onForwardConnected(HttpRequest request, RequestTarget target, Future<?> connect) {
    if (!connect.isSuccess()) {
      UpstreamFailure failure = UpstreamConnector.classify(connect.cause());
      connector.recordFailure(current, failure);
      answer(HttpMessages.upstreamFailure(failure, current.destination().authority()), requestHasBody);
      return;
    }
    Channel channel = (Channel) connect.getNow();
    if (state == State.CLOSING) {
      channel.close();
      return;
    }
    if (tunnel == null) {
      useUpstream(channel, request, target);
      return;
    }
    channel.pipeline().get(SslHandler.class).handshakeFuture().addListener(handshake -> {
      if (handshake.isSuccess()) {
        useUpstream(channel, request, target);
      } else if (state != State.CLOSING) {
        channel.close();
        connector.recordFailure(current, UpstreamFailure.UPSTREAM_TLS);
        answer(HttpMessages.upstreamFailure(UpstreamFailure.UPSTREAM_TLS, rootMessage(handshake.cause())),
            requestHasBody);
      }
    });
  }

  private void useUpstream(Channel channel, HttpRequest request, RequestTarget target) {
    if (state == State.CLOSING) {
      channel.close();
      return;
    }
    upstream = channel;
    upstreamDestination = target.destination();
    sendRequest(request, target);
  }

  private static final int MAX_TLS_DETAIL = 200;

  /** The innermost cause, as one short line; never the origin's own bytes (Netty hex-dumps a non-TLS record). */
  private static String rootMessage(Throwable cause) {
    Throwable root = cause;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    if (root instanceof NotSslRecordException) {
      return "the origin did not answer with TLS";
    }
    String message = root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage();
    message = message.replaceAll("[\\r\\n\\t]+", " ");
    return message.length() <= MAX_TLS_DETAIL ? message : message.substring(0, MAX_TLS_DETAIL) + "...";
  }

  private void sendRequest(HttpRequest request, RequestTarget target) {
    request.setUri(target.originForm());
    String upgradeTo = current.upgrade() ? request.headers().get(HttpHeaderNames.UPGRADE) : null;
    HttpMessages.stripHopByHop(request.headers());
    if (upgradeTo != null) {
      // The policy allowed the upgrade (full mode), so it is the one hop-by-hop header pair we pass on.
      request.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE);
      request.headers().set(HttpHeaderNames.UPGRADE, upgradeTo);
    }
    if (!request.headers().contains(HttpHeaderNames.HOST)) {
      request.headers().set(HttpHeaderNames.HOST, hostHeader(target.destination()));
    }
    if (HttpUtil.is100ContinueExpected(request)) {
      // We answer 100 ourselves only now that the request is allowed and connected, then stream the body.
      request.headers().remove(HttpHeaderNames.EXPECT);
      ctx.writeAndFlush(new DefaultFullHttpResponse(request.protocolVersion(), HttpResponseStatus.CONTINUE));
    }
    upstreamReusable = true;
    responseInProgress = false;
    closeAfterResponse = !clientKeepAlive;
    state = State.STREAMING_BODY;
    Channel target0 = upstream;
    target0.writeAndFlush(request).addListener(writeFailureCloses(target0));
    target0.read();
    drainPending();
    readIfIdle();
  }

  private void forwardBody(HttpContent content) {
    if (content.decoderResult().isFailure()) {
      // A malformed body (a bad chunk size, say): forwarding this part would let the client codec end the body
      // cleanly, and the origin would see a complete request the client never sent. Cut the origin off mid-body.
      Throwable cause = content.decoderResult().cause();
      content.release();
      closeUpstream();
      if (responseInProgress) {
        closeClient();
      } else {
        answer(HttpMessages.malformed(cause), true);
      }
      return;
    }
    boolean last = content instanceof LastHttpContent;
    if (last) {
      state = State.AWAITING_RESPONSE;
    }
    Channel target = upstream;
    if (target == null) {
      content.release();
      return;
    }
    target.writeAndFlush(content).addListener((ChannelFutureListener) f -> {
      if (!f.isSuccess()) {
        target.close();
      } else if (!last && state == State.STREAMING_BODY && pending.isEmpty()) {
        ctx.read();
      }
    });
  }

  private void onResponseComplete() {
    responseInProgress = false;
    if (state == State.STREAMING_BODY || closeAfterResponse) {
      // The origin answered before the request body was complete, or either side asked to close.
      closeClient();
      return;
    }
    if (!upstreamReusable) {
      closeUpstream();
    }
    state = State.AWAITING_HEAD;
    armHeadDeadline();
    drainPending();
    readIfIdle();
  }

  private void onUpstreamClosed(Channel closed) {
    if (closed != upstream) {
      return;
    }
    upstream = null;
    if (responseInProgress) {
      closeClient(); // a truncated response cannot be repaired; the client must see the connection end
    } else if (state == State.STREAMING_BODY || state == State.AWAITING_RESPONSE) {
      connector.recordFailure(current, UpstreamFailure.UPSTREAM_CLOSED);
      answer(HttpMessages.upstreamFailure(UpstreamFailure.UPSTREAM_CLOSED, null), true);
    }
  }

  /**
   * Streams the origin's response to the client; lives on the upstream channel. A response is flushed at its end or
   * when the upstream read is over, not per part, so a small response leaves in one TLS record and one send.
   */
  private final class UpstreamResponseHandler extends ChannelInboundHandlerAdapter {
    private boolean unflushed;

    @Override
    public void channelRead(ChannelHandlerContext upstreamCtx, Object msg) {
      Channel source = upstreamCtx.channel();
      if (source == switching) {
        if (msg instanceof ByteBuf) {
          upgradeEarly.add(msg);
        } else {
          ReferenceCountUtil.release(msg); // the empty content that ends the 101
        }
        return;
      }
      if (source != upstream || state == State.CLOSING) {
        ReferenceCountUtil.release(msg);
        return;
      }
      if (msg instanceof io.netty.handler.codec.http.HttpResponse response && !onResponseHead(response)) {
        ReferenceCountUtil.release(msg);
        if (state != State.SWITCHING_PROTOCOLS && state != State.CLOSING) {
          source.read();
        }
        return;
      }
      if (!(msg instanceof io.netty.handler.codec.http.HttpResponse) && skippingInformational) {
        skippingInformational = !(msg instanceof LastHttpContent);
        ReferenceCountUtil.release(msg);
        source.read();
        return;
      }
      boolean last = msg instanceof LastHttpContent;
      if (last) {
        responseInProgress = false;
      }
      unflushed = !last;
      ChannelFuture written = last ? ctx.writeAndFlush(msg) : ctx.write(msg);
      written.addListener((ChannelFutureListener) f -> {
        if (!f.isSuccess()) {
          source.close();
          closeClient();
        } else if (last) {
          onResponseComplete();
        } else {
          source.read();
        }
      });
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext upstreamCtx) {
      if (unflushed) {
        unflushed = false;
        ctx.flush();
      }
    }

    @Override
    public void channelInactive(ChannelHandlerContext upstreamCtx) {
      onUpstreamClosed(upstreamCtx.channel());
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext upstreamCtx, Object evt) {
      if (evt instanceof IdleStateEvent) {
        upstreamCtx.close();
      }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext upstreamCtx, Throwable cause) {
      log.debug("upstream {} failed: {}", upstreamDestination, cause.toString());
      upstreamCtx.close();
    }
  }

  /** Prepares a response head for the client; false when it must be swallowed (1xx interim responses). */
  private boolean onResponseHead(io.netty.handler.codec.http.HttpResponse response) {
    int code = response.status().code();
    if (code == 101) {
      if (current.upgrade() && state == State.AWAITING_RESPONSE) {
        switchProtocols(response);
      } else {
        upstream.close(); // a switch nobody asked for: the exchange cannot continue
        closeClient();
      }
      return false;
    }
    if (code >= 100 && code < 200) {
      // We answered any Expect ourselves, so interim responses are dropped.
      skippingInformational = !(response instanceof LastHttpContent);
      return false;
    }
    // An early answer to an unfinished upload, or shutdown, ends the connection after this response.
    boolean mustClose = closeAfterResponse || state == State.STREAMING_BODY || draining;
    HttpMessages.Framing framing = HttpMessages.prepareResponseHead(response, current.method(), clientHttp11,
        mustClose);
    upstreamReusable = framing.upstreamReusable();
    closeAfterResponse = framing.closeClient();
    responseInProgress = true;
    return true;
  }

  /**
   * The origin accepted an upgrade (e.g. WebSocket): forward the 101, then both connections stop speaking HTTP and
   * become a tunnel. Relays are added before the codecs are removed, so bytes the codecs still buffer flow on.
   */
  private void switchProtocols(io.netty.handler.codec.http.HttpResponse response) {
    Channel tunnelUpstream = upstream;
    switching = tunnelUpstream;
    upstream = null;
    state = State.SWITCHING_PROTOCOLS;
    String protocol = response.headers().get(HttpHeaderNames.UPGRADE, "");
    HttpMessages.stripHopByHop(response.headers());
    response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE);
    response.headers().set(HttpHeaderNames.UPGRADE, protocol);
    ctx.writeAndFlush(new DefaultFullHttpResponse(response.protocolVersion(), response.status(),
        io.netty.buffer.Unpooled.EMPTY_BUFFER, response.headers(),
        io.netty.handler.codec.http.EmptyHttpHeaders.INSTANCE)).addListener((ChannelFutureListener) f -> {
          switching = null;
          if (!f.isSuccess() || !tunnelUpstream.isActive()) {
            tunnelUpstream.close();
            closeClient();
            return;
          }
          releasePending(); // only HTTP leftovers of the upgrade request itself can be here
          Channel client = ctx.channel();
          client.pipeline().remove(HttpServerCodec.class);
          client.pipeline().remove(this);
          for (Object early; (early = upgradeEarly.poll()) != null; ) {
            client.write(early); // origin bytes that arrived right behind the 101
          }
          client.flush();
          Tunnel.start(client, tunnelUpstream, current, connector.audit(), connector.clock(), pending);
          tunnelUpstream.pipeline().remove(PipelineNames.UPSTREAM_RESPONSE);
          tunnelUpstream.pipeline().remove(PipelineNames.HTTP_CLIENT_CODEC);
          tunnelUpstream.closeFuture().addListener(c -> RelayHandler.closeOnFlush(client));
        });
  }

  // ---- shared plumbing ----

  /** Sends a response generated by the proxy, then either resumes (keep-alive) or closes. */
  private void answer(FullHttpResponse response, boolean close) {
    boolean closing = close || !clientKeepAlive || draining || state == State.SWITCHING_PROTOCOLS;
    if (closing) {
      response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
      state = State.CLOSING;
      releasePending();
      ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
      return;
    }
    ctx.writeAndFlush(response);
    state = State.DISCARDING_BODY;
    drainPending();
    readIfIdle();
  }

  private void drainPending() {
    while (!pending.isEmpty()
        && (state == State.AWAITING_HEAD || state == State.STREAMING_BODY || state == State.DISCARDING_BODY)) {
      channelRead(ctx, pending.poll());
    }
  }

  private void readIfIdle() {
    if (pending.isEmpty() && (state == State.AWAITING_HEAD || state == State.STREAMING_BODY
        || state == State.DISCARDING_BODY)) {
      ctx.read();
    }
  }

  private ChannelFutureListener writeFailureCloses(Channel target) {
    return f -> {
      if (!f.isSuccess()) {
        target.close();
      }
    };
  }

  private IdleStateHandler idleHandler() {
    return new IdleStateHandler(0, 0, options.idleTimeout().toMillis(), TimeUnit.MILLISECONDS);
  }

  private void armHeadDeadline() {
    cancelHeadDeadline();
    headDeadline = ctx.executor().schedule(() -> {
      if (state == State.AWAITING_HEAD) {
        log.debug("closing {}: no complete request head within {}", client(), options.requestHeadTimeout());
        closeClient();
      }
    }, options.requestHeadTimeout().toMillis(), TimeUnit.MILLISECONDS);
  }

  private void cancelHeadDeadline() {
    if (headDeadline != null) {
      headDeadline.cancel(false);
      headDeadline = null;
    }
  }

  private void closeClient() {
    state = State.CLOSING;
    releasePending();
    RelayHandler.closeOnFlush(ctx.channel());
    if (!ctx.channel().isActive()) {
      ctx.close();
    }
  }

  private void closeUpstream() {
    if (upstream != null) {
      Channel old = upstream;
      upstream = null;
      old.close();
    }
  }

  private void releasePending() {
    for (Object msg; (msg = pending.poll()) != null; ) {
      ReferenceCountUtil.release(msg);
    }
  }

  private String client() {
    if (ctx.channel().remoteAddress() instanceof InetSocketAddress address) {
      return address.getAddress().getHostAddress() + ":" + address.getPort();
    }
    return ctx.channel().localAddress() instanceof InetSocketAddress ? "unknown" : "unix-socket";
  }

  private static String hostHeader(Destination destination) {
    return destination.port() == 80 ? destination.host().authorityForm() : destination.authority();
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
    if (evt == DrainEvent.INSTANCE) {
      // Shutdown: an idle keep-alive connection closes now; a request in flight finishes, then closes.
      draining = true;
      closeAfterResponse = true;
      if (state == State.AWAITING_HEAD) {
        closeClient();
      }
    } else if (evt instanceof IdleStateEvent) {
      closeClient();
    } else {
      ctx.fireUserEventTriggered(evt);
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    state = State.CLOSING;
    cancelHeadDeadline();
    releasePending();
    for (Object msg; (msg = upgradeEarly.poll()) != null; ) {
      ReferenceCountUtil.release(msg);
    }
    if (switching != null) {
      switching.close();
    }
    closeUpstream();
    ctx.fireChannelInactive();
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    cancelHeadDeadline();
    releasePending();
    closeUpstream(); // a kept-alive upstream from earlier requests is not part of a CONNECT or upgrade tunnel
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    log.debug("client {} failed: {}", client(), cause.toString());
    closeClient();
  }
}
