package dev.egressd.it;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import dev.egressd.it.Socks5Client.Reply;
import dev.egressd.it.Socks5Client.Status;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * SOCKS5 requests on the wire: the success reply and its bound address, every address type, and the reply code for
 * each way a CONNECT can fail (RFC 1928 section 6).
 */
@Timeout(value = 90, unit = SECONDS)
class Socks5ReplyCodesIT {
  private static final String CONFIG = """
      [network]
      # nowhere.test is allowed but absent from the hosts file. Loopback is granted explicitly, only 127.0.0.1.
      allowed_domains = ["allowed.test", "nowhere.test", "private.test", "127.0.0.1"]
      denied_domains = ["denied.test"]
      """;
  private static final Duration CLOSE = Duration.ofSeconds(10);

  @RegisterExtension
  static final OriginServer origin = OriginServer.http().withPrivateDecoy();

  @RegisterExtension
  static final Daemon egressd = Daemon.withConfig(CONFIG);

  /** The address types a CONNECT can name 127.0.0.1 with. */
  enum AllowedTarget {
    DOMAIN_NAME {
      @Override
      Socks5Address at(int port) {
        return Socks5Address.domain("allowed.test", port);
      }
    },
    IPV4_LITERAL {
      @Override
      Socks5Address at(int port) {
        return Socks5Address.ipv4("127.0.0.1", port);
      }
    },
    IPV4_MAPPED_IPV6_LITERAL {
      @Override
      Socks5Address at(int port) {
        return Socks5Address.ipv6("::ffff:127.0.0.1", port);
      }
    };

    abstract Socks5Address at(int port);
  }

  @ParameterizedTest
  @EnumSource(AllowedTarget.class)
  void successReplyCarriesTheUpstreamSocketsBoundAddressAndTheTunnelReachesTheOrigin(AllowedTarget target)
      throws Exception {
    try (Socks5Client client = Socks5Client.connect(egressd.socksPort())) {
      Reply reply = client.connectTo(target.at(origin.port()));

      assertThat(reply.status()).as("%s", reply).isEqualTo(Status.SUCCEEDED);
      assertThat(reply.bound().type()).isEqualTo(Socks5Address.IPV4);
      assertThat(reply.bound().host()).isEqualTo("127.0.0.1");
      assertThat(reply.bound().port()).as("the proxy's own end of the upstream connection")
          .isNotZero().isNotEqualTo(origin.port());
      assertThat(client.httpGet(origin.authority("allowed.test"), "/tunnel"))
          .startsWith("HTTP/1.1 200").endsWith("origin saw GET /tunnel body=0\n");
    }
    assertThat(origin.onlyRequest().localAddress()).isEqualTo("127.0.0.1");
    egressd.awaitStderr("decision=allow", "protocol=socks5_tcp", "port=" + origin.port());
  }

  @Test
  void successReplyNamesExactlyTheProxysEndOfTheUpstreamConnection() throws Exception {
    try (ServerSocket upstream = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"));
        Socks5Client client = Socks5Client.connect(egressd.socksPort())) {
      upstream.setSoTimeout(10_000);
      Reply reply = client.connectTo(Socks5Address.ipv4("127.0.0.1", upstream.getLocalPort()));

      try (Socket accepted = upstream.accept()) {
        assertThat(reply.status()).as("%s", reply).isEqualTo(Status.SUCCEEDED);
        assertThat(reply.boundSocket()).isEqualTo(accepted.getRemoteSocketAddress());
      }
    }
  }

