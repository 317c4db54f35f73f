package dev.egressd.proxy.decider;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import dev.egressd.policy.AccessRequest;
import dev.egressd.policy.DeciderAnswer;
import dev.egressd.policy.DeciderException;
import dev.egressd.policy.Decision.Verdict;
import dev.egressd.policy.PolicyDecider;
import dev.egressd.proxy.ProxyOptions.TransportChoice;
import dev.egressd.proxy.internal.Transport;
import dev.egressd.proxy.tunnel.UpstreamException;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBufInputStream;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpVersion;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.URI;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A decider that is a separate program: one JSON POST per decision, over plain HTTP to a loopback address or over a
 * Unix socket, on a connection of its own that is closed after the answer. The schema is in docs/configuration.md
 * ({@code [network.decider]}); {@code examples/decider.py} implements it.
 *
 * <p>Every way the program can fail is a {@link DeciderException} (or a {@link TimeoutException}) with words fit
 * for the refused client: not reachable, an HTTP status other than 2xx, more than {@link #MAX_ANSWER_BYTES}, invalid
 * JSON, no valid {@code decision}. Runs on one event-loop thread of its own.
 */
public final class WebhookDecider implements PolicyDecider, AutoCloseable {
  /** The largest answer body accepted. */
  public static final int MAX_ANSWER_BYTES = 16 * 1024;
  private static final JsonFactory JSON = JsonFactory.builder()
      .enable(com.fasterxml.jackson.core.StreamReadFeature.STRICT_DUPLICATE_DETECTION)
      .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(16).maxStringLength(4096).build())
      .build();

  private final Transport transport;
  private final EventLoopGroup group;
  private final SocketAddress address;
  private final boolean unixSocket;
  private final String host;
  private final String path;
  private final String token;
  private final Duration timeout;

  private WebhookDecider(SocketAddress address, boolean unixSocket, String host, String path, String token,
      Duration timeout) {
    this.transport = Transport.select(TransportChoice.AUTO);
    this.address = unixSocket ? transport.domainSocketAddress((UnixDomainSocketAddress) address) : address;
    this.unixSocket = unixSocket;
    this.host = host;
    this.path = Objects.requireNonNull(path, "path");
    this.token = token;
    this.timeout = Objects.requireNonNull(timeout, "timeout");
    this.group = transport.newGroup(1);
  }

  /**
   * A decider at {@code url} ({@code http://HOST:PORT/path}); the caller has checked that the host is loopback.
   *
   * @param token sent as {@code Authorization: Bearer}, or null
   * @param timeout for the whole exchange, connect included
   */
  public static WebhookDecider http(URI url, String token, Duration timeout) {
    if (!"http".equalsIgnoreCase(url.getScheme()) || url.getHost() == null) {
      throw new IllegalArgumentException("url: " + url + " (expected: http://HOST:PORT/path)");
    }
    int port = url.getPort() == -1 ? 80 : url.getPort();
    String literal = url.getHost().startsWith("[") ? url.getHost().substring(1, url.getHost().length() - 1)
        : url.getHost();
    String path = (url.getRawPath() == null || url.getRawPath().isEmpty() ? "/" : url.getRawPath())
        + (url.getRawQuery() == null ? "" : "?" + url.getRawQuery());
    return new WebhookDecider(new InetSocketAddress(literal, port), false, url.getHost() + ":" + port, path, token,
        timeout);
  }

  /** A decider listening on the Unix socket {@code socket}, asked at {@code path}. */
  public static WebhookDecider unixSocket(Path socket, String path, String token, Duration timeout) {
    return new WebhookDecider(UnixDomainSocketAddress.of(socket), true, "localhost", path, token, timeout);
  }

  @Override
  public CompletableFuture<DeciderAnswer> decide(AccessRequest request) {
    CompletableFuture<DeciderAnswer> answer = new CompletableFuture<>();
    FullHttpRequest post = post(requestBody(request));
    Bootstrap bootstrap = new Bootstrap().group(group)
        .channel(unixSocket ? transport.domainChannelType() : transport.channelType())
        .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE, timeout.toMillis()))
        .handler(new ChannelInitializer<Channel>() {
          @Override
          protected void initChannel(Channel ch) {
            ch.pipeline().addLast(new HttpClientCodec(), new HttpObjectAggregator(MAX_ANSWER_BYTES),
                new AnswerHandler(answer));
          }
        });
    ChannelFuture connect = bootstrap.connect(address);
    Channel channel = connect.channel();
    var deadline = channel.eventLoop().schedule(() -> answer.completeExceptionally(
        new TimeoutException("no answer within " + timeout.toMillis() + " ms")), timeout.toNanos(), TimeUnit.NANOSECONDS);
    answer.whenComplete((a, e) -> {
      deadline.cancel(false);
      channel.close();
    });
    connect.addListener(connected -> {
      if (!connected.isSuccess()) {
        post.release();
        answer.completeExceptionally(new DeciderException("could not be reached (" + unreachable(connected.cause())
            + ")", connected.cause()));
      } else {
        channel.writeAndFlush(post).addListener(written -> {
          if (!written.isSuccess()) {
            answer.completeExceptionally(new DeciderException("could not be sent the request", written.cause()));
          }
        });
      }
    });
    return answer;
  }

  private FullHttpRequest post(byte[] body) {
    FullHttpRequest post = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, path,
        Unpooled.wrappedBuffer(body));
    post.headers().set(HttpHeaderNames.HOST, host)
        .set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON)
        .set(HttpHeaderNames.CONTENT_LENGTH, body.length)
        .set(HttpHeaderNames.ACCEPT, HttpHeaderValues.APPLICATION_JSON)
        .set(HttpHeaderNames.USER_AGENT, "egressd")
        .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
    if (token != null) {
      post.headers().set(HttpHeaderNames.AUTHORIZATION, "Bearer " + token);
    }
    return post;
  }

  /**
   * The request body: what the engine knows of the request, never a path, query or header. {@code method} is null
   * where there is none (SOCKS); {@code connection_id} is 0 for a request that came on no connection.
   */
  static byte[] requestBody(AccessRequest request) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(256);
    try (JsonGenerator json = JSON.createGenerator(out)) {
      json.writeStartObject();
      json.writeNumberField("version", 1);
      json.writeStringField("protocol", request.protocol().label());
      json.writeStringField("host", request.destination().host().value());
      json.writeNumberField("port", request.destination().port());
      json.writeStringField("method", request.method());
      json.writeStringField("client", request.client());
      json.writeNumberField("connection_id", request.connectionId());
      if (request.executionId() != null) {
        json.writeStringField("execution_id", request.executionId()); // only when egressd knows it
      }
      json.writeEndObject();
    } catch (IOException e) {
      throw new UncheckedIOException(e); // a byte array does not fail
    }
    return out.toByteArray();
  }

  /**
   * Parses an answer: an object with {@code decision} ({@code allow}, {@code deny} or {@code ask}), and optionally
   * {@code reason} (a string) and {@code cache_seconds} (a number from 0). Other members are ignored, so deciders
   * may add their own; a repeated member is invalid, since it would be ambiguous.
   *
   * @throws DeciderException saying what is wrong with it
   */
  static DeciderAnswer parseAnswer(InputStream body) {
    Verdict verdict = null;
    String reason = null;
    double cacheSeconds = 0;
    try (JsonParser json = JSON.createParser(body)) {
      if (json.nextToken() != JsonToken.START_OBJECT) {
        throw new DeciderException("answered JSON that is not an object");
      }
      while (json.nextToken() == JsonToken.FIELD_NAME) {
        String name = json.currentName();
        JsonToken value = json.nextToken();
        switch (name) {
          case "decision" -> {
            String text = value == JsonToken.VALUE_STRING ? json.getText().toLowerCase(Locale.ROOT) : "";
            verdict = switch (text) {
              case "allow" -> Verdict.ALLOW;
              case "deny" -> Verdict.DENY;
              case "ask" -> Verdict.ASK;
              default -> throw new DeciderException("answered no valid decision (expected \"allow\", \"deny\" or"
                  + " \"ask\")");
            };
          }
          case "reason" -> {
            if (value != JsonToken.VALUE_STRING && value != JsonToken.VALUE_NULL) {
              throw new DeciderException("answered a reason that is not a string");
            }
            reason = value == JsonToken.VALUE_NULL ? null : json.getText();
          }
          case "cache_seconds" -> {
            if (!value.isNumeric() || !(json.getDoubleValue() >= 0)) {
              throw new DeciderException("answered a cache_seconds that is not a number from 0");
            }
            cacheSeconds = json.getDoubleValue();
          }
          default -> json.skipChildren();
        }
      }
      if (json.currentToken() != JsonToken.END_OBJECT || json.nextToken() != null) {
        throw new DeciderException("answered invalid JSON");
      }
    } catch (JsonProcessingException e) {
      throw new DeciderException("answered invalid JSON", e);
    } catch (IOException e) {
      throw new DeciderException("answered an unreadable body", e);
    }
    if (verdict == null) {
      throw new DeciderException("answered no decision");
    }
    Duration cache = Duration.ofMillis(Math.round(Math.min(cacheSeconds, DeciderAnswer.MAX_CACHE.toSeconds()) * 1000));
    return new DeciderAnswer(verdict, reason, cache);
  }

  private static String unreachable(Throwable cause) {
    return switch (UpstreamException.failureOf(cause)) {
      case CONNECT_REFUSED -> "connection refused";
      case CONNECT_TIMEOUT -> "connect timed out";
      default -> cause instanceof java.io.FileNotFoundException || String.valueOf(cause.getMessage())
          .contains("No such file") ? "no such socket" : cause.getClass().getSimpleName();
    };
  }

  /** Stops the decider's event loop; decisions in flight fail (and so refuse). */
  @Override
  public void close() {
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
  }

  @Override
  public String toString() {
    return "WebhookDecider[" + (unixSocket ? "unix:" + address + path : "http://" + host + path) + "]";
  }

  /** Completes the answer from the one response, or with the failure. */
  private static final class AnswerHandler extends SimpleChannelInboundHandler<FullHttpResponse> {
    private final CompletableFuture<DeciderAnswer> answer;

    AnswerHandler(CompletableFuture<DeciderAnswer> answer) {
      this.answer = answer;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpResponse response) {
      int status = response.status().code();
      if (!response.decoderResult().isSuccess()) {
        answer.completeExceptionally(new DeciderException("answered malformed HTTP"));
      } else if (status < 200 || status > 299) {
        answer.completeExceptionally(new DeciderException("answered HTTP " + status));
      } else {
        try (InputStream body = new ByteBufInputStream(response.content())) {
          answer.complete(parseAnswer(body));
        } catch (DeciderException e) {
          answer.completeExceptionally(e);
        } catch (IOException | RuntimeException e) {
          answer.completeExceptionally(new DeciderException("answered an unreadable body", e));
        }
      }
      ctx.close();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      answer.completeExceptionally(new DeciderException("closed the connection without answering"));
      ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      answer.completeExceptionally(cause instanceof TooLongFrameException
          ? new DeciderException("answered more than " + MAX_ANSWER_BYTES + " bytes")
          : new DeciderException("failed on the connection (" + cause.getClass().getSimpleName() + ")", cause));
      ctx.close();
    }
  }
}
