package dev.egressd.proxy.socks5;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.egressd.audit.AuditEvent;
import dev.egressd.audit.ProxyMetrics;
import dev.egressd.policy.NetworkPolicy;
import dev.egressd.policy.PolicyEngine;
import dev.egressd.proxy.ProxyOptions;
import dev.egressd.proxy.testing.ChannelFuzzing;
import dev.egressd.proxy.testing.FakeResolver;
import dev.egressd.proxy.testing.RecordingAuditSink;
import dev.egressd.proxy.testing.TrackingAllocator;
import dev.egressd.proxy.tunnel.LoopGuard;
import dev.egressd.proxy.tunnel.TunnelEstablisher;
import dev.egressd.proxy.tunnel.UpstreamConnector;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.time.Clock;

/**
 * Fuzzes the SOCKS5 front end (greeting, RFC 1929 authentication, command) with arbitrary client bytes, cut into
 * chunks, on the production pipeline and a policy that allows nothing; each input runs without and with configured
 * credentials. No exception escapes the pipeline, every buffer is released, nothing is resolved or dialled, and no
 * command is answered with success. UDP ASSOCIATE is off: it binds a real socket. Seeds and past findings:
 * {@code Socks5ProxyFuzzTestInputs/}; see docs/fuzzing.md.
 */
class Socks5ProxyFuzzTest {
  private static final PolicyEngine DENY_ALL =
      new PolicyEngine(NetworkPolicy.builder().scope("fuzz policy").build(), false);
  private static final Socks5Options.Credentials CREDENTIALS = new Socks5Options.Credentials("user", "pass");
  private static final int SOCKS5 = 5;
  private static final int PASSWORD_AUTH_VERSION = 1;
  private static final int PASSWORD = 2;
  private static final int SUCCEEDED = 0;

  @FuzzTest(maxDuration = "15s")
  @DictionaryEntries({"\\x05\\x01\\x00", "\\x05\\x02\\x00\\x02", "\\x01\\x04user\\x04pass", "\\x05\\x01\\x00\\x01",
      "\\x05\\x01\\x00\\x03", "\\x05\\x01\\x00\\x04", "\\x05\\x03\\x00\\x01", "\\x01\\xBB", "\\x00P", "example.com"})
  void clientBytesNeverOpenATunnel(byte[] input) throws Exception {
    check(input, null);
    check(input, CREDENTIALS);
  }

  private static void check(byte[] input, Socks5Options.Credentials credentials) throws Exception {
    FakeResolver resolver = new FakeResolver();
    RecordingAuditSink audit = new RecordingAuditSink();
    TrackingAllocator allocator = new TrackingAllocator();
    EmbeddedChannel channel = channel(resolver, audit, allocator, new Socks5Options(false, credentials));
    try {
      ChannelFuzzing.feed(channel, input);
      ChannelFuzzing.close(channel);
      assertRepliesRefuse(ChannelFuzzing.drainOutbound(channel));
      assertThat(resolver.lookups()).isEmpty();
      assertThat(audit.events()).allSatisfy(event -> assertThat(event)
          .isInstanceOfSatisfying(AuditEvent.PolicyDecision.class, d -> assertThat(d.decision().allowed()).isFalse()));
    } finally {
      channel.finishAndReleaseAll();
    }
    ChannelFuzzing.assertNoLeaks(allocator);
  }

  /** Method selection, then perhaps an RFC 1929 status, then perhaps a command reply, which must not be success. */
  private static void assertRepliesRefuse(byte[] out) {
    if (out.length == 0) {
      return;
    }
    assertThat(out.length).as("method selection reply").isGreaterThanOrEqualTo(2);
    assertThat(out[0]).isEqualTo((byte) SOCKS5);
    int position = 2;
    if (out[1] == PASSWORD && out.length > position) {
      assertThat(out[position]).as("RFC 1929 reply version").isEqualTo((byte) PASSWORD_AUTH_VERSION);
      position += 2;
    }
    if (out.length > position) {
      assertThat(out.length - position).as("command reply length").isGreaterThanOrEqualTo(10);
      assertThat(out[position]).isEqualTo((byte) SOCKS5);
      assertThat(out[position + 1]).as("command reply code").isNotEqualTo((byte) SUCCEEDED);
    }
  }

  private static EmbeddedChannel channel(FakeResolver resolver, RecordingAuditSink audit, TrackingAllocator allocator,
      Socks5Options socks) throws Exception {
    ProxyOptions options = ProxyOptions.builder().build();
    UpstreamConnector connector = new UpstreamConnector(() -> DENY_ALL, resolver, audit, NioSocketChannel.class,
        options.connectTimeout(), options.resolveTimeout(), Clock.systemUTC(), LoopGuard.NONE, ProxyMetrics.NONE);
    EmbeddedChannel channel = new EmbeddedChannel(false, false,
        new Socks5ProxyInitializer(
        new TunnelEstablisher(connector, null, options.idleTimeout()), options, socks, NioDatagramChannel.class));
    channel.config().setAllocator(allocator);
    channel.register();
    return channel;
  }
}
