package dev.egressd.proxy.mitm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.egressd.audit.AuditEvent;
import dev.egressd.policy.AccessMode;
import dev.egressd.policy.HostName;
import dev.egressd.policy.NetworkPolicy;
import dev.egressd.policy.PolicyEngine;
import dev.egressd.policy.Protocol;
import dev.egressd.policy.Reason;
import dev.egressd.policy.Rule;
import dev.egressd.proxy.ProxyOptions;
import dev.egressd.proxy.ProxyServer;
import dev.egressd.proxy.testing.FakeResolver;
import dev.egressd.proxy.testing.RecordingAuditSink;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The interception stage on real loopback sockets, with an HTTPS origin that has its own CA, on each
 * {@link TlsImplementation} (both the client-facing and the origin-facing TLS).
 */
@Timeout(30)
@ParameterizedClass
@EnumSource(TlsImplementation.class)
class MitmStageTest {
  @Parameter TlsImplementation tls;
  @TempDir
  Path dir;

  private final FakeResolver resolver = new FakeResolver().map("allowed.test", "127.0.0.1");
  private final RecordingAuditSink audit = new RecordingAuditSink();
  private final AtomicInteger originRequests = new AtomicInteger();
  private EventLoopGroup originGroup;
  private Channel origin;
  private CertificateAuthority egressdCa;
  private Path originCaPem;
  private ProxyServer proxy;

  @BeforeEach
  void setUp() throws Exception {
    CertificateAuthority originCa = CertificateAuthority.loadOrCreate(dir.resolve("origin/ca.pem"),
        dir.resolve("origin/ca.key"), Clock.systemUTC());
    originCaPem = dir.resolve("origin/ca.pem");
    LeafMinter originMinter = new LeafMinter(originCa, Clock.systemUTC(), 4);
    originGroup = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    origin = new ServerBootstrap().group(originGroup).channel(NioServerSocketChannel.class)
        .childHandler(new ChannelInitializer<Channel>() {
          @Override
          protected void initChannel(Channel ch) {
            ch.pipeline().addLast(originMinter.serverContext(HostName.parse("allowed.test")).newHandler(ch.alloc()),
                new HttpServerCodec(), new HttpObjectAggregator(1 << 20), new Echo());
          }
        }).bind("127.0.0.1", 0).sync().channel();
    egressdCa = CertificateAuthority.loadOrCreate(dir.resolve("egressd/ca.pem"), dir.resolve("egressd/ca.key"),
        Clock.systemUTC());
  }

  @AfterEach
  void tearDown() {
    if (proxy != null) {
      proxy.close();
    }
    origin.close().syncUninterruptibly();
    originGroup.shutdownGracefully(0, 0, TimeUnit.SECONDS).syncUninterruptibly();
  }

