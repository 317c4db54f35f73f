package dev.egressd.proxy.socks5;

import static org.assertj.core.api.Assertions.assertThat;

import dev.egressd.audit.ProxyMetrics;
import dev.egressd.policy.AccessMode;
import dev.egressd.policy.PolicyEngine;
import dev.egressd.policy.Protocol;
import dev.egressd.policy.Reason;
import dev.egressd.proxy.ProxyOptions;
import dev.egressd.proxy.testing.FakeResolver;
import dev.egressd.proxy.testing.RecordingAuditSink;
import dev.egressd.proxy.testing.TestPolicies;
import dev.egressd.proxy.tunnel.LoopGuard;
import dev.egressd.proxy.tunnel.TunnelEstablisher;
import dev.egressd.proxy.tunnel.UpstreamConnector;
import io.netty.buffer.ByteBuf;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.socksx.v5.Socks5AddressType;
import io.netty.handler.codec.socksx.v5.Socks5AuthMethod;
import io.netty.handler.codec.socksx.v5.Socks5CommandType;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Handshake, authentication and every refusal reply code, on an EmbeddedChannel built by the production
 * initializer. Wire bytes come from Netty's SOCKS5 client encoder; replies are checked byte by byte.
 */
class Socks5HandlersTest {
  private static final int NO_AUTH = 0x00;
  private static final int PASSWORD = 0x02;
  private static final int UNACCEPTED = 0xff;

  private final FakeResolver resolver = new FakeResolver().map("private.test", "127.0.0.2");
  private final RecordingAuditSink audit = new RecordingAuditSink();
  private EmbeddedChannel channel;

  @AfterEach
  void tearDown() {
    if (channel != null) {
      channel.finishAndReleaseAll();
    }
  }

  private EmbeddedChannel channel(PolicyEngine engine, Socks5Options socks) {
    ProxyOptions options = ProxyOptions.builder().build();
    UpstreamConnector connector = new UpstreamConnector(() -> engine, resolver, audit, NioSocketChannel.class,
        options.connectTimeout(), options.resolveTimeout(), Clock.systemUTC(), LoopGuard.NONE, ProxyMetrics.NONE);
    channel = new EmbeddedChannel(new Socks5ProxyInitializer(
        new TunnelEstablisher(connector, null, options.idleTimeout()), options, socks, NioDatagramChannel.class));
    return channel;
  }

  private EmbeddedChannel standard() {
    return channel(TestPolicies.standard(), new Socks5Options(true, null));
  }

  private byte[] send(ByteBuf bytes) {
    channel.writeInbound(bytes);
    channel.runPendingTasks();
    return outbound();
  }

  private byte[] outbound() {
    ByteBuf all = io.netty.buffer.Unpooled.buffer();
    for (Object msg; (msg = channel.readOutbound()) != null; ) {
      ByteBuf buf = (ByteBuf) msg;
      all.writeBytes(buf);
      buf.release();
    }
    byte[] bytes = new byte[all.readableBytes()];
    all.readBytes(bytes);
    all.release();
    return bytes;
  }

  /** Greets with "no authentication" and returns the reply to {@code command}. */
  private byte[] command(ByteBuf command) {
    assertThat(send(Socks5Wire.greeting(Socks5AuthMethod.NO_AUTH))).containsExactly(5, NO_AUTH);
    return send(command);
  }

  private static int replyCode(byte[] reply) {
    assertThat(reply.length).as("reply length").isGreaterThanOrEqualTo(10);
    assertThat(reply[0]).isEqualTo((byte) 5);
    return reply[1] & 0xff;
  }

  @Test
  void deniedDomainIsRefusedWithRulesetReplyAndClosedWithoutLookup() {
    standard();
    assertThat(replyCode(command(Socks5Wire.connect("denied.test", 443)))).isEqualTo(0x02);
    assertThat(channel.isOpen()).isFalse();
    assertThat(resolver.lookups()).isEmpty();
    assertThat(audit.decisions()).singleElement().satisfies(d -> {
      assertThat(d.request().protocol()).isEqualTo(Protocol.SOCKS5_TCP);
      assertThat(d.request().method()).isNull();
      assertThat(d.decision().reason()).isEqualTo(Reason.DENIED);
    });
  }

