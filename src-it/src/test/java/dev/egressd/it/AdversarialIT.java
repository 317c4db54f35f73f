package dev.egressd.it;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import dev.egressd.it.Attack.Ports;
import dev.egressd.it.Socks5Client.Reply;
import dev.egressd.it.Socks5Client.Status;
import java.io.IOException;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Hostile requests against the real daemon, each on a real socket, each with the proof that a refusal touched
 * nothing: the origin (listening on 127.0.0.1, the 127.0.0.2 decoy and 127.0.0.3) accepted no connection, the
 * daemon's upstream-connect and DNS-lookup counters on {@code /metrics} did not move (except where a name the rules
 * allow had to be resolved to be refused), and the audit line names the reason. Controls in several groups must
 * reach the origin, so that a zero means something. The rows are in {@link AdversarialTables}; see {@link Attack}.
 *
 * <p>Three daemons: {@code strict} allows vetted.test (vetted through an IP rule for 127.0.0.3, so that no spelling
 * of 127.0.0.1 is allowed) and a few names that must still fail; {@code open} allows {@code *}, which must not open
 * any loopback spelling or {@code localhost}; {@code limited} is read-only and allows 127.0.0.1, so its own
 * listeners are reachable by rule and must be refused as loops. Every non-loopback target (metadata services,
 * NAT64, 6to4, Teredo) goes only to {@code strict}, whose rules do not allow it, so even a wrong decision could not
 * send a packet off the machine.
 */
@Timeout(value = 60, unit = SECONDS)
class AdversarialIT {
  private static final String ADMIN = """

      [admin]
      listen = "127.0.0.1:0"
      """;
  private static final String STRICT = """
      [network]
      allowed_domains = ["vetted.test", "127.0.0.3", "private.test", "mixed.test", "**.localhost"]
      denied_domains = ["denied.test"]
      """ + ADMIN;
  private static final String OPEN = """
      [network]
      allowed_domains = ["*", "127.0.0.3"]
      denied_domains = ["denied.test"]
      """ + ADMIN;
  private static final String LIMITED = """
      [network]
      mode = "limited"
      allowed_domains = ["allowed.test", "127.0.0.1"]
      denied_domains = ["denied.test"]
      """ + ADMIN;
  private static final String TABLES = "dev.egressd.it.AdversarialTables#";
  private static final String DNS_LOOKUPS = "egressd_dns_lookup_duration_seconds_count";
  private static final String UPSTREAM_CONNECTS = "egressd_upstream_connect_duration_seconds_count";

  @RegisterExtension
  static final OriginServer origin = OriginServer.http().withPrivateDecoy().alsoOn("127.0.0.3");

  @RegisterExtension
  static final UdpEchoServer echo = new UdpEchoServer();

  @RegisterExtension
  static final Daemon strictProxy = Daemon.withConfig(STRICT);

  @RegisterExtension
  static final Daemon openProxy = Daemon.withConfig(OPEN);

  @RegisterExtension
  static final Daemon limitedProxy = Daemon.withConfig(LIMITED);

