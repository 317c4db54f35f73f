package dev.egressd.it;

import static dev.egressd.it.TestData.connect;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import dev.egressd.it.Socks5Client.Status;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A SOCKS5 CONNECT is decided exactly as an HTTP CONNECT to the same host and port: the same verdict, reason, source,
 * canonical host and rule in the audit line, only the protocol label differs ({@code socks5_tcp}).
 */
@Timeout(value = 90, unit = SECONDS)
class Socks5PolicyIT {
  private static final String CONFIG = """
      [network]
      allowed_domains = ["allowed.test", "denied.test", "private.test", "mixed.test", "127.0.0.1"]
      denied_domains = ["denied.test"]
      """;
  private static final Pattern FIELD = Pattern.compile("\\b(decision|reason|source|host|port|rule)=(\"[^\"]*\"|\\S+)");

  @RegisterExtension
  static final OriginServer origin = OriginServer.http().withPrivateDecoy();

  @RegisterExtension
  static final Daemon egressd = Daemon.withConfig(CONFIG);

  /**
   * One destination, as the HTTP CONNECT authority host and as a SOCKS5 address of the type a client would use.
   */
  enum Target {
    NAME("allowed.test", Socks5Address.DOMAIN),
    UPPER_CASE_NAME("ALLOWED.TEST", Socks5Address.DOMAIN),
    NAME_WITH_A_TRAILING_DOT("allowed.test.", Socks5Address.DOMAIN),
    DENIED_NAME("denied.test", Socks5Address.DOMAIN),
    DENIED_NAME_SPELLED_ODDLY("DeNiEd.TeSt.", Socks5Address.DOMAIN),
    NAME_OUTSIDE_THE_ALLOWLIST("other.test", Socks5Address.DOMAIN),
    SUFFIX_OF_AN_ALLOWED_NAME("evilallowed.test", Socks5Address.DOMAIN),
    NAME_RESOLVING_TO_AN_UNVETTED_ADDRESS("private.test", Socks5Address.DOMAIN),
    NAME_WITH_ONE_UNVETTED_ANSWER("mixed.test", Socks5Address.DOMAIN),
    LOCALHOST("localhost", Socks5Address.DOMAIN),
    ALLOWED_IPV4("127.0.0.1", Socks5Address.IPV4),
    UNVETTED_IPV4("127.0.0.2", Socks5Address.IPV4),
    ALLOWED_IPV4_AS_A_NAME("127.0.0.1", Socks5Address.DOMAIN),
    ALLOWED_IPV4_AS_A_DECIMAL_NAME("2130706433", Socks5Address.DOMAIN),
    UNVETTED_IPV4_AS_A_HEX_NAME("0x7f000002", Socks5Address.DOMAIN),
    ALLOWED_IPV4_MAPPED_IPV6("::ffff:127.0.0.1", Socks5Address.IPV6),
    UNVETTED_IPV4_MAPPED_IPV6("::ffff:127.0.0.2", Socks5Address.IPV6);

    final String host;
    final int type;

    Target(String host, int type) {
      this.host = host;
      this.type = type;
    }

    String authority(int port) {
      return (type == Socks5Address.IPV6 ? "[" + host + "]" : host) + ":" + port;
    }

    Socks5Address socks(int port) {
      return switch (type) {
        case Socks5Address.IPV4 -> Socks5Address.ipv4(host, port);
        case Socks5Address.IPV6 -> Socks5Address.ipv6(host, port);
        default -> Socks5Address.domain(host, port);
      };
    }
  }

  @ParameterizedTest
  @EnumSource(Target.class)
  void socksConnectIsDecidedLikeHttpConnect(Target target) throws Exception {
    Decided socks = assertDecidedAlike(target.authority(origin.port()), target.socks(origin.port()));

    if (socks.status() != Status.SUCCEEDED) {
      assertThat(origin.connectionCount()).as("nothing dialled").isZero();
    }
  }

  /** The proxy's own listeners. */
  enum OwnListener {
    HTTP,
    SOCKS5
  }

  @ParameterizedTest
  @EnumSource(OwnListener.class)
  void connectToTheProxysOwnListenerIsRefusedLikeHttpConnect(OwnListener listener) throws Exception {
    int port = listener == OwnListener.HTTP ? egressd.port() : egressd.socksPort();

    Decided byIp = assertDecidedAlike("127.0.0.1:" + port, Socks5Address.ipv4("127.0.0.1", port));
    Decided byName = assertDecidedAlike("allowed.test:" + port, Socks5Address.domain("allowed.test", port));

    for (Decided decided : new Decided[] {byIp, byName}) {
      assertThat(decided.status()).isEqualTo(Status.NOT_ALLOWED_BY_RULESET);
      assertThat(decided.audit()).containsEntry("decision", "deny").containsEntry("reason", "proxy_loop");
    }
  }

  /**
   * How the SOCKS5 CONNECT was decided.
   *
   * @param status the reply code
   * @param audit the fields of its audit line
   */
  record Decided(Status status, Map<String, String> audit) {}

  /**
   * Sends an HTTP CONNECT and then a SOCKS5 CONNECT for the same destination, and checks that both got the same
   * decision (audit fields and the matching answer).
   */
  private static Decided assertDecidedAlike(String authority, Socks5Address socksDestination) throws Exception {
    int http;
    try (RawClient client = RawClient.connect(egressd.port())) {
      http = client.send(connect(authority)).readConnectResponse().status();
    }
    String httpLine = egressd.awaitStderr("decision=", "protocol=https_connect");
    Status socks;
    try (Socks5Client client = Socks5Client.connect(egressd.socksPort())) {
      socks = client.connectTo(socksDestination).status();
    }
    String socksLine = egressd.awaitStderr("decision=", "protocol=socks5_tcp", "host=", "port=");
    egressd.markStderr();

    assertThat(fields(socksLine)).as("audit fields of\n%s\n%s", httpLine, socksLine).isEqualTo(fields(httpLine));
    assertThat(socks).as("reply to the HTTP CONNECT's %d", http).isEqualTo(switch (http) {
      case 200 -> Status.SUCCEEDED;
      case 403 -> Status.NOT_ALLOWED_BY_RULESET;
      default -> throw new AssertionError("HTTP CONNECT got " + http);
    });
    return new Decided(socks, fields(socksLine));
  }

  private static Map<String, String> fields(String auditLine) {
    Map<String, String> fields = new LinkedHashMap<>();
    Matcher matcher = FIELD.matcher(auditLine);
    while (matcher.find()) {
      fields.putIfAbsent(matcher.group(1), matcher.group(2));
    }
    assertThat(fields).as("fields of %s", auditLine).containsKeys("decision", "reason", "source", "host", "port");
    return fields;
  }
}
