package dev.egressd.proxy.mitm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.egressd.policy.HostName;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Clock;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLHandshakeException;
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
 * A JDK client that trusts only the egressd CA, with HTTPS hostname verification, against a Netty TLS server on each
 * {@link TlsImplementation}.
 */
@Timeout(30)
@ParameterizedClass
@EnumSource(TlsImplementation.class)
class LeafTlsHandshakeTest {
  @Parameter TlsImplementation tls;
  @TempDir Path dir;
  private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
  private LeafMinter minter;
  private SSLContext client;
  private Channel server;

  @BeforeEach
  void setUp() throws Exception {
    CertificateAuthority ca =
        CertificateAuthority.loadOrCreate(dir.resolve("ca.pem"), dir.resolve("ca.key"), Clock.systemUTC());
    minter = new LeafMinter(ca, Clock.systemUTC(), 8, tls);
    client = trustingOnly(ca);
  }

  @AfterEach
  void tearDown() {
    if (server != null) {
      server.close().syncUninterruptibly();
    }
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
  }

  @Test
  void clientTrustingTheCaAcceptsTheLeafForItsHost() throws Exception {
    startServerFor("mitm.test");

    try (SSLSocket socket = handshake("mitm.test", "h2", "http/1.1")) {
      assertThat(socket.getSession().getPeerPrincipal().getName()).isEqualTo("CN=mitm.test");
      assertThat(socket.getSession().getProtocol()).isEqualTo("TLSv1.3");
    }
  }

  @Test
  void alpnSelectsHttp11EvenWhenTheClientPrefersH2() throws Exception {
    startServerFor("mitm.test");

    try (SSLSocket socket = handshake("mitm.test", "h2", "http/1.1")) {
      assertThat(socket.getApplicationProtocol()).isEqualTo("http/1.1");
    }
  }

  @Test
  void clientVerifiesAnIpLiteralAgainstTheIpSan() throws Exception {
    startServerFor("127.0.0.1");

    try (SSLSocket socket = handshake("127.0.0.1", "http/1.1")) {
      assertThat(socket.getSession().isValid()).isTrue();
    }
  }

  @Test
  void clientRefusesTheLeafForADifferentName() throws Exception {
    startServerFor("mitm.test");

    assertThatThrownBy(() -> handshake("other.test", "http/1.1"))
        .isInstanceOf(SSLHandshakeException.class)
        .hasMessageContaining("other.test");
  }

  @Test
  void tls12IsAlsoOffered() throws Exception {
    startServerFor("mitm.test");

    try (SSLSocket socket = connect("mitm.test", "http/1.1")) {
      socket.setEnabledProtocols(new String[] {"TLSv1.2"});
      socket.startHandshake();
      assertThat(socket.getSession().getProtocol()).isEqualTo("TLSv1.2");
    }
  }

  private void startServerFor(String host) throws InterruptedException {
    var context = minter.serverContext(HostName.parse(host));
    server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
        .childHandler(new ChannelInitializer<Channel>() {
          @Override
          protected void initChannel(Channel ch) {
            ch.pipeline().addLast(context.newHandler(ch.alloc()), new ChannelInboundHandlerAdapter() {
              @Override
              public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                ctx.close(); // the refused handshake is the client's to report
              }
            });
          }
        }).bind("127.0.0.1", 0).sync().channel();
  }

  private SSLSocket handshake(String host, String... alpn) throws IOException {
    SSLSocket socket = connect(host, alpn);
    try {
      socket.startHandshake();
      return socket;
    } catch (IOException e) {
      socket.close();
      throw e;
    }
  }

  /** Connects to the loopback server but names {@code host} for SNI and hostname verification. */
  private SSLSocket connect(String host, String... alpn) throws IOException {
    InetSocketAddress address = (InetSocketAddress) server.localAddress();
    Socket raw = new Socket();
    raw.connect(address, 5_000);
    raw.setSoTimeout(10_000);
    SSLSocket socket = (SSLSocket) client.getSocketFactory().createSocket(raw, host, address.getPort(), true);
    SSLParameters parameters = socket.getSSLParameters();
    parameters.setEndpointIdentificationAlgorithm("HTTPS");
    parameters.setApplicationProtocols(alpn);
    socket.setSSLParameters(parameters);
    return socket;
  }

  private static SSLContext trustingOnly(CertificateAuthority ca) throws Exception {
    KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
    trust.load(null, null);
    trust.setCertificateEntry("egressd-mitm-ca", ca.certificate());
    TrustManagerFactory factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    factory.init(trust);
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(null, factory.getTrustManagers(), null);
    return context;
  }
}