  @ParameterizedTest(name = "{0}")
  @MethodSource(TABLES + "loopbackSpellings")
  void loopbackSpellingIsRefusedEvenWhenStarIsAllowed(Attack attack) throws Exception {
    run(attack);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource(TABLES + "nonPublicSpellings")
  void nonPublicSpellingIsRefusedBeforeResolvingOrDialling(Attack attack) throws Exception {
    run(attack);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource(TABLES + "hostNames")
  void hostNameTrickIsRefusedBeforeDialling(Attack attack) throws Exception {
    run(attack);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource(TABLES + "requestTargets")
  void requestTargetHidingAnotherHostIsNeverForwarded(Attack attack) throws Exception {
    run(attack);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource(TABLES + "connectLines")
  void malformedConnectLineIsRejectedWithoutADecision(Attack attack) throws Exception {
    run(attack);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource(TABLES + "framing")
  void ambiguousFramingIsRejectedOrForwardedAsExactlyOneRequest(Attack attack) throws Exception {
    run(attack);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource(TABLES + "pipelined")
  void pipelinedRequestIsDecidedOnItsOwn(Attack attack) throws Exception {
    run(attack);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource({TABLES + "limitedMode", TABLES + "limitedModeOther"})
  void limitedModeRefusesEveryWriteBeforeResolving(Attack attack) throws Exception {
    run(attack);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource(TABLES + "hostInterfaces")
  void addressOfThisHostsInterfacesIsRefusedEvenWhenStarIsAllowed(Attack attack) throws Exception {
    run(attack);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource(TABLES + "ownListeners")
  void requestToTheProxysOwnListenerIsRefusedAsALoop(Attack attack) throws Exception {
    run(attack);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource(TABLES + "socks5Frames")
  void socks5FrameIsRefusedWithoutDialling(Attack attack) throws Exception {
    run(attack);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource(TABLES + "controls")
  void allowedControlReachesTheOrigin(Attack attack) throws Exception {
    run(attack);
  }

  @Test
  void limitedModeUdpAssociationRelaysNothingAndResolvesNothing() throws Exception {
    AdminClient admin = new AdminClient(limitedProxy.adminPort());
    PrometheusText before = admin.metrics();
    try (Socks5Client control = Socks5Client.connect(limitedProxy.socksPort());
        Socks5UdpSocket udp = Socks5UdpSocket.open()) {
      assertThat(control.greet(Socks5Client.NO_AUTHENTICATION)).isEqualTo(Socks5Client.NO_AUTHENTICATION);
      Reply association = control.request(Socks5Client.UDP_ASSOCIATE, Socks5Address.unspecified());
      assertThat(association.status()).as("%s", association).isEqualTo(Status.SUCCEEDED);

      udp.send(Socks5Datagram.of(Socks5Address.domain("allowed.test", echo.port()), "by-name"),
          association.boundSocket());
      udp.send(Socks5Datagram.of(Socks5Address.ipv4("127.0.0.1", echo.port()), "by-ip"), association.boundSocket());

      limitedProxy.awaitStderr("decision=deny", "reason=method_not_allowed", "protocol=socks5_udp",
          "host=allowed.test");
      limitedProxy.awaitStderr("decision=deny", "reason=method_not_allowed", "protocol=socks5_udp",
          "host=127.0.0.1");
      assertThat(udp.receive(Duration.ofMillis(500))).as("no echo").isEmpty();
    }
    assertThat(echo.received()).as("datagrams at the echo server").isEmpty();
    assertThat(delta(before, admin.metrics(), DNS_LOOKUPS)).as("DNS lookups").isZero();
  }

  private static void run(Attack attack) throws Exception {
    Daemon daemon = switch (attack.proxy()) {
      case STRICT -> strictProxy;
      case OPEN -> openProxy;
      case LIMITED -> limitedProxy;
    };
    AdminClient admin = new AdminClient(daemon.adminPort());
    Ports ports = new Ports(origin.port(), daemon.port(), daemon.socksPort(), daemon.adminPort());
    PrometheusText before = admin.metrics();

    try {
      attack.perform(ports);
    } catch (AssertionError | IOException e) {
      throw new AssertionError(attack + " failed: " + e + "\norigin: " + origin.connectionCount()
          + " connections, requests " + origin.requests() + "\negressd stderr of this case:\n"
          + String.join("\n", daemon.stderrOfThisTest()), e);
    }

    PrometheusText after = admin.metrics();
    assertThat(origin.requestCount()).as("requests at the origin: %s", origin.requests())
        .isEqualTo(attack.forwarded());
    if (attack.bounded()) {
      assertThat(origin.connectionCount()).as("connections at the origin").isLessThanOrEqualTo(attack.dials());
      assertThat(delta(before, after, UPSTREAM_CONNECTS)).as("upstream connects")
          .isLessThanOrEqualTo(attack.dials());
      assertThat(delta(before, after, DNS_LOOKUPS)).as("DNS lookups").isLessThanOrEqualTo(attack.lookups());
    } else {
      assertThat(origin.connectionCount()).as("connections at the origin (127.0.0.1, .2, .3)")
          .isEqualTo(attack.dials());
      assertThat(delta(before, after, UPSTREAM_CONNECTS)).as("upstream connects").isEqualTo(attack.dials());
      assertThat(delta(before, after, DNS_LOOKUPS)).as("DNS lookups").isEqualTo(attack.lookups());
    }
    if (!attack.audit().isEmpty()) {
      daemon.awaitStderr(attack.audit().stream().map(ports::fill).toArray(String[]::new));
    }
    if (attack.forwarded() > 0 && attack.audit().stream().noneMatch(f -> f.contains("denied"))) {
      assertThat(daemon.stderrOfThisTest()).as("a request smuggled inside a body is never decided")
          .noneMatch(line -> line.contains("host=denied.test"));
    }
  }

  private static double delta(PrometheusText before, PrometheusText after, String name) {
    return after.sum(name) - before.sum(name);
  }
}
