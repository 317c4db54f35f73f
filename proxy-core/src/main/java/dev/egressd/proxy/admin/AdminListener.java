package dev.egressd.proxy.admin;

import dev.egressd.proxy.ProxyServer;
import dev.egressd.proxy.decider.Approvals;
import dev.egressd.proxy.internal.DrainEvent;
import dev.egressd.proxy.internal.IdleTimeouts;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.timeout.IdleStateEvent;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Locale;
import java.util.Objects;

/**
 * The admin listener: {@code GET /metrics} (Prometheus text), {@code /rules} (hits per rule, JSON), {@code /healthz}
 * and {@code /readyz}. It is one of
 * the proxy's own listeners, so the loop guard refuses to proxy to it. It answers only requests whose {@code Host}
 * is a loopback name or address: a web page in the user's browser that rebinds its own name to 127.0.0.1 sends its
 * own name as {@code Host}, and is refused.
 */
public final class AdminListener {
  /** The listener's name in {@link ProxyServer}. */
  public static final String NAME = "admin";
  private static final int MAX_REQUEST = 8192;
  private static final int IDLE_SECONDS = 60;

  private AdminListener() {}

  /**
   * The approval API: who may answer waiting requests. The workload egressd governs can reach loopback too, so
   * loopback alone is no authentication: every {@code /approvals} request needs {@code Authorization: Bearer TOKEN}.
   *
   * @param approvals the waiting requests
   * @param token the bearer token (the daemon writes it to a 0600 file only its user can read)
   */
  public record ApprovalControl(Approvals approvals, String token) {
    /** Null checks; the token must be long enough not to be guessed. */
    public ApprovalControl {
      Objects.requireNonNull(approvals, "approvals");
      if (Objects.requireNonNull(token, "token").length() < 32) {
        throw new IllegalArgumentException("token: too short (expected: 32 characters or more)");
      }
    }
  }

  /** The listener at {@code address}, which the caller has checked is loopback. */
  public static ProxyServer.Listener at(InetSocketAddress address, AdminEndpoints endpoints) {
    return at(address, endpoints, null);
  }

  /**
   * The listener at {@code address} with the approval API.
   *
   * @param control who may answer waiting requests; null for no approval API ({@code /approvals} is 404)
   */
  public static ProxyServer.Listener at(InetSocketAddress address, AdminEndpoints endpoints,
      ApprovalControl control) {
    Objects.requireNonNull(endpoints, "endpoints");
    if (!address.getAddress().isLoopbackAddress()) {
      throw new IllegalArgumentException("admin listener: " + address + " (expected: a loopback address)");
    }
    return new ProxyServer.Listener(NAME, address, context -> new ChannelInitializer<Channel>() {
      @Override
      protected void initChannel(Channel ch) {
        ch.config().setAutoRead(true);
        ch.pipeline()
            .addLast(IdleTimeouts.handler(Duration.ofSeconds(IDLE_SECONDS)))
            .addLast(new HttpServerCodec(4096, MAX_REQUEST, MAX_REQUEST))
            .addLast(new HttpObjectAggregator(MAX_REQUEST))
            .addLast(new AdminHandler(endpoints, control));
      }
    }, false); // not counted against max_connections: monitoring must see a full proxy
  }

  /** True for {@code localhost}, {@code 127.x.y.z} and {@code [::1]}, with or without a port. */
  static boolean loopbackHost(String host) {
    if (host == null) {
      return false;
    }
    String h = host.strip().toLowerCase(Locale.ROOT);
    if (h.startsWith("[")) {
      int close = h.indexOf(']');
      return close > 0 && h.substring(1, close).equals("::1") && validPort(h.substring(close + 1));
    }
    int colon = h.indexOf(':');
    String name = colon < 0 ? h : h.substring(0, colon);
    if (colon >= 0 && !validPort(h.substring(colon))) {
      return false;
    }
    if (name.endsWith(".")) {
      name = name.substring(0, name.length() - 1);
    }
    return name.equals("localhost") || name.matches("127\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}");
  }

  private static boolean validPort(String suffix) {
    return suffix.isEmpty() || suffix.matches(":\\d{1,5}");
  }

  private static final class AdminHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
    private final AdminEndpoints endpoints;
    private final ApprovalControl control;

    AdminHandler(AdminEndpoints endpoints, ApprovalControl control) {
      this.endpoints = endpoints;
      this.control = control;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
      FullHttpResponse response = answer(request);
      boolean keepAlive = HttpUtil.isKeepAlive(request) && request.decoderResult().isSuccess();
      HttpUtil.setContentLength(response, response.content().readableBytes());
      if (!keepAlive) {
        response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
      }
      var written = ctx.writeAndFlush(response);
      if (!keepAlive) {
        written.addListener(ChannelFutureListener.CLOSE);
      }
    }

    private FullHttpResponse answer(FullHttpRequest request) {
      if (!request.decoderResult().isSuccess()) {
        return text(HttpResponseStatus.BAD_REQUEST, "malformed request\n");
      }
      var hosts = request.headers().getAll(HttpHeaderNames.HOST);
      if (hosts.size() != 1 || !loopbackHost(hosts.get(0))) {
        return text(HttpResponseStatus.FORBIDDEN, "the admin listener answers only Host: localhost or a loopback"
            + " address\n");
      }
      String target = request.uri();
      if (control != null && (target.equals("/approvals") || target.startsWith("/approvals/")
          || target.startsWith("/approvals?"))) {
        return ApprovalApi.answer(request, control);
      }
      if (!request.method().equals(HttpMethod.GET) && !request.method().equals(HttpMethod.HEAD)) {
        FullHttpResponse response = text(HttpResponseStatus.METHOD_NOT_ALLOWED, "only GET and HEAD\n");
        response.headers().set(HttpHeaderNames.ALLOW, "GET, HEAD");
        return response;
      }
      String path = request.uri();
      int query = path.indexOf('?');
      path = query < 0 ? path : path.substring(0, query);
      return switch (path) {
        case "/metrics" -> {
          FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
              Unpooled.wrappedBuffer(endpoints.metrics()));
          response.headers().set(HttpHeaderNames.CONTENT_TYPE, endpoints.metricsContentType());
          yield response;
        }
        case "/rules" -> {
          byte[] rules = endpoints.rules();
          if (rules == null) {
            yield text(HttpResponseStatus.NOT_FOUND, "not found; try /metrics, /healthz or /readyz\n");
          }
          FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
              Unpooled.wrappedBuffer(rules));
          response.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/json");
          response.headers().set(HttpHeaderNames.CACHE_CONTROL, "no-store");
          yield response;
        }
        case "/healthz" -> text(HttpResponseStatus.OK, "ok\n");
        case "/readyz" -> endpoints.ready() ? text(HttpResponseStatus.OK, "ready\n")
            : text(HttpResponseStatus.SERVICE_UNAVAILABLE, "shutting down\n");
        default -> text(HttpResponseStatus.NOT_FOUND, "not found; try /metrics, /healthz or /readyz\n");
      };
    }

    private static FullHttpResponse text(HttpResponseStatus status, String body) {
      ByteBuf content = Unpooled.copiedBuffer(body, StandardCharsets.UTF_8);
      FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, content);
      response.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8");
      response.headers().set(HttpHeaderNames.CACHE_CONTROL, "no-store");
      return response;
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object event) {
      if (event == DrainEvent.INSTANCE || event instanceof IdleStateEvent) {
        ctx.close();
        return;
      }
      ctx.fireUserEventTriggered(event);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      ctx.close();
    }
  }
}
