package dev.egressd.proxy.testing;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An HTTP origin on 127.0.0.1:0 that counts connections and requests. Paths: {@code /echo} describes the request
 * (method, target, headers, body length); {@code /big?n=BYTES} streams a body of that size; {@code /close} answers
 * with a close-delimited body.
 */
public final class TestOrigin implements AutoCloseable {
  private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
  private final Channel server;
  private final AtomicInteger connections = new AtomicInteger();
  private final List<String> requestLines = new CopyOnWriteArrayList<>();

  public TestOrigin() throws InterruptedException {
    server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
        .childHandler(new ChannelInitializer<Channel>() {
          @Override
          protected void initChannel(Channel ch) {
            connections.incrementAndGet();
            ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(64 << 20), new Handler());
          }
        }).bind("127.0.0.1", 0).sync().channel();
  }

  public int port() {
    return ((InetSocketAddress) server.localAddress()).getPort();
  }

  public int connections() {
    return connections.get();
  }

  public List<String> requestLines() {
    return List.copyOf(requestLines);
  }

  @Override
  public void close() {
    server.close().syncUninterruptibly();
    group.shutdownGracefully(0, 0, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
  }

  private final class Handler extends SimpleChannelInboundHandler<FullHttpRequest> {
    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
      requestLines.add(request.method() + " " + request.uri());
      QueryStringDecoder query = new QueryStringDecoder(request.uri());
      switch (query.path()) {
        case "/upgrade" -> upgradeToEcho(ctx);
        case "/big" -> streamBig(ctx, Long.parseLong(query.parameters().get("n").get(0)));
        case "/close" -> {
          DefaultHttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
          ctx.write(head);
          ctx.writeAndFlush(Unpooled.copiedBuffer("until close", StandardCharsets.US_ASCII))
              .addListener(ChannelFutureListener.CLOSE);
        }
        default -> echo(ctx, request);
      }
    }

    /** Answers 101, then echoes raw bytes (a stand-in for WebSocket). */
    private void upgradeToEcho(ChannelHandlerContext ctx) {
      FullHttpResponse switching = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
          HttpResponseStatus.SWITCHING_PROTOCOLS);
      switching.headers().set(HttpHeaderNames.CONNECTION, "Upgrade").set(HttpHeaderNames.UPGRADE, "echo");
      ctx.writeAndFlush(switching).addListener(f -> {
        ctx.pipeline().addLast(new io.netty.channel.ChannelInboundHandlerAdapter() {
          @Override
          public void channelRead(ChannelHandlerContext c, Object msg) {
            c.writeAndFlush(msg);
          }
        });
        ctx.pipeline().remove(HttpObjectAggregator.class);
        ctx.pipeline().remove(HttpServerCodec.class);
        ctx.pipeline().remove(this);
      });
    }

    private void echo(ChannelHandlerContext ctx, FullHttpRequest request) {
      StringBuilder sb = new StringBuilder();
      sb.append(request.method()).append(' ').append(request.uri()).append('\n');
      for (Map.Entry<String, String> h : request.headers()) {
        sb.append(h.getKey().toLowerCase(java.util.Locale.ROOT)).append(": ").append(h.getValue()).append('\n');
      }
      sb.append("body-length: ").append(request.content().readableBytes()).append('\n');
      FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
          Unpooled.copiedBuffer(sb, StandardCharsets.UTF_8));
      HttpUtil.setContentLength(response, response.content().readableBytes());
      response.headers().set("Keep-Alive", "timeout=5");
      ctx.writeAndFlush(response);
    }

    private void streamBig(ChannelHandlerContext ctx, long n) {
      DefaultHttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
      HttpUtil.setTransferEncodingChunked(head, true);
      ctx.write(head);
      byte[] chunk = new byte[65536];
      java.util.Arrays.fill(chunk, (byte) 'x');
      for (long sent = 0; sent < n; sent += chunk.length) {
        ByteBuf buf = Unpooled.wrappedBuffer(chunk, 0, (int) Math.min(chunk.length, n - sent));
        ctx.write(new DefaultHttpContent(buf));
      }
      ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT);
    }
  }
}
