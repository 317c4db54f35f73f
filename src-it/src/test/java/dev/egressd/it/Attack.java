package dev.egressd.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.egressd.it.Socks5Client.Reply;
import dev.egressd.it.Socks5Client.Status;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * One row of {@link AdversarialIT}: the bytes a hostile client sends to one of its daemons, what the client must get
 * back, and what the daemon may do meanwhile: how many DNS lookups it makes and how many connections the origin (on
 * 127.0.0.1, 127.0.0.2 and 127.0.0.3) sees. A refusal has 0 dials and, unless the name had to be resolved to be
 * refused, 0 lookups.
 *
 * <p>Request texts are templates: {@code {PORT}} is the origin's port, {@code {HTTP}}, {@code {SOCKS}} and
 * {@code {ADMIN}} the daemon's own listeners.
 *
 * @param proxy the daemon the request goes to
 * @param request what is sent
 * @param outcome what the client must get back
 * @param lookups DNS lookups the request may cause ({@code egressd_dns_lookup_duration_seconds_count})
 * @param dials connections the origin and the daemon's upstream-connect counter must see
 * @param forwarded requests the origin must receive complete
 * @param audit fragments of the stderr audit line the request must cause (templates too); empty for none
 * @param bounded {@code lookups} and {@code dials} are upper bounds, not exact counts: for a request whose head is
 *     allowed and forwarded before its malformed body arrives
 */