  private final class Echo extends SimpleChannelInboundHandler<FullHttpRequest> {
    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
      originRequests.incrementAndGet();
      FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
          Unpooled.copiedBuffer("origin saw " + request.method() + " " + request.uri(), StandardCharsets.UTF_8));
      HttpUtil.setContentLength(response, response.content().readableBytes());
      ctx.writeAndFlush(response);
    }
  }

  private void startProxy(AccessMode mode, Path upstreamBundle) throws Exception {
    NetworkPolicy policy = NetworkPolicy.builder().mode(mode).mitm(true)
        .addRule(Rule.allow("allowed.test", "test")).addRule(Rule.allow("127.0.0.1", "test")).build();
    PolicyEngine engine = new PolicyEngine(policy, true);
    proxy = ProxyServer.start(ProxyOptions.builder().httpListen(new InetSocketAddress("127.0.0.1", 0)).build(),
        () -> engine, resolver, audit, List.of(), MitmStage.factory(
            new LeafMinter(egressdCa, Clock.systemUTC(), 16, tls), UpstreamTrust.clientContext(upstreamBundle, tls),
            MitmOptions.DEFAULTS));
  }

  private int originPort() {
    return ((InetSocketAddress) origin.localAddress()).getPort();
  }

  /** Opens a CONNECT tunnel and a TLS session over it that trusts only the egressd CA. */
  private SSLSocket tunnel(String sni) throws Exception {
    Socket socket = new Socket("127.0.0.1", proxy.httpAddress().getPort());
    socket.setSoTimeout(5000);
    socket.getOutputStream().write(("CONNECT allowed.test:" + originPort() + " HTTP/1.1\r\n\r\n")
        .getBytes(StandardCharsets.US_ASCII));
    assertThat(readHead(socket.getInputStream())).startsWith("HTTP/1.1 200");
    KeyStore trust = KeyStore.getInstance("PKCS12");
    trust.load(null, null);
    trust.setCertificateEntry("egressd", egressdCa.certificate());
    TrustManagerFactory factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    factory.init(trust);
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(null, factory.getTrustManagers(), null);
    SSLSocket tls = (SSLSocket) context.getSocketFactory().createSocket(socket, sni, originPort(), true);
    SSLParameters parameters = tls.getSSLParameters();
    parameters.setServerNames(List.of(new SNIHostName(sni)));
    parameters.setEndpointIdentificationAlgorithm("HTTPS");
    tls.setSSLParameters(parameters);
    tls.startHandshake();
    return tls;
  }

  private static String exchange(SSLSocket tls, String request) throws IOException {
    tls.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
    tls.getOutputStream().flush();
    InputStream in = tls.getInputStream();
    String head = readHead(in);
    int length = Integer.parseInt(head.replaceAll("(?is).*content-length: *(\\d+).*", "$1"));
    return head + new String(in.readNBytes(length), StandardCharsets.UTF_8);
  }

  private static String readHead(InputStream in) throws IOException {
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    while (!head.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
      int c = in.read();
      if (c < 0) {
        break;
      }
      head.write(c);
    }
    return head.toString(StandardCharsets.ISO_8859_1);
  }

  @Test
  void limitedModeForwardsGetOverVerifiedTlsAndRefusesPostInsideTheTunnel() throws Exception {
    startProxy(AccessMode.LIMITED, originCaPem);
    try (SSLSocket tls = tunnel("allowed.test")) {
      assertThat(exchange(tls, "GET /read HTTP/1.1\r\nHost: allowed.test:" + originPort() + "\r\n\r\n"))
          .startsWith("HTTP/1.1 200").endsWith("origin saw GET /read");
      assertThat(exchange(tls, "POST /write HTTP/1.1\r\nHost: allowed.test:" + originPort()
          + "\r\nContent-Length: 0\r\n\r\n")).startsWith("HTTP/1.1 403")
          .contains("x-proxy-error: blocked-by-method-policy").contains("\"protocol\":\"https\"");
    }
    assertThat(originRequests).hasValue(1);
    assertThat(audit.decisions()).extracting(d -> d.request().protocol() + " " + d.request().method() + " "
        + d.decision().reason().code())
        .containsExactly("HTTPS_CONNECT CONNECT allow", "HTTPS GET allow", "HTTPS POST method_not_allowed");
  }

  @Test
  void theLeafIsForTheConnectHostAndIssuedByTheEgressdCa() throws Exception {
    startProxy(AccessMode.LIMITED, originCaPem);
    try (SSLSocket tls = tunnel("allowed.test")) {
      java.security.cert.X509Certificate leaf =
          (java.security.cert.X509Certificate) tls.getSession().getPeerCertificates()[0];
      leaf.verify(egressdCa.certificate().getPublicKey());
      assertThat(leaf.getSubjectAlternativeNames()).containsExactly(List.of(2, "allowed.test"));
    }
  }

  @Test
  void aServerNameOtherThanTheConnectHostIsRefused() throws Exception {
    startProxy(AccessMode.LIMITED, originCaPem);
    assertThatThrownBy(() -> tunnel("evil.test").close()).isInstanceOf(IOException.class);
    assertThat(originRequests).hasValue(0);
    assertThat(audit.decisions()).last()
        .satisfies(d -> assertThat(d.decision().reason()).isEqualTo(Reason.HOST_MISMATCH));
  }

  @Test
  void anInnerHostOtherThanTheTunnelsIsMisdirected() throws Exception {
    startProxy(AccessMode.LIMITED, originCaPem);
    try (SSLSocket tls = tunnel("allowed.test")) {
      assertThat(exchange(tls, "GET / HTTP/1.1\r\nHost: other.test\r\n\r\n")).startsWith("HTTP/1.1 421")
          .contains("x-proxy-error: host-mismatch");
    }
    assertThat(originRequests).hasValue(0);
  }

  @Test
  void connectInsideTheTunnelIsMethodNotAllowed() throws Exception {
    startProxy(AccessMode.LIMITED, originCaPem);
    try (SSLSocket tls = tunnel("allowed.test")) {
      assertThat(exchange(tls, "CONNECT other.test:443 HTTP/1.1\r\nHost: other.test:443\r\n\r\n"))
          .startsWith("HTTP/1.1 405");
    }
  }

  @Test
  void anOriginWhoseCertificateIsNotTrustedIs502() throws Exception {
    startProxy(AccessMode.LIMITED, null); // the origin's CA is not in the upstream trust
    try (SSLSocket tls = tunnel("allowed.test")) {
      assertThat(exchange(tls, "GET / HTTP/1.1\r\nHost: allowed.test:" + originPort() + "\r\n\r\n"))
          .startsWith("HTTP/1.1 502").contains("x-proxy-error: upstream-tls-failure");
    }
    assertThat(originRequests).hasValue(0);
    assertThat(audit.events()).last().isInstanceOf(AuditEvent.UpstreamFailed.class);
  }

  @Test
  void nonTlsBytesInALimitedTunnelAreRefused() throws Exception {
    startProxy(AccessMode.LIMITED, originCaPem);
    try (Socket socket = new Socket("127.0.0.1", proxy.httpAddress().getPort())) {
      socket.setSoTimeout(5000);
      socket.getOutputStream().write(("CONNECT allowed.test:" + originPort() + " HTTP/1.1\r\n\r\nSSH-2.0-x\r\n")
          .getBytes(StandardCharsets.US_ASCII));
      assertThat(readHead(socket.getInputStream())).startsWith("HTTP/1.1 200");
      assertThat(socket.getInputStream().read()).isEqualTo(-1);
    }
    assertThat(audit.decisions()).last().satisfies(d -> {
      assertThat(d.decision().reason()).isEqualTo(Reason.OPAQUE_TUNNEL);
      assertThat(d.request().protocol()).isEqualTo(Protocol.HTTPS);
    });
    assertThat(originRequests).hasValue(0);
  }

  @Test
  void unreadableUpstreamBundleIsAClearError() {
    Path missing = dir.resolve("nope.pem");
    assertThatThrownBy(() -> UpstreamTrust.clientContext(missing, tls)).isInstanceOf(CaException.class)
        .hasMessageContaining("nope.pem");
  }

  @Test
  void clientTrustFilesHoldTheCaAndSystemRoots() throws Exception {
    ClientTrust trust = ClientTrust.write(egressdCa, dir.resolve("egressd/ca.pem"), dir.resolve("trust"));
    assertThat(Files.readString(trust.pemBundle())).startsWith(egressdCa.certificatePem())
        .contains("-----BEGIN CERTIFICATE-----");
    KeyStore store = KeyStore.getInstance("PKCS12");
    try (InputStream in = Files.newInputStream(trust.trustStore())) {
      store.load(in, ClientTrust.TRUST_STORE_PASSWORD.toCharArray());
    }
    assertThat(store.getCertificate("egressd-mitm-ca")).isEqualTo(egressdCa.certificate());
    assertThat(store.size()).isGreaterThan(10);
  }
}
