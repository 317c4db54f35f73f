package dev.egressd.it;

import static dev.egressd.it.TestData.get;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Every spelling of a host is canonicalised before matching: case, trailing dots, and IPv4 literals in the forms
 * resolvers accept. Refusals are checked against an origin that also listens on 127.0.0.2, so a wrong dial counts.
 */
@Timeout(value = 60, unit = SECONDS)
class HostCanonicalisationIT {
  private static final String CONFIG = """
      [network]
      allowed_domains = ["allowed.test", "127.0.0.1"]
      denied_domains = ["denied.test"]
      """;

  @RegisterExtension
  static final OriginServer origin = OriginServer.http().withPrivateDecoy();

  @RegisterExtension
  static final Daemon egressd = Daemon.withConfig(CONFIG);

  @ParameterizedTest(name = "{0} is allowed")
  @CsvSource({
      "ALLOWED.TEST",
      "allowed.test.",
      "Allowed.Test.",
      "127.0.0.1",
      "2130706433",
      "0x7f000001",
      "0x7f.0.0.1",
      "0177.0.0.1",
      "127.1",
  })
  void spellingOfAnAllowedHostIsAllowed(String spelling) throws Exception {
    try (RawClient client = RawClient.connect(egressd.port())) {
      HttpReply reply = client.send(get(spelling + ":" + origin.port(), "/spelled")).readResponse();

      assertThat(reply.status()).as("%s", reply).isEqualTo(200);
    }
    assertThat(origin.onlyRequest().localAddress()).isEqualTo("127.0.0.1");
  }

  @ParameterizedTest(name = "{0} is refused: {1}")
  @CsvSource({
      "DENIED.TEST,            denied,      denied.test",
      "denied.test.,           denied,      denied.test",
      "DeNiEd.TeSt..,          denied,      denied.test",
      "127.0.0.2,              not_allowed, 127.0.0.2",
      "2130706434,             not_allowed, 127.0.0.2",
      "0x7f000002,             not_allowed, 127.0.0.2",
      "0x7f.0.0.2,             not_allowed, 127.0.0.2",
      "0177.0.0.2,             not_allowed, 127.0.0.2",
      "127.2,                  not_allowed, 127.0.0.2",
      "[::ffff:127.0.0.2],     not_allowed, ",
      "[::ffff:7f00:2],        not_allowed, ",
      "localhost,              not_allowed, localhost",
      "evilallowed.test,       not_allowed, evilallowed.test",
      "allowed.test.evil.test, not_allowed, allowed.test.evil.test",
  })
  void spellingOfARefusedHostIsRefusedWithoutADial(String spelling, String reason, String canonical)
      throws Exception {
    try (RawClient client = RawClient.connect(egressd.port())) {
      HttpReply reply = client.send(get(spelling + ":" + origin.port(), "/spelled")).readResponse();

      assertThat(reply.status()).as("%s", reply).isEqualTo(403);
      assertThat(reply.json()).containsEntry("reason", reason);
      if (canonical != null) {
        assertThat(reply.json()).containsEntry("host", canonical);
      }
    }
    assertThat(origin.connectionCount()).isZero();
  }
}
