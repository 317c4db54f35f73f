package dev.egressd.it;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import dev.egressd.it.Socks5Client.Reply;
import dev.egressd.it.Socks5Client.Status;
import dev.egressd.it.Socks5UdpSocket.Incoming;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * SOCKS5 UDP ASSOCIATE (RFC 1928 section 7) through the relay to a loopback UDP echo server: allowed destinations
 * are relayed and the replies come back wrapped; refused, fragmented and foreign datagrams never reach the echo
 * server; the association ends with its control connection.
 */
@Timeout(value = 90, unit = SECONDS)
class Socks5UdpIT {
  private static final String CONFIG = """
      [network]
      # denied.test and other.test resolve to 127.0.0.1 like allowed.test: a relayed datagram would reach the echo
      # server. Loopback is granted explicitly, only 127.0.0.1.
      allowed_domains = ["allowed.test", "denied.test", "127.0.0.1"]
      denied_domains = ["denied.test"]
      """;
  private static final Duration ECHO = Duration.ofSeconds(5);
  private static final Duration SILENCE = Duration.ofMillis(700);

  @RegisterExtension
  static final UdpEchoServer echo = new UdpEchoServer();

  @RegisterExtension
  static final Daemon egressd = Daemon.withConfig(CONFIG);

  /** The address types a datagram can name the echo server with. */
  enum EchoDestination {
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

  @Test
  void associateReplyNamesARelaySocketOnLoopback() throws Exception {
    try (Socks5Client control = Socks5Client.connect(egressd.socksPort())) {
      control.greet(Socks5Client.NO_AUTHENTICATION);
      Reply reply = control.request(Socks5Client.UDP_ASSOCIATE, Socks5Address.unspecified());

      assertThat(reply.status()).as("%s", reply).isEqualTo(Status.SUCCEEDED);
      assertThat(reply.bound().type()).isEqualTo(Socks5Address.IPV4);
      assertThat(reply.bound().host()).isEqualTo("127.0.0.1");
      assertThat(reply.bound().port()).isNotZero().isNotEqualTo(egressd.socksPort());
      assertThat(control.closedByPeer(500)).as("the control connection stays open").isFalse();
    }
  }

  @ParameterizedTest
  @EnumSource(EchoDestination.class)
  void datagramToAnAllowedDestinationIsEchoedBackWrappedWithTheSendersAddress(EchoDestination destination)
      throws Exception {
    try (Socks5Client control = Socks5Client.connect(egressd.socksPort());
        Socks5UdpSocket udp = Socks5UdpSocket.open()) {
      InetSocketAddress relay = associate(control, Socks5Address.unspecified());

      udp.send(Socks5Datagram.of(destination.at(echo.port()), "hello " + destination), relay);
      Optional<Incoming> reply = udp.receive(ECHO);

      assertThat(reply).as("the echo, through the relay").isPresent();
      assertThat(reply.get().sender()).isEqualTo(relay);
      assertThat(reply.get().datagram())
          .isEqualTo(Socks5Datagram.of(Socks5Address.ipv4("127.0.0.1", echo.port()), "hello " + destination));
      assertThat(echo.received()).singleElement().satisfies(received -> {
        assertThat(received.text()).isEqualTo("hello " + destination);
        assertThat(received.sender()).as("sent from the relay socket").isEqualTo(relay);
      });
    }
    egressd.awaitStderr("decision=allow", "protocol=socks5_udp", "port=" + echo.port());
  }

  @Test
  void eachDestinationIsDecidedOncePerAssociation() throws Exception {
    try (Socks5Client control = Socks5Client.connect(egressd.socksPort());
        Socks5UdpSocket udp = Socks5UdpSocket.open()) {
      InetSocketAddress relay = associate(control, Socks5Address.unspecified());
      Socks5Address destination = Socks5Address.domain("allowed.test", echo.port());

      for (int i = 0; i < 3; i++) {
        assertThat(roundTrip(udp, relay, destination, "again-" + i).text()).isEqualTo("again-" + i);
      }
      String client = "client=127.0.0.1:" + control.localPort();
      egressd.awaitStderr("decision=allow", "protocol=socks5_udp", "host=allowed.test", client);
      assertThat(egressd.stderrOfThisTest())
          .filteredOn(line -> line.contains("decision=") && (line.contains(client + " ") || line.endsWith(client)))
          .hasSize(1);
    }
  }

  /** Destinations the policy refuses, each resolving to the echo server's address. */
  enum RefusedDestination {
    DENIED_NAME("denied.test", "denied"),
    NAME_OUTSIDE_THE_ALLOWLIST("other.test", "not_allowed");