record Attack(Proxy proxy, Request request, Outcome outcome, int lookups, int dials, int forwarded,
    List<String> audit, boolean bounded) {
  /** The three daemons of {@link AdversarialIT}. */
  enum Proxy {
    /** Full mode; allows vetted.test (vetted through an IP rule for 127.0.0.3) and a few names that must fail. */
    STRICT,
    /** Full mode; allows {@code *}, which must never open a loopback literal or {@code localhost}. */
    OPEN,
    /** mode = "limited"; allows allowed.test and 127.0.0.1, so the proxy's own listeners are reachable by rules. */
    LIMITED
  }

  /** The ports substituted into templates. */
  record Ports(int origin, int http, int socks, int admin) {
    String fill(String template) {
      return template.replace("{PORT}", Integer.toString(origin)).replace("{HTTP}", Integer.toString(http))
          .replace("{SOCKS}", Integer.toString(socks)).replace("{ADMIN}", Integer.toString(admin));
    }
  }

  /** What is sent. */
  sealed interface Request permits Http, Socks5 {
    /** How the report names the request. */
    String label();
  }

  /** Raw bytes (ISO-8859-1 text) on the HTTP listener. */
  record Http(String label, String template) implements Request {
    boolean isConnect() {
      return template.startsWith("CONNECT ");
    }
  }

  /**
   * Raw bytes on the SOCKS5 listener: a greeting (the proxy's method selection is read when {@code command} is not
   * null), then the command, then optionally a half-close. A null greeting means {@code command} holds both, sent in
   * one write.
   */
  record Socks5(String label, byte[] greeting, Function<Ports, byte[]> command, boolean halfClose)
      implements Request {}

  /** What the client must get back. */
  sealed interface Outcome permits Answers, SocksReply, ClosedWithoutReply {}

  /** HTTP responses in order (more than one for pipelined requests). */
  record Answers(List<Answer> answers) implements Outcome {
    @Override
    public String toString() {
      return answers.stream().map(Answer::toString).collect(Collectors.joining(", then "));
    }
  }

  /**
   * One HTTP response: {@code status} with {@code x-proxy-error} {@code proxyError} (null: absent); a 2xx must come
   * from the origin (or, for a CONNECT, open a tunnel that reaches it).
   */
  record Answer(int status, String proxyError) {
    @Override
    public String toString() {
      return status + (proxyError == null ? "" : " " + proxyError);
    }
  }

  /** The REP code of a SOCKS5 reply; SUCCEEDED must give a tunnel that reaches the origin. */
  record SocksReply(Status status) implements Outcome {
    @Override
    public String toString() {
      return String.format("SOCKS5 0x%02x %s", status.code, status);
    }
  }

  /** The proxy closes the connection without sending anything. */
  record ClosedWithoutReply() implements Outcome {
    @Override
    public String toString() {
      return "closed without a reply";
    }
  }

  // ---- building rows ----

  /** An absolute-form GET for {@code host} (as written in a URL) at the origin's port, with a matching Host. */
  static Attack get(String host) {
    return getAt(host + ":{PORT}");
  }

  /** An absolute-form GET for {@code authority} (a template), with a matching Host. */
  static Attack getAt(String authority) {
    return http("GET http://" + printable(authority) + "/",
        "GET http://" + authority + "/adversarial HTTP/1.1\r\nHost: " + authority + "\r\n\r\n");
  }

  /** A CONNECT to {@code host} (as written in an authority) at the origin's port. */
  static Attack connect(String host) {
    String authority = host + ":{PORT}";
    return http("CONNECT " + printable(authority),
        "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n\r\n");
  }

  /** A SOCKS5 CONNECT with a DOMAIN address (what socks5h clients send) at the origin's port. */
  static Attack socks5(String name) {
    return socks5("SOCKS5 CONNECT DOMAIN \"" + printable(name) + "\":PORT",
        ports -> Socks5Address.domain(name, ports.origin()));
  }

  /** A SOCKS5 CONNECT to the address the function builds. */
  static Attack socks5(String label, Function<Ports, Socks5Address> address) {
    return socks5(label, Socks5Client.greeting(Socks5Client.NO_AUTHENTICATION),
        ports -> Socks5Client.request(Socks5Client.CONNECT, address.apply(ports).encode()), false);
  }

  /** Raw SOCKS5 bytes; {@code command} null means only the greeting is sent. */
  static Attack socks5(String label, byte[] greeting, Function<Ports, byte[]> command, boolean halfClose) {
    return new Attack(Proxy.STRICT, new Socks5(label, greeting, command, halfClose), null, 0, 0, 0, List.of(),
        false);
  }

  /** Greeting and command in one write, before the method selection is read. */
  static Attack socks5InOneSegment(String label, Function<Ports, byte[]> greetingAndCommand) {
    return socks5(label, null, greetingAndCommand, false);
  }

  /** Raw HTTP bytes. */
  static Attack http(String label, String template) {
    return new Attack(Proxy.STRICT, new Http(label, template), null, 0, 0, 0, List.of(), false);
  }

  /** The same request to another daemon. */
  Attack on(Proxy other) {
    return new Attack(other, request, outcome, lookups, dials, forwarded, audit, bounded);
  }

  /** The same row expecting {@code n} DNS lookups (a name the rules allow, resolved and then refused). */
  Attack lookups(int n) {
    return new Attack(proxy, request, outcome, n, dials, forwarded, audit, bounded);
  }

  /**
   * Refused by policy before any dial: 403 with the {@code x-proxy-error} of {@code reason}, or SOCKS5 0x02; audited
   * as {@code decision=deny reason=REASON} for {@code host} (canonical).
   */
  Attack refused(String reason, String host) {
    Outcome refusal = request instanceof Http ? new Answers(List.of(new Answer(403, proxyError(reason))))
        : new SocksReply(Status.NOT_ALLOWED_BY_RULESET);
    return new Attack(proxy, request, refusal, lookups, 0, 0,
        List.of("decision=deny", "reason=" + reason, "protocol=" + protocol(), "host=" + host + " port="), bounded);
  }

  /** Rejected as malformed before any decision: {@code status} with {@code x-proxy-error} {@code proxyError}. */
  Attack rejected(int status, String proxyError) {
    return answered(new Answer(status, proxyError));
  }

  /** Rejected as malformed before any decision, with this SOCKS5 reply. */
  Attack rejected(Status status) {
    return new Attack(proxy, request, new SocksReply(status), lookups, 0, 0, List.of(), bounded);
  }

  /** Closed without a reply. */
  Attack closed() {
    return new Attack(proxy, request, new ClosedWithoutReply(), lookups, 0, 0, List.of(), bounded);
  }

  /** HTTP responses in order; each 2xx must have come from the origin. */
  Attack answered(Answer... answers) {
    int ok = (int) Arrays.stream(answers).filter(a -> a.status() / 100 == 2).count();
    return new Attack(proxy, request, new Answers(List.of(answers)), lookups, Math.min(ok, 1), ok, audit,
        bounded);
  }

  /** A control: allowed, dialled once, answered by the origin. */
  Attack reaches() {
    Outcome success = request instanceof Http ? new Answers(List.of(new Answer(200, null)))
        : new SocksReply(Status.SUCCEEDED);
    return new Attack(proxy, request, success, lookups, 1, 1, List.of("decision=allow"), bounded);
  }

  /**
   * The same row where the head is allowed and may be resolved and forwarded before the malformed body is seen:
   * at most one lookup and one dial, and still no complete request at the origin.
   */
  Attack mayDial() {
    return new Attack(proxy, request, outcome, 1, 1, 0, audit, true);
  }

  /** The same row with these audit-line fragments instead. */
  Attack audited(String... fragments) {
    return new Attack(proxy, request, outcome, lookups, dials, forwarded, List.of(fragments), bounded);
  }

  static String proxyError(String reason) {
    return switch (reason) {
      case "not_allowed", "not_allowed_local" -> "blocked-by-allowlist";
      case "denied" -> "blocked-by-denylist";
      case "method_not_allowed" -> "blocked-by-method-policy";
      case "mitm_required" -> "blocked-by-mitm-required";
      default -> "blocked-by-policy";
    };
  }

  private String protocol() {
    if (request instanceof Http http) {
      return http.isConnect() ? "https_connect" : "http ";
    }
    return "socks5_tcp";
  }

  /** Control characters and non-ASCII shown as escapes, so the report stays one line. */
  static String printable(String s) {
    StringBuilder out = new StringBuilder();
    for (char c : s.toCharArray()) {
      out.append(c < 0x20 || c >= 0x7f ? String.format("\\x%02x", (int) c) : String.valueOf(c));
    }
    return out.toString();
  }

  @Override
  public String toString() {
    String where = proxy == Proxy.STRICT ? "" : "[" + proxy.name().toLowerCase(Locale.ROOT) + "] ";
    String upTo = bounded ? "≤ " : "";
    String label = request.label().replace("{PORT}", "PORT").replace("{HTTP}", "OWN_HTTP_PORT")
        .replace("{SOCKS}", "OWN_SOCKS_PORT").replace("{ADMIN}", "OWN_ADMIN_PORT");
    String reason = audit.stream().filter(f -> f.startsWith("reason=")).map(f -> ", " + f).findFirst().orElse("");
    return where + label + " → " + outcome + reason + " (lookups " + upTo + lookups + ", dials " + upTo + dials
        + ")";
  }

  // ---- running a row ----

  /** Sends the request and checks what the client gets back; the caller checks counters and audit lines. */
  void perform(Ports ports) throws IOException {
    if (request instanceof Http http) {
      performHttp(http, ports);
    } else {
      performSocks5((Socks5) request, ports);
    }
  }

  private void performHttp(Http http, Ports ports) throws IOException {
    List<Answer> expected = ((Answers) outcome).answers();
    try (RawClient client = RawClient.connect(ports.http())) {
      client.send(ports.fill(http.template()));
      for (int i = 0; i < expected.size(); i++) {
        boolean tunnel = http.isConnect() && expected.size() == 1;
        HttpReply reply = tunnel ? client.readConnectResponse() : client.readResponse();
        Answer answer = expected.get(i);
        assertThat(reply.status()).as("response %d of %s:\n%s", i + 1, this, reply).isEqualTo(answer.status());
        assertThat(reply.header("x-proxy-error")).as("x-proxy-error of\n%s", reply).isEqualTo(answer.proxyError());
        assertThat(reply.text()).as("no stack trace in\n%s", reply).doesNotContain("Exception", "\tat ");
        if (answer.status() == 200 && tunnel) {
          assertTunnelReachesOrigin(client, ports);
        } else if (answer.status() == 200) {
          assertThat(reply.header("X-Origin")).as("answered by the origin:\n%s", reply).isEqualTo("egressd-it");
        }
      }
    }
  }

  private static void assertTunnelReachesOrigin(RawClient client, Ports ports) throws IOException {
    HttpReply inner = client.send("GET /tunnelled HTTP/1.1\r\nHost: vetted.test:" + ports.origin()
        + "\r\nConnection: close\r\n\r\n").readResponse();
    assertThat(inner.text()).as("%s", inner).isEqualTo("origin saw GET /tunnelled body=0\n");
  }

  private void performSocks5(Socks5 socks5, Ports ports) throws IOException {
    try (Socks5Client client = Socks5Client.connect(ports.socks())) {
      if (socks5.greeting() == null) {
        client.send(socks5.command().apply(ports));
        assertThat(client.readMethodSelection()).isEqualTo(Socks5Client.NO_AUTHENTICATION);
      } else {
        client.send(socks5.greeting());
        if (socks5.command() == null) {
          assertThat(client.readUntilClosed(Duration.ofSeconds(10))).as("bytes from the proxy").isEmpty();
          return;
        }
        assertThat(client.readMethodSelection()).isEqualTo(Socks5Client.NO_AUTHENTICATION);
        client.send(socks5.command().apply(ports));
      }
      if (socks5.halfClose()) {
        client.shutdownOutput();
      }
      if (outcome instanceof ClosedWithoutReply) {
        assertThat(client.readUntilClosed(Duration.ofSeconds(10))).as("bytes from the proxy").isEmpty();
        return;
      }
      Reply reply = client.readReply();
      Status expected = ((SocksReply) outcome).status();
      assertThat(reply.status()).as("%s", this).isEqualTo(expected);
      if (expected == Status.SUCCEEDED) {
        String response = client.httpGet("vetted.test:" + ports.origin(), "/tunnelled");
        assertThat(response).endsWith("origin saw GET /tunnelled body=0\n");
      } else {
        assertThat(client.readUntilClosed(Duration.ofSeconds(10))).as("nothing after the reply").isEmpty();
      }
    }
  }

  /** Bytes, each given as an int. */
  static byte[] bytes(int... values) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (int v : values) {
      out.write(v);
    }
    return out.toByteArray();
  }

  /** Concatenates byte arrays. */
  static byte[] concat(byte[]... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] part : parts) {
      out.writeBytes(part);
    }
    return out.toByteArray();
  }

  /** UTF-8 bytes. */
  static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
