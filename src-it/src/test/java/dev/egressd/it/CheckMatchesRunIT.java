package dev.egressd.it;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@code egressd check} gives the decision the running daemon gives, interception included: one table of targets
 * and methods goes through both, and each row must come out the same way (and as the table says). In limited mode
 * with {@code mitm = true} an HTTPS target is a tunnel decision plus the decision on the request inside it.
 */
@Timeout(value = 120, unit = SECONDS)
class CheckMatchesRunIT {
  private static final String CONFIG = """
      [network]
      mode = "limited"
      mitm = true
      allowed_domains = ["allowed.test", "127.0.0.1"]
      denied_domains = ["denied.test"]
      mitm_upstream_ca_bundle = '%s'
      """.formatted(TestCertificates.get().caPem());

  @RegisterExtension
  static final OriginServer https = OriginServer.https();

  @RegisterExtension
  static final OriginServer http = OriginServer.http();

  @RegisterExtension
  static final Daemon egressd = Daemon.withConfig(CONFIG);

  private static String url(String scheme, String host) {
    return (scheme.equals("https") ? https : http).url(host, "/table");
  }

  /** What check says: the reason of the last decision (the inner request's for an intercepted tunnel). */
  @SuppressWarnings("unchecked")
  private static String checkReason(String scheme, String host, String method) {
    ProcessResult result = Egressd.cli(Map.of("CODEX_HOME", egressd.configDirectory().toString()), "check",
        "--config", egressd.configDirectory().resolve("egressd.toml").toString(), "--json", "--method", method,
        url(scheme, host));
    Map<String, Object> json = (Map<String, Object>) Json.parse(result.stdout().trim());
    Map<String, Object> last = json.containsKey("inner") ? (Map<String, Object>) json.get("inner") : json;
    String reason = (String) last.get("reason");
    assertThat(result.exitCode()).as("check exit status for %s\n%s", reason, result)
        .isEqualTo(reason.equals("allow") ? 0 : 1);
    if (scheme.equals("https")) {
      assertThat(json).as("an intercepted tunnel that is allowed reports the inner request too: %s", json)
          .matches(j -> !"allow".equals(j.get("reason")) || j.containsKey("inner"));
    }
    return reason;
  }

  /** What the daemon does: allow when the origin answers, else the reason of its refusal line. */
  private static String runReason(String scheme, String host, String method) throws Exception {
    // curl -X HEAD would wait for a body the response never has; -I sends HEAD properly.
    String[] asMethod = method.equals("HEAD") ? new String[] {"-I"} : new String[] {"-X", method};
    Curl.Result curl = Curl.fetch("-x", egressd.url(), "--cacert", egressd.mitmCaCertificate().toString(),
        asMethod[0], asMethod.length > 1 ? asMethod[1] : "-s", "--max-time", "20", url(scheme, host));
    if (curl.reply() != null && curl.reply().status() == 200) {
      return "allow";
    }
    String refused = egressd.awaitStderr("decision=deny", "host=" + host + " ");
    return refused.replaceAll(".*reason=(\\S+).*", "$1");
  }

  @ParameterizedTest(name = "{0}://{1} {2} -> {3}")
  @CsvSource({
      "https, allowed.test, GET,     allow",
      "https, allowed.test, HEAD,    allow",
      "https, allowed.test, POST,    method_not_allowed",
      "https, allowed.test, DELETE,  method_not_allowed",
      "https, denied.test,  GET,     denied",
      "https, unknown.test, GET,     not_allowed",
      "http,  allowed.test, GET,     allow",
      "http,  allowed.test, PUT,     method_not_allowed",
      "http,  denied.test,  GET,     denied",
  })
  void checkAndTheDaemonDecideAlike(String scheme, String host, String method, String expected) throws Exception {
    String checked = checkReason(scheme, host, method);
    String ran = runReason(scheme, host, method);

    assertThat(checked).as("check").isEqualTo(expected);
    assertThat(ran).as("run").isEqualTo(checked);
  }
}