    final String host;
    final String reason;

    RefusedDestination(String host, String reason) {
      this.host = host;
      this.reason = reason;
    }
  }

  @ParameterizedTest
  @EnumSource(RefusedDestination.class)
  void datagramToARefusedDestinationIsDropped(RefusedDestination refused) throws Exception {
    try (Socks5Client control = Socks5Client.connect(egressd.socksPort());
        Socks5UdpSocket udp = Socks5UdpSocket.open()) {
      InetSocketAddress relay = associate(control, Socks5Address.unspecified());

      udp.send(Socks5Datagram.of(Socks5Address.domain(refused.host, echo.port()), "must-not-arrive"), relay);
      egressd.awaitStderr("decision=deny", "reason=" + refused.reason, "protocol=socks5_udp",
          "host=" + refused.host, "port=" + echo.port());
      // The relay works through its datagrams in order: once this one is echoed, the refused one is gone for good.
      assertThat(roundTrip(udp, relay, Socks5Address.domain("allowed.test", echo.port()), "sentinel").text())
          .isEqualTo("sentinel");
      assertThat(udp.receive(SILENCE)).isEmpty();
    }
    assertThat(echo.receivedTexts()).containsExactly("sentinel");
  }

  @Test
  void fragmentedDatagramIsDropped() throws Exception {
    try (Socks5Client control = Socks5Client.connect(egressd.socksPort());
        Socks5UdpSocket udp = Socks5UdpSocket.open()) {
      InetSocketAddress relay = associate(control, Socks5Address.unspecified());
      Socks5Address destination = Socks5Address.domain("allowed.test", echo.port());

      udp.send(Socks5Datagram.of(destination, "fragment-1").withFragment(1), relay);
      udp.send(Socks5Datagram.of(destination, "fragment-0x81").withFragment(0x81), relay);

      assertThat(roundTrip(udp, relay, destination, "whole").text()).isEqualTo("whole");
      assertThat(udp.receive(SILENCE)).isEmpty();
    }
    assertThat(echo.receivedTexts()).containsExactly("whole");
  }

  @Test
  void malformedDatagramIsDroppedAndTheAssociationGoesOn() throws Exception {
    try (Socks5Client control = Socks5Client.connect(egressd.socksPort());
        Socks5UdpSocket udp = Socks5UdpSocket.open()) {
      InetSocketAddress relay = associate(control, Socks5Address.ipv4("127.0.0.1", udp.localAddress().getPort()));
      Socks5Address destination = Socks5Address.domain("allowed.test", echo.port());
      byte[] whole = Socks5Datagram.of(destination, "truncated").encode();

      for (int length : new int[] {0, 3, 6, 5 + "allowed.test".length()}) {
        udp.sendRaw(Arrays.copyOf(whole, length), relay);
      }
      udp.send(Socks5Datagram.of(Socks5Address.domain("", echo.port()), "empty-name"), relay);
      udp.send(Socks5Datagram.of(Socks5Address.domain("allowed.test", 0), "port-zero"), relay);
      udp.send(Socks5Datagram.of(new Socks5Address(0x02, new byte[] {127, 0, 0, 1}, echo.port()), "bad-type"),
          relay);

      assertThat(roundTrip(udp, relay, destination, "well-formed").text()).isEqualTo("well-formed");
    }
    assertThat(echo.receivedTexts()).containsExactly("well-formed");
    assertThat(egressd.process().isAlive()).isTrue();
  }

  @Test
  void datagramsFromAnotherSocketThanTheFirstSenderAreNotRelayed() throws Exception {
    try (Socks5Client control = Socks5Client.connect(egressd.socksPort());
        Socks5UdpSocket first = Socks5UdpSocket.open();
        Socks5UdpSocket other = Socks5UdpSocket.open()) {
      InetSocketAddress relay = associate(control, Socks5Address.unspecified());
      Socks5Address destination = Socks5Address.domain("allowed.test", echo.port());
      assertThat(roundTrip(first, relay, destination, "first").text()).isEqualTo("first");

      other.send(Socks5Datagram.of(destination, "from-another-port"), relay);

      assertThat(roundTrip(first, relay, destination, "first-again").text()).isEqualTo("first-again");
      assertThat(other.receive(SILENCE)).as("nothing for the other socket").isEmpty();
    }
    assertThat(echo.receivedTexts()).containsExactly("first", "first-again");
  }