  @Test
  void bytesSentRightBehindTheCommandReachTheOrigin() throws Exception {
    // Greeting, CONNECT and the tunnelled request in one write, before any reply: nothing may be lost.
    ByteArrayOutputStream all = new ByteArrayOutputStream();
    all.writeBytes(Socks5Client.greeting(Socks5Client.NO_AUTHENTICATION));
    all.writeBytes(Socks5Client.request(Socks5Client.CONNECT,
        Socks5Address.domain("allowed.test", origin.port()).encode()));
    all.writeBytes(("GET /pipelined HTTP/1.1\r\nHost: " + origin.authority("allowed.test")
        + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
    try (Socks5Client client = Socks5Client.connect(egressd.socksPort())) {
      client.send(all.toByteArray());

      assertThat(client.readMethodSelection()).isEqualTo(Socks5Client.NO_AUTHENTICATION);
      assertThat(client.readReply().status()).isEqualTo(Status.SUCCEEDED);
      assertThat(new String(client.readUntilClosed(CLOSE), StandardCharsets.ISO_8859_1))
          .endsWith("origin saw GET /pipelined body=0\n");
    }
  }

  /** Ways a CONNECT (or another command) fails, with the reply code RFC 1928 assigns. */
  enum Failure {
    DENIED_NAME(Status.NOT_ALLOWED_BY_RULESET) {
      @Override
      byte[] request(int originPort, int closedPort) {
        return connect(Socks5Address.domain("denied.test", originPort));
      }
    },
    NAME_OUTSIDE_THE_ALLOWLIST(Status.NOT_ALLOWED_BY_RULESET) {
      @Override
      byte[] request(int originPort, int closedPort) {
        return connect(Socks5Address.domain("other.test", originPort));
      }
    },
    NAME_RESOLVING_TO_AN_UNVETTED_ADDRESS(Status.NOT_ALLOWED_BY_RULESET) {
      @Override
      byte[] request(int originPort, int closedPort) {
        return connect(Socks5Address.domain("private.test", originPort));
      }
    },
    UNVETTED_IPV4_LITERAL(Status.NOT_ALLOWED_BY_RULESET) {
      @Override
      byte[] request(int originPort, int closedPort) {
        return connect(Socks5Address.ipv4("127.0.0.2", originPort));
      }
    },
    UNVETTED_IPV6_LITERAL(Status.NOT_ALLOWED_BY_RULESET) {
      @Override
      byte[] request(int originPort, int closedPort) {
        return connect(Socks5Address.ipv6("::ffff:127.0.0.2", originPort));
      }
    },
    NAME_THAT_DOES_NOT_RESOLVE(Status.HOST_UNREACHABLE) {
      @Override
      byte[] request(int originPort, int closedPort) {
        return connect(Socks5Address.domain("nowhere.test", closedPort));
      }
    },
    NOTHING_LISTENING(Status.CONNECTION_REFUSED) {
      @Override
      byte[] request(int originPort, int closedPort) {
        return connect(Socks5Address.domain("allowed.test", closedPort));
      }
    },
    BIND(Status.COMMAND_NOT_SUPPORTED) {
      @Override
      byte[] request(int originPort, int closedPort) {
        return Socks5Client.request(Socks5Client.BIND, Socks5Address.domain("allowed.test", originPort).encode());
      }
    },
    UNKNOWN_COMMAND(Status.COMMAND_NOT_SUPPORTED) {
      @Override
      byte[] request(int originPort, int closedPort) {
        return Socks5Client.request(0x7f, Socks5Address.domain("allowed.test", originPort).encode());
      }
    },
    UNKNOWN_ADDRESS_TYPE(Status.ADDRESS_TYPE_NOT_SUPPORTED) {
      @Override
      byte[] request(int originPort, int closedPort) {
        return connect(new Socks5Address(0x02, new byte[] {127, 0, 0, 1}, originPort));
      }
    },
    NUL_IN_THE_NAME(Status.GENERAL_FAILURE) {
      @Override
      byte[] request(int originPort, int closedPort) {
        return connect(Socks5Address.domain("allowed.test\0.example", originPort));
      }
    },
    CONTROL_CHARACTER_IN_THE_NAME(Status.GENERAL_FAILURE) {
      @Override
      byte[] request(int originPort, int closedPort) {
        return connect(Socks5Address.domain("allowed\r\n.test", originPort));
      }
    },
    EMPTY_NAME(Status.GENERAL_FAILURE) {
      @Override
      byte[] request(int originPort, int closedPort) {
        return connect(Socks5Address.domain("", originPort));
      }
    },
    PORT_ZERO(Status.GENERAL_FAILURE) {
      @Override
      byte[] request(int originPort, int closedPort) {
        return connect(Socks5Address.domain("allowed.test", 0));
      }
    };

    final Status expected;

    Failure(Status expected) {
      this.expected = expected;
    }

    abstract byte[] request(int originPort, int closedPort);

    static byte[] connect(Socks5Address destination) {
      return Socks5Client.request(Socks5Client.CONNECT, destination.encode());
    }
  }

  @ParameterizedTest
  @EnumSource(Failure.class)
  void failedRequestGetsItsReplyCodeAndIsClosedWithoutReachingTheOrigin(Failure failure) throws Exception {
    try (Socks5Client client = Socks5Client.connect(egressd.socksPort())) {
      assertThat(client.greet(Socks5Client.NO_AUTHENTICATION)).isEqualTo(Socks5Client.NO_AUTHENTICATION);
      client.send(failure.request(origin.port(), TestData.closedPort()));

      Reply reply = client.readReply();

      assertThat(reply.status()).as("%s", reply).isEqualTo(failure.expected);
      assertThat(client.readUntilClosed(CLOSE)).as("nothing after the reply, then close").isEmpty();
    }
    assertThat(origin.connectionCount()).isZero();
  }

  @Test
  void refusedConnectIsAuditedWithTheSocks5Protocol() throws Exception {
    try (Socks5Client client = Socks5Client.connect(egressd.socksPort())) {
      client.connectTo(Socks5Address.domain("denied.test", origin.port()));
    }
    egressd.awaitStderr("decision=deny", "reason=denied", "source=", "protocol=socks5_tcp", "host=denied.test",
        "port=" + origin.port(), "client=127.0.0.1:");
  }

  @Test
  void refusedUpstreamConnectionIsAuditedAsAnUpstreamFailure() throws Exception {
    int closed = TestData.closedPort();
    try (Socks5Client client = Socks5Client.connect(egressd.socksPort())) {
      assertThat(client.connectTo(Socks5Address.domain("allowed.test", closed)).status())
          .isEqualTo(Status.CONNECTION_REFUSED);
    }
    egressd.awaitStderr("upstream_failure", "cause=connect_refused", "protocol=socks5_tcp", "host=allowed.test",
        "port=" + closed);
  }

  @Test
  void upstreamConnectTimeoutGetsTtlExpired() throws Exception {
    try (UnansweredPort unanswered = UnansweredPort.open();
        Socks5Client client = Socks5Client.connect(egressd.socksPort())) {
      Reply reply = client.connectTo(Socks5Address.domain("allowed.test", unanswered.port()));

      assertThat(reply.status()).as("%s", reply).isEqualTo(Status.TTL_EXPIRED);
      assertThat(client.readUntilClosed(CLOSE)).isEmpty();
      egressd.awaitStderr("upstream_failure", "cause=connect_timeout", "protocol=socks5_tcp",
          "port=" + unanswered.port());
    }
  }

  @Test
  void ipLiteralThatOnlyANameRuleCoversIsRefusedWithTheSocks5hHint() throws Exception {
    // private.test (127.0.0.2) is allowed by name; the literal 127.0.0.2 matches no rule.
    try (Socks5Client client = Socks5Client.connect(egressd.socksPort())) {
      Reply reply = client.connectTo(Socks5Address.ipv4("127.0.0.2", origin.port()));

      assertThat(reply.status()).isEqualTo(Status.NOT_ALLOWED_BY_RULESET);
    }
    String hint = egressd.awaitStderr("use socks5h so the proxy sees the host name");
    assertThat(hint).contains("127.0.0.2");
    assertThat(origin.connectionCount()).isZero();
  }

  @Test
  void proxyKeepsServingAfterFailedRequests() throws Exception {
    for (Failure failure : Failure.values()) {
      try (Socks5Client client = Socks5Client.connect(egressd.socksPort())) {
        client.greet(Socks5Client.NO_AUTHENTICATION);
        client.send(failure.request(origin.port(), TestData.closedPort()));
        client.readUntilClosed(CLOSE);
      } catch (IOException e) {
        // how each one ends is checked above; here only what comes after matters
      }
    }
    try (Socks5Client client = Socks5Client.connect(egressd.socksPort())) {
      assertThat(client.connectTo(Socks5Address.domain("allowed.test", origin.port())).status())
          .isEqualTo(Status.SUCCEEDED);
      assertThat(client.httpGet(origin.authority("allowed.test"), "/after")).endsWith("origin saw GET /after body=0\n");
    }
  }
}
