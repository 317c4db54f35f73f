package dev.egressd.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.egressd.audit.AuditEvent;
import dev.egressd.audit.ProxyMetrics;
import dev.egressd.policy.NetworkPolicy;
import dev.egressd.policy.PolicyEngine;
import dev.egressd.proxy.PipelineNames;
import dev.egressd.proxy.ProxyOptions;
import dev.egressd.proxy.testing.ChannelFuzzing;
import dev.egressd.proxy.testing.FakeResolver;
import dev.egressd.proxy.testing.RecordingAuditSink;
import dev.egressd.proxy.testing.TrackingAllocator;
import dev.egressd.proxy.tunnel.LoopGuard;
import dev.egressd.proxy.tunnel.TunnelEstablisher;
import dev.egressd.proxy.tunnel.UpstreamConnector;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;

/**
 * Fuzzes the HTTP front end with arbitrary client bytes, cut into chunks, on the production pipeline and a policy
 * that allows nothing. Whatever arrives, no exception escapes the pipeline, every buffer is released, every answer
 * is an HTTP/1.1 4xx or 5xx, and nothing is resolved or dialled. Seeds and past findings:
 * {@code HttpProxyFuzzTestInputs/}; see docs/fuzzing.md.
 */
class HttpProxyFuzzTest {
  private static final PolicyEngine DENY_ALL =
      new PolicyEngine(NetworkPolicy.builder().scope("fuzz policy").build(), false);

  @FuzzTest(maxDuration = "15s")
  @DictionaryEntries({"GET ", "POST ", "HEAD ", "OPTIONS ", "CONNECT ", " HTTP/1.1\\x0D\\x0A", " HTTP/1.0\\x0D\\x0A",
      "\\x0D\\x0A", "\\x0D\\x0A\\x0D\\x0A", "http://", "https://", "Host: ", "Content-Length: ",
      "Transfer-Encoding: chunked", "Connection: close", "Connection: keep-alive", "Expect: 100-continue",
      "Upgrade: websocket", "x-unix-socket: /", "[::1]", ":443", "0\\x0D\\x0A\\x0D\\x0A", "example.com"})
  void clientBytesAreRefusedWithoutGoingUpstream(byte[] input) throws Exception {
    FakeResolver resolver = new FakeResolver();
    RecordingAuditSink audit = new RecordingAuditSink();
    TrackingAllocator allocator = new TrackingAllocator();
    List<HttpResponse> responses = new ArrayList<>();
    EmbeddedChannel channel = channel(resolver, audit, allocator, responses);
    try {
      ChannelFuzzing.feed(channel, input);
      ChannelFuzzing.close(channel);
      String out = new String(ChannelFuzzing.drainOutbound(channel), StandardCharsets.ISO_8859_1);
      if (!out.isEmpty()) {
        assertThat(out).matches("(?s)HTTP/1\\.1 [45]\\d\\d .*");
      }
      assertThat(responses).allSatisfy(response -> {
        assertThat(response.protocolVersion().text()).isEqualTo("HTTP/1.1");
        assertThat(response.status().code()).isBetween(400, 599);
      });
      assertThat(resolver.lookups()).isEmpty();
      assertThat(audit.events()).allSatisfy(event -> assertThat(event)
          .isInstanceOfSatisfying(AuditEvent.PolicyDecision.class, d -> assertThat(d.decision().allowed()).isFalse()));
    } finally {
      channel.finishAndReleaseAll();
    }
    ChannelFuzzing.assertNoLeaks(allocator);
  }

  private static EmbeddedChannel channel(FakeResolver resolver, RecordingAuditSink audit, TrackingAllocator allocator,
      List<HttpResponse> responses) throws Exception {
    ProxyOptions options = ProxyOptions.builder().maxHeaderSize(2048).build();
    UpstreamConnector connector = new UpstreamConnector(() -> DENY_ALL, resolver, audit, NioSocketChannel.class,
        options.connectTimeout(), options.resolveTimeout(), Clock.systemUTC(), LoopGuard.NONE, ProxyMetrics.NONE);
    EmbeddedChannel channel = new EmbeddedChannel(false, false, new HttpProxyInitializer(
        new TunnelEstablisher(connector, null, options.idleTimeout()), options));
    channel.config().setAllocator(allocator);
    channel.register();
    // Sees the proxy's responses before the codec turns them into bytes.
    channel.pipeline().addAfter(PipelineNames.HTTP_CODEC, "fuzz-responses", new ChannelOutboundHandlerAdapter() {
      @Override
      public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (msg instanceof HttpResponse response) {
          responses.add(response);
        }
        ctx.write(msg, promise);
      }
    });
    return channel;
  }
}
