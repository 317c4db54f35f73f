package dev.egressd.proxy.http;

import dev.egressd.policy.AccessRequest;
import dev.egressd.policy.Credential;
import dev.egressd.policy.Credentials;
import dev.egressd.policy.Decision;
import dev.egressd.policy.PolicyEngine;
import dev.egressd.proxy.ProxyOptions;
import dev.egressd.proxy.internal.ClientConnections;
import dev.egressd.proxy.internal.DrainEvent;
import dev.egressd.proxy.tunnel.Dialer;
import dev.egressd.proxy.tunnel.ParentProxyException;
import dev.egressd.proxy.tunnel.RelayHandler;
import dev.egressd.proxy.tunnel.TunnelEstablisher;
import dev.egressd.proxy.tunnel.UpstreamException;
import dev.egressd.proxy.tunnel.UpstreamFailure;
import dev.egressd.proxy.tunnel.Vetting;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP front end for one client connection: decides each request and streams it to its origin, or hands a
 * CONNECT to a {@link ConnectHandler}. The same handler serves the requests inside an intercepted tunnel; what
 * differs there is one {@link RequestRules} strategy.
 *
 * <p>Requests on a kept-alive connection are handled one at a time, each decided on its own; pipelined requests
 * wait in {@link #pending} (at most what one socket read produced, since reading stops while a request is being
 * decided or answered). Bodies stream in both directions with read-after-write backpressure; nothing is buffered
 * whole. The origin side is an {@link OriginConnection}, whose {@link OriginResponseHandler} streams responses
 * through a {@link ResponseRelay}; an accepted upgrade becomes a tunnel through a {@link ProtocolSwitch}.
 */
final class HttpProxyHandler extends ChannelInboundHandlerAdapter implements ResponseRelay.Exchange {
  private static final Logger log = LoggerFactory.getLogger(HttpProxyHandler.class);

  private enum State {
    AWAITING_HEAD, // waiting for the next request head
    VETTING, // deciding, resolving or connecting; client input waits in pending
    SCANNING_BODY, // allowed; holding the body's first bytes to look for a credential's stand-in
    STREAMING_BODY, // forwarding the request body upstream
    AWAITING_RESPONSE, // request sent; waiting for the response to finish
    DISCARDING_BODY, // the proxy answered the request; dropping the rest of its body
    SWITCHING_PROTOCOLS, // the origin accepted an upgrade; the connection is becoming a tunnel
    CLOSING // everything is dropped
  }

  private final TunnelEstablisher establisher;
  private final ProxyOptions options;
  private final RequestRules rules;
  private final OriginConnection origin;
  private final ArrayDeque<Object> pending = new ArrayDeque<>();
  private ChannelHandlerContext ctx;
  private State state = State.AWAITING_HEAD;
  private HeadDeadline headDeadline;
  private AccessRequest current;
  private boolean clientKeepAlive;
  private boolean clientHttp11;
  private boolean requestHasBody;
  private boolean draining;
  private ResponseRelay responses;