  @Test
  void hostOutsideTheAllowlistIsRefusedNotAllowed() {
    standard();
    assertThat(replyCode(command(Socks5Wire.connect("unknown.example", 443)))).isEqualTo(0x02);
    assertThat(audit.decisions()).singleElement()
        .satisfies(d -> assertThat(d.decision().reason()).isEqualTo(Reason.NOT_ALLOWED));
  }

  @Test
  void ipLiteralThatOnlyANameRuleCoversIsRefused() {
    standard();
    byte[] reply = command(Socks5Wire.command(Socks5CommandType.CONNECT, Socks5AddressType.IPv4, "127.0.0.3", 80));
    assertThat(replyCode(reply)).isEqualTo(0x02);
  }

  @Test
  void nameResolvingToAPrivateAddressIsRefused() {
    standard();
    assertThat(replyCode(command(Socks5Wire.connect("private.test", 80)))).isEqualTo(0x02);
    assertThat(audit.decisions()).singleElement()
        .satisfies(d -> assertThat(d.decision().reason()).isEqualTo(Reason.NOT_ALLOWED_LOCAL));
  }

  @Test
  void unresolvableAllowedNameIsHostUnreachable() {
    standard();
    assertThat(replyCode(command(Socks5Wire.connect("allowed.test", 443)))).isEqualTo(0x04);
  }

  @Test
  void limitedModeRefusesPort80WithMethodPolicyAnd443WithMitmRequired() {
    channel(TestPolicies.engine(AccessMode.LIMITED, "allowed.test"), new Socks5Options(true, null));
    assertThat(replyCode(command(Socks5Wire.connect("allowed.test", 80)))).isEqualTo(0x02);
    channel.finishAndReleaseAll();
    channel(TestPolicies.engine(AccessMode.LIMITED, "allowed.test"), new Socks5Options(true, null));
    assertThat(replyCode(command(Socks5Wire.connect("allowed.test", 443)))).isEqualTo(0x02);
    assertThat(audit.decisions()).extracting(d -> d.decision().reason())
        .containsExactly(Reason.METHOD_NOT_ALLOWED, Reason.MITM_REQUIRED);
  }

  @Test
  void bindIsCommandNotSupported() {
    standard();
    byte[] reply = command(Socks5Wire.command(Socks5CommandType.BIND, Socks5AddressType.DOMAIN, "allowed.test", 80));
    assertThat(replyCode(reply)).isEqualTo(0x07);
    assertThat(channel.isOpen()).isFalse();
  }

  @Test
  void udpAssociateIsCommandNotSupportedWhenUdpIsOff() {
    channel(TestPolicies.standard(), new Socks5Options(false, null));
    byte[] reply = command(Socks5Wire.command(Socks5CommandType.UDP_ASSOCIATE, Socks5AddressType.IPv4, "0.0.0.0",
        0));
    assertThat(replyCode(reply)).isEqualTo(0x07);
  }

  @Test
  void unknownAddressTypeIsAddressNotSupported() {
    standard();
    byte[] reply = command(Socks5Wire.bytes(5, 1, 0, 0x05, 1, 2, 3, 4, 0, 80));
    assertThat(replyCode(reply)).isEqualTo(0x08);
    assertThat(channel.isOpen()).isFalse();
  }

  @ParameterizedTest(name = "domain {0} is a general failure")
  @ValueSource(strings = {"", "evil\u0000.test", "a\r\nb.test", "has space.test", "a..b"})
  void malformedDomainIsGeneralFailure(String name) {
    standard();
    byte[] reply = command(Socks5Wire.rawDomainConnect(name.getBytes(StandardCharsets.ISO_8859_1), 443));
    assertThat(replyCode(reply)).isEqualTo(0x01);
    assertThat(resolver.lookups()).isEmpty();
    assertThat(audit.events()).isEmpty();
  }

  @Test
  void connectToPortZeroIsGeneralFailure() {
    standard();
    assertThat(replyCode(command(Socks5Wire.connect("allowed.test", 0)))).isEqualTo(0x01);
  }