  @Test
  void onlyTheAnnouncedClientPortMaySend() throws Exception {
    try (Socks5Client control = Socks5Client.connect(egressd.socksPort());
        Socks5UdpSocket announced = Socks5UdpSocket.open();
        Socks5UdpSocket other = Socks5UdpSocket.open()) {
      InetSocketAddress relay = associate(control,
          Socks5Address.ipv4("127.0.0.1", announced.localAddress().getPort()));
      Socks5Address destination = Socks5Address.domain("allowed.test", echo.port());

      other.send(Socks5Datagram.of(destination, "not-announced"), relay);
      assertThat(roundTrip(announced, relay, destination, "announced").text()).isEqualTo("announced");
      assertThat(other.receive(SILENCE)).isEmpty();
    }
    assertThat(echo.receivedTexts()).containsExactly("announced");
  }

  @Test
  void datagramFromAnAddressTheClientNeverSentToIsNotPassedToTheClient() throws Exception {
    try (Socks5Client control = Socks5Client.connect(egressd.socksPort());
        Socks5UdpSocket udp = Socks5UdpSocket.open();
        DatagramSocket stranger = new DatagramSocket(0, InetAddress.getByName("127.0.0.1"))) {
      InetSocketAddress relay = associate(control, Socks5Address.unspecified());
      roundTrip(udp, relay, Socks5Address.domain("allowed.test", echo.port()), "first");

      byte[] injected = "injected".getBytes(StandardCharsets.UTF_8);
      stranger.send(new DatagramPacket(injected, injected.length, relay));

      assertThat(udp.receive(SILENCE)).as("the relay passes on replies only from destinations it sent to").isEmpty();
    }
  }

  @Test
  void closingTheControlConnectionEndsTheAssociation() throws Exception {
    Socks5Address destination = Socks5Address.domain("allowed.test", echo.port());
    try (Socks5UdpSocket udp = Socks5UdpSocket.open()) {
      InetSocketAddress relay;
      String client;
      try (Socks5Client control = Socks5Client.connect(egressd.socksPort())) {
        client = "127.0.0.1:" + control.localPort();
        relay = associate(control, Socks5Address.unspecified());
        assertThat(roundTrip(udp, relay, destination, "while-open").text()).isEqualTo("while-open");
      }
      egressd.awaitStderr("SOCKS5 UDP association of " + client + " ended", "sent=1", "received=1");

      udp.send(Socks5Datagram.of(destination, "after-close"), relay);

      assertThat(udp.receive(SILENCE)).isEmpty();
    }
    assertThat(echo.receivedTexts()).containsExactly("while-open");
  }

  @Test
  void udpAssociateIsNotSupportedWhenUdpIsDisabled() throws Exception {
    Daemon withoutUdp = Daemon.withConfig(CONFIG + "enable_socks5_udp = false\n");
    withoutUdp.start();
    try {
      assertThat(withoutUdp.awaitStdout("SOCKS5 proxy listening on")).endsWith("(UDP off)");
      try (Socks5Client control = Socks5Client.connect(withoutUdp.socksPort())) {
        control.greet(Socks5Client.NO_AUTHENTICATION);
        Reply reply = control.request(Socks5Client.UDP_ASSOCIATE, Socks5Address.unspecified());

        assertThat(reply.status()).as("%s", reply).isEqualTo(Status.COMMAND_NOT_SUPPORTED);
        assertThat(control.readUntilClosed(Duration.ofSeconds(10))).isEmpty();
      }
      try (Socks5Client client = Socks5Client.connect(withoutUdp.socksPort())) {
        assertThat(client.connectTo(Socks5Address.domain("allowed.test", TestData.closedPort())).status())
            .as("TCP CONNECT is still served").isEqualTo(Status.CONNECTION_REFUSED);
      }
    } finally {
      withoutUdp.stop();
    }
  }

  private static InetSocketAddress associate(Socks5Client control, Socks5Address announced) throws Exception {
    assertThat(control.greet(Socks5Client.NO_AUTHENTICATION)).isEqualTo(Socks5Client.NO_AUTHENTICATION);
    Reply reply = control.request(Socks5Client.UDP_ASSOCIATE, announced);
    assertThat(reply.status()).as("%s", reply).isEqualTo(Status.SUCCEEDED);
    return reply.boundSocket();
  }

  /** Sends one datagram through the relay and returns the echo, which must arrive. */
  private static Socks5Datagram roundTrip(Socks5UdpSocket udp, InetSocketAddress relay, Socks5Address destination,
      String text) throws Exception {
    udp.send(Socks5Datagram.of(destination, text), relay);
    Optional<Incoming> reply = udp.receive(ECHO);
    assertThat(reply).as("echo of %s via %s", text, destination).isPresent();
    return reply.get().datagram();
  }
}