  HttpProxyHandler(TunnelEstablisher establisher, ProxyOptions options, RequestRules rules) {
    this.establisher = establisher;
    this.options = options;
    this.rules = rules;
    this.origin = new OriginConnection(establisher, options, rules);
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
    this.responses = new ResponseRelay(ctx, origin, establisher, this);
    this.headDeadline = new HeadDeadline(ctx.executor(), options.requestHeadTimeout(), this::headTimedOut);
    if (ctx.channel().isActive()) { // installed into a running tunnel: there will be no channelActive
      headDeadline.arm();
      ctx.read();
    }
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) {
    headDeadline.arm();
    ctx.read();
    ctx.fireChannelActive();
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
      case STREAMING_BODY -> forwardBody(msg);
      case SCANNING_BODY -> scanBody(msg);
      case DISCARDING_BODY -> discardBody(msg);
      case SWITCHING_PROTOCOLS, CLOSING -> ReferenceCountUtil.release(msg); // no reads are asked for meanwhile
      default -> pending.add(msg);
    }
  }

  private void onRequestHead(HttpRequest request) {
    headDeadline.cancel();
    if (request.decoderResult().isFailure()) {
      answer(HttpMessages.malformed(request.decoderResult().cause()), true);
      return;
    }
    clientKeepAlive = HttpUtil.isKeepAlive(request) && !draining;
    clientHttp11 = HttpVersion.HTTP_1_1.equals(request.protocolVersion());
    requestHasBody = HttpUtil.isTransferEncodingChunked(request) || HttpUtil.getContentLength(request, 0L) > 0;
    if (!HttpMethod.CONNECT.equals(request.method())) {
      onForward(request);
    } else if (rules.connectAllowed()) {
      FullHttpResponse refusal = ConnectHandler.takeOver(ctx, request, pending, establisher);
      if (refusal != null) {
        answer(refusal, true);
      }
    } else {
      answer(HttpMessages.error(HttpResponseStatus.METHOD_NOT_ALLOWED, "connect-in-tunnel",
          "CONNECT not supported inside an intercepted tunnel"), true);
    }
  }

  // ---- forwarding ----

  private void onForward(HttpRequest request) {
    RequestTarget target;
    try {
      target = rules.target(request, establisher);
    } catch (RequestTarget.BadTargetException e) {
      answer(HttpMessages.error(e.status, e.proxyError, e.getMessage()), true);
      return;
    }
    boolean upgrade = request.headers().contains(HttpHeaderNames.UPGRADE);
    current = ClientConnections.request(ctx.channel(), target.destination(), rules.protocol(),
        request.method().name(), upgrade);
    if (request.headers().contains("x-unix-socket")) {
      establisher.recordDecision(current, establisher.currentEngine().unixSocketUnsupported());
      answer(HttpMessages.error(HttpResponseStatus.NOT_IMPLEMENTED, "unix-socket-unsupported",
          "unix sockets unsupported"), requestHasBody);
      return;
    }
    state = State.VETTING;
    HookedRequest inner = new HookedRequest(request, target);
    establisher.vet(current, inner, ctx.executor(), ctx.channel())
        .addListener(f -> onVetted(request, target, (Vetting) f.getNow()));
  }

  private void onVetted(HttpRequest request, RequestTarget target, Vetting vetting) {
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
      if (approved.hook() != null) {
        HookedRequest.apply(approved.hook(), request.headers());
      }
      approved.credentials().forEach(credential -> HookedRequest.swap(credential, request.headers()));
      List<Credential> watched = requestHasBody ? foreignCredentials() : List.of();
      if (!watched.isEmpty()) {
        startScan(new Scan(request, target, approved, watched));
      } else {
        dialOrSend(request, target, approved);
      }
    }
  }

  // ---- looking for stand-ins in the first bytes of a body ----

  /** How much of a body is held and searched for a credential's stand-in before any of it is forwarded. */
  static final int SCANNED_BODY_BYTES = 64 * 1024;

  private final List<HttpContent> scanned = new ArrayList<>();
  private int scannedBytes;
  private Scan scan;

  /** A request whose body is held: where it goes once clean, and whose stand-ins it must not carry. */
  private record Scan(HttpRequest request, RequestTarget target, Vetting.Approved approved, List<Credential> watched) {}

  /** The credentials whose stand-ins must not go to the current request's host. */
  private List<Credential> foreignCredentials() {
    Credentials credentials = establisher.currentEngine().policy().credentials();
    if (credentials.isEmpty()) {
      return List.of();
    }
    List<Credential> bound = credentials.boundTo(current.destination().host(),
        current.destination().port());
    return credentials.all().stream().filter(c -> !bound.contains(c)).toList();
  }

  private void startScan(Scan started) {
    state = State.SCANNING_BODY;
    scan = started;
    scannedBytes = 0;
    HttpRequest request = started.request();
    if (HttpUtil.is100ContinueExpected(request)) {
      // The client waits for this before sending the body we want to look at; the request is already allowed.
      request.headers().remove(HttpHeaderNames.EXPECT);
      ctx.writeAndFlush(new DefaultFullHttpResponse(request.protocolVersion(), HttpResponseStatus.CONTINUE));
    }
    // Body parts that arrived while the request was decided; whatever follows them stays queued, in order.
    while (state == State.SCANNING_BODY && pending.peek() instanceof HttpContent) {
      scanBody(pending.poll());
    }
    if (state == State.SCANNING_BODY) {
      ctx.read();
    }
  }

  private void scanBody(Object msg) {
    if (!(msg instanceof HttpContent content)) {
      pending.add(msg); // the next pipelined request
      return;
    }
    if (content.decoderResult().isFailure()) {
      Throwable cause = content.decoderResult().cause();
      content.release();
      releaseScanned();
      answer(HttpMessages.malformed(cause), true);
      return;
    }
    scanned.add(content);
    scannedBytes += content.content().readableBytes();
    boolean last = content instanceof LastHttpContent;
    if (last || scannedBytes >= SCANNED_BODY_BYTES) {
      finishScan(last);
    } else {
      ctx.read();
    }
  }

  private void finishScan(boolean wholeBody) {
    StringBuilder text = new StringBuilder(Math.min(scannedBytes, SCANNED_BODY_BYTES));
    for (HttpContent content : scanned) {
      int room = SCANNED_BODY_BYTES - text.length();
      if (room <= 0) {
        break;
      }
      ByteBuf bytes = content.content();
      text.append(bytes.toString(bytes.readerIndex(), Math.min(room, bytes.readableBytes()),
          StandardCharsets.ISO_8859_1));
    }
    String body = text.toString();
    String decoded;
    try {
      decoded = URLDecoder.decode(body, StandardCharsets.ISO_8859_1);
    } catch (IllegalArgumentException e) {
      decoded = body;
    }
    for (Credential credential : scan.watched()) {
      if (body.contains(credential.dummy()) || decoded.contains(credential.dummy())) {
        PolicyEngine engine = establisher.currentEngine();
        Decision misuse = engine.enforce(engine.credentialMisuse(current, credential));
        establisher.recordDecision(current, misuse);
        if (!misuse.allowed()) {
          releaseScanned();
          // The rest of an unread body cannot be told from the next request: close unless it was all here.
          answer(HttpMessages.blockedJson(current, misuse), !wholeBody);
          return;
        }
        break;
      }
    }
    // Nothing of ours: the held parts go first, in order, and stream on from there.
    for (int i = scanned.size() - 1; i >= 0; i--) {
      pending.addFirst(scanned.get(i));
    }
    scanned.clear();
    state = State.VETTING;
    Scan done = scan;
    scan = null;
    dialOrSend(done.request(), done.target(), done.approved());
  }

  private void releaseScanned() {
    scanned.forEach(ReferenceCountUtil::release);
    scanned.clear();
    scan = null;
  }

  private void dialOrSend(HttpRequest request, RequestTarget target, Vetting.Approved vetting) {
    if (origin.reusableFor(target.destination(), vetting)) {
      sendRequest(request, target);
    } else {
      origin.dial(vetting, target.destination(), ctx.channel().eventLoop(), responses)
          .addListener(f -> onDialled(request, target, f));
    }
  }

  private void onDialled(HttpRequest request, RequestTarget target, Future<?> dialled) {
    if (state == State.CLOSING) {
      if (dialled.isSuccess()) {
        ((Dialer.Connection) dialled.getNow()).channel().close();
      }
      return;
    }
    if (!dialled.isSuccess()) {
      UpstreamException failed = (UpstreamException) dialled.cause();
      String subject = failed.failure() == UpstreamFailure.UPSTREAM_TLS ? rules.notReadyDetail(failed.getCause())
          : failed.getCause() instanceof ParentProxyException parent ? parent.getMessage()
          : current.destination().authority();
      answer(HttpMessages.upstreamFailure(failed.failure(), subject), requestHasBody);
      return;
    }
    origin.use((Dialer.Connection) dialled.getNow(), target.destination());
    sendRequest(request, target);
  }

  private void sendRequest(HttpRequest request, RequestTarget target) {
    boolean expectsContinue = HttpMessages.prepareRequestHead(request, target, current.upgrade());
    Dialer.Connection open = origin.open();
    if (open.forwarding()) {
      // A forwarding parent proxy takes the absolute form, and its credentials (never the client's).
      request.setUri("http://" + HttpMessages.hostHeader(target.destination()) + target.originForm());
      String authorization = open.parent().authorization();
      if (authorization != null) {
        request.headers().set(HttpHeaderNames.PROXY_AUTHORIZATION, authorization);
      }
    }
    if (expectsContinue) {
      // We answer 100 ourselves only now that the request is allowed and connected, then stream the body.
      ctx.writeAndFlush(new DefaultFullHttpResponse(request.protocolVersion(), HttpResponseStatus.CONTINUE));
    }
    origin.reusable(true);
    responses.begin(current, clientHttp11, !clientKeepAlive);
    state = State.STREAMING_BODY;
    Channel upstream = origin.channel();
    upstream.writeAndFlush(request).addListener(ChannelFutureListener.CLOSE_ON_FAILURE);
    upstream.read();
    drainPending();
    readIfIdle();
  }

  private void forwardBody(Object msg) {
    if (!(msg instanceof HttpContent content)) {
      pending.add(msg);
      return;
    }
    if (content.decoderResult().isFailure()) {
      // A malformed body (a bad chunk size, say): forwarding this part would let the client codec end the body
      // cleanly, and the origin would see a complete request the client never sent. Cut the origin off mid-body.
      Throwable cause = content.decoderResult().cause();
      content.release();
      origin.close();
      if (responses.responseInProgress()) {
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
    Channel upstream = origin.channel();
    if (upstream == null) {
      content.release();
      return;
    }
    upstream.writeAndFlush(content).addListener((ChannelFutureListener) f -> {
      if (!f.isSuccess()) {
        upstream.close();
      } else if (!last && state == State.STREAMING_BODY && pending.isEmpty()) {
        ctx.read();
      }
    });
  }

  private void discardBody(Object msg) {
    if (!(msg instanceof HttpContent content)) {
      pending.add(msg);
    } else if (content.decoderResult().isFailure()) {
      content.release();
      closeClient(); // the codec discards everything after a framing error: nothing more can be parsed
    } else {
      boolean last = content instanceof LastHttpContent;
      content.release();
      if (last) {
        state = State.AWAITING_HEAD;
        headDeadline.arm();
        drainPending();
      }
      readIfIdle();
    }
  }

  // ---- what ResponseRelay asks of the request side ----

  @Override
  public boolean uploading() {
    return state == State.STREAMING_BODY;
  }

  @Override
  public boolean awaitingResponse() {
    return state == State.AWAITING_RESPONSE;
  }

  @Override
  public boolean closing() {
    return state == State.CLOSING;
  }

  @Override
  public void nextRequest() {
    state = State.AWAITING_HEAD;
    headDeadline.arm();
    drainPending();
    readIfIdle();
  }

  @Override
  public void originLost() {
    if (state == State.STREAMING_BODY || state == State.AWAITING_RESPONSE) {
      establisher.recordFailure(current, UpstreamFailure.UPSTREAM_CLOSED);
      answer(HttpMessages.upstreamFailure(UpstreamFailure.UPSTREAM_CLOSED, null), true);
    }
  }

  @Override
  public void switchingProtocols() {
    state = State.SWITCHING_PROTOCOLS;
    releasePending(); // only HTTP leftovers of the upgrade request itself can be here
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

  private void headTimedOut() {
    if (state == State.AWAITING_HEAD) {
      log.debug("closing {}: no complete request head within {}", ClientConnections.label(ctx.channel()),
          options.requestHeadTimeout());
      closeClient();
    }
  }

  @Override
  public void closeClient() {
    state = State.CLOSING;
    releasePending();
    RelayHandler.closeOnFlush(ctx.channel());
    if (!ctx.channel().isActive()) {
      ctx.close();
    }
  }

  private void releasePending() {
    for (Object msg; (msg = pending.poll()) != null; ) {
      ReferenceCountUtil.release(msg);
    }
    releaseScanned();
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
    if (evt == DrainEvent.INSTANCE) {
      // Shutdown: an idle keep-alive connection closes now; a request in flight finishes, then closes.
      draining = true;
      responses.drain();
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
    headDeadline.cancel();
    releasePending();
    responses.abandon();
    origin.close();
    ctx.fireChannelInactive();
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    headDeadline.cancel();
    releasePending();
    origin.close(); // a kept-alive origin from earlier requests is not part of a CONNECT or upgrade tunnel
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    log.debug("client {} failed: {}", ClientConnections.label(ctx.channel()), cause.toString());
    closeClient();
  }
}