  @Test
  void greetingAndCommandPipelinedInOneWriteAreBothHandled() {
    standard();
    ByteBuf both = io.netty.buffer.Unpooled.wrappedBuffer(Socks5Wire.greeting(Socks5AuthMethod.NO_AUTH),
        Socks5Wire.connect("denied.test", 443));
    byte[] reply = send(both);
    assertThat(reply).startsWith(5, NO_AUTH, 5, 2);
  }

  @ParameterizedTest(name = "first bytes {0} are closed without a reply")
  @ValueSource(strings = {"04 01 00 50 7f 00 00 01 00", "47 45 54 20 2f", "16 03 01 00 05",
      "05 00" /* SOCKS5 greeting offering no method at all */})
  void nonSocks5ClientsAreClosed(String hex) {
    standard();
    String[] parts = hex.split(" ");
    int[] values = new int[parts.length];
    for (int i = 0; i < parts.length; i++) {
      values[i] = Integer.parseInt(parts[i], 16);
    }
    assertThat(send(Socks5Wire.bytes(values))).isEmpty();
    assertThat(channel.isOpen()).isFalse();
  }

  @Test
  void clientOfferingOnlyGssapiGetsNoAcceptableMethod() {
    standard();
    assertThat(send(Socks5Wire.greeting(Socks5AuthMethod.GSSAPI))).containsExactly(5, UNACCEPTED);
    assertThat(channel.isOpen()).isFalse();
  }

  @Test
  void withoutConfiguredCredentialsAPasswordOnlyClientIsLetIn() {
    standard();
    assertThat(send(Socks5Wire.greeting(Socks5AuthMethod.PASSWORD))).containsExactly(5, PASSWORD);
    assertThat(send(Socks5Wire.password("anyone", "anything"))).containsExactly(1, 0);
    assertThat(replyCode(send(Socks5Wire.connect("denied.test", 443)))).isEqualTo(0x02);
  }

  @Test
  void configuredCredentialsAreRequired() {
    channel(TestPolicies.standard(), new Socks5Options(true, new Socks5Options.Credentials("agent", "pw")));
    assertThat(send(Socks5Wire.greeting(Socks5AuthMethod.NO_AUTH))).containsExactly(5, UNACCEPTED);
    assertThat(channel.isOpen()).isFalse();
  }

  @Test
  void wrongPasswordFailsAndCloses() {
    channel(TestPolicies.standard(), new Socks5Options(true, new Socks5Options.Credentials("agent", "pw")));
    assertThat(send(Socks5Wire.greeting(Socks5AuthMethod.NO_AUTH, Socks5AuthMethod.PASSWORD)))
        .containsExactly(5, PASSWORD);
    assertThat(send(Socks5Wire.password("agent", "wrong"))).containsExactly(1, 0xff); // RFC 1929: non-zero fails
    assertThat(channel.isOpen()).isFalse();
  }

  @Test
  void rightPasswordLeadsToTheCommand() {
    channel(TestPolicies.standard(), new Socks5Options(true, new Socks5Options.Credentials("agent", "pw")));
    send(Socks5Wire.greeting(Socks5AuthMethod.PASSWORD));
    assertThat(send(Socks5Wire.password("agent", "pw"))).containsExactly(1, 0);
    assertThat(replyCode(send(Socks5Wire.connect("denied.test", 443)))).isEqualTo(0x02);
  }

  @Test
  void handshakeThatStallsIsClosedAtTheDeadline() {
    standard();
    send(Socks5Wire.bytes(5));
    channel.advanceTimeBy(31, TimeUnit.SECONDS);
    channel.runScheduledPendingTasks();
    assertThat(channel.isOpen()).isFalse();
  }

  @Test
  void truncatedCommandFollowedByCloseDoesNotReply() {
    standard();
    send(Socks5Wire.greeting(Socks5AuthMethod.NO_AUTH));
    assertThat(send(Socks5Wire.bytes(5, 1, 0, 3, 20, 'a', 'b'))).isEmpty();
    channel.close();
    assertThat(audit.events()).isEmpty();
  }
}
