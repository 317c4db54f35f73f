package dev.egressd.it;

import static dev.egressd.it.Attack.bytes;
import static dev.egressd.it.Attack.concat;
import static dev.egressd.it.Attack.connect;
import static dev.egressd.it.Attack.get;
import static dev.egressd.it.Attack.getAt;
import static dev.egressd.it.Attack.http;
import static dev.egressd.it.Attack.socks5;
import static dev.egressd.it.Attack.utf8;

import dev.egressd.it.Attack.Answer;
import dev.egressd.it.Attack.Proxy;
import dev.egressd.it.Socks5Client.Status;
import dev.egressd.policy.IpAddress;
import java.net.IDN;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;

/**
 * The rows of {@link AdversarialIT}, one method per group. {@code vetted.test} (127.0.0.3) is the one name the
 * {@code strict} daemon lets through; {@code allowed.test} (127.0.0.1) plays that part on the {@code limited} one.
 */
final class AdversarialTables {
  private static final String V = "vetted.test:{PORT}";
  /** vetted.test with a Cyrillic "е" (U+0435), as punycode. */
  private static final String HOMOGRAPH = IDN.toASCII("v\u0435tted.test");

  private AdversarialTables() {}

  /** Loopback addresses in every spelling, on the daemon that allows {@code *}: refused as local literals. */
  static Stream<Attack> loopbackSpellings() {
    return Stream.of(
        spelled("127.1", "127.0.0.1"),
        spelled("2130706433", "127.0.0.1"),
        spelled("0x7f000001", "127.0.0.1"),
        spelled("0x7f.0.0.1", "127.0.0.1"),
        spelled("0177.0.0.1", "127.0.0.1"),
        spelled("0x7f000002", "127.0.0.2"),
        spelled("127.000.000.002", "127.0.0.2"),
        spelled("[::1]", "::1"),
        spelled("[0:0:0:0:0:0:0:1]", "::1"),
        spelled("[::ffff:127.0.0.1]", "::ffff:127.0.0.1"),
        spelled("[::ffff:7f00:1]", "::ffff:127.0.0.1"),
        spelled("[::ffff:127.0.0.2]", "::ffff:127.0.0.2")
    ).flatMap(s -> onEveryFront(s.host(), a -> a.on(Proxy.OPEN).refused("not_allowed_local", s.canonical())));
  }

  /** Non-loopback, non-public addresses (metadata services, NAT64, 6to4, Teredo, zone ids). */
  static Stream<Attack> nonPublicSpellings() {
    Stream<Attack> refused = Stream.of(
        spelled("0", "0.0.0.0"),
        spelled("0.0.0.0", "0.0.0.0"),
        spelled("[::]", "::"),
        spelled("[::127.0.0.1]", "::7f00:1"),
        spelled("[64:ff9b::7f00:1]", "64:ff9b::7f00:1"),
        spelled("[64:ff9b::127.0.0.1]", "64:ff9b::7f00:1"),
        spelled("[2002:7f00:1::]", "2002:7f00:1::"),
        spelled("[2001:0:4136:e378:8000:63bf:80ff:fffe]", "2001:0:4136:e378:8000:63bf:80ff:fffe"),
        spelled("169.254.169.254", "169.254.169.254"),
        spelled("0xa9fea9fe", "169.254.169.254"),
        spelled("2852039166", "169.254.169.254"),
        spelled("0251.0376.0251.0376", "169.254.169.254"),
        spelled("[::ffff:169.254.169.254]", "::ffff:169.254.169.254"),
        spelled("[fd00:ec2::254]", "fd00:ec2::254"),
        spelled("100.100.100.200", "100.100.100.200"),
        spelled("168.63.129.16", "168.63.129.16")
    ).flatMap(s -> onEveryFront(s.host(), a -> a.refused("not_allowed", s.canonical())));
    Stream<Attack> zoned = Stream.of(
        get("[fe80::1%25lo]").rejected(400, "invalid-host"),
        get("[fe80::1%lo]").rejected(400, "invalid-host"),
        connect("[fe80::1%25lo]").rejected(400, "invalid-host"),
        socks5("fe80::1%lo").rejected(Status.GENERAL_FAILURE));
    return Stream.concat(refused, zoned);
  }

  /** Names: localhost forms, deny and suffix tricks, names that resolve to private addresses, invalid names. */
  static Stream<Attack> hostNames() {
    Stream<Attack> refused = Stream.of(
        named("localhost", "not_allowed_local", "localhost"),
        named("localhost.", "not_allowed_local", "localhost"),
        named("LOCALHOST", "not_allowed_local", "localhost"),
        named("foo.localhost", "not_allowed_local", "foo.localhost"),
        named("vetted.test.localhost", "not_allowed_local", "vetted.test.localhost"),
        named("denied.test", "denied", "denied.test"),
        named("DeNiEd.TeSt.", "denied", "denied.test"),
        named("other.test", "not_allowed", "other.test"),
        named("vetted.test.evil.test", "not_allowed", "vetted.test.evil.test"),
        named("evilvetted.test", "not_allowed", "evilvetted.test"),
        named(HOMOGRAPH, "not_allowed", HOMOGRAPH)
    ).flatMap(n -> onEveryFront(n.host(), a -> a.refused(n.reason(), n.canonical())));
    Stream<Attack> suffixOfAllowedTest = Stream.of("allowed.test.evil.test", "evilallowed.test",
            "allowed.test-evil.test")
        .flatMap(n -> onEveryFront(n, a -> a.on(Proxy.LIMITED).refused("not_allowed", n)));
    Stream<Attack> resolvedThenRefused = Stream.of(
        named("private.test", "not_allowed_local", "private.test"),
        named("PRIVATE.TEST.", "not_allowed_local", "private.test"),
        named("mixed.test", "not_allowed_local", "mixed.test")
    ).flatMap(n -> onEveryFront(n.host(), a -> a.lookups(1).refused(n.reason(), n.canonical())));
    Stream<Attack> underStar = Stream.of("other.test", "private.test", "mixed.test", "allowed.test")
        .flatMap(n -> onEveryFront(n, a -> a.on(Proxy.OPEN).lookups(1).refused("not_allowed_local", n)));
    Stream<Attack> invalid = Stream.of("a..test", ".vetted.test", "evil:443.vetted.test", "vetted%2etest",
            "vetted.test\\.evil.test", "[vetted.test]")
        .flatMap(n -> Stream.of(get(n).rejected(400, "invalid-host"), connect(n).rejected(400, "invalid-host"),
            socks5(n).rejected(Status.GENERAL_FAILURE)));
    // NUL fails the codec's Host validation; CR and space split the request line, leaving no valid version.
    Stream<Attack> unparsable = Stream.of("vetted.test\0.evil.test", "vetted.test\r.evil.test", "vetted .test")
        .flatMap(n -> Stream.of(get(n).rejected(400, "malformed-request"),
            connect(n).rejected(400, "malformed-request"), socks5(n).rejected(Status.GENERAL_FAILURE)));
    Stream<Attack> socksOnly = Stream.of(
        socks5("vetted.test\n.evil.test").rejected(Status.GENERAL_FAILURE),
        socks5("vetted.test@other.test").rejected(Status.GENERAL_FAILURE),
        socks5("").rejected(Status.GENERAL_FAILURE),
        socks5("SOCKS5 CONNECT DOMAIN vetted.test:0", p -> Socks5Address.domain("vetted.test", 0))
            .rejected(Status.GENERAL_FAILURE),
        // The name's bytes are read as ISO-8859-1, so this becomes another (refused) name, never vetted.test.
        socks5("SOCKS5 CONNECT DOMAIN \"v\\u0435tted.test\" in UTF-8:PORT",
            p -> new Socks5Address(Socks5Address.DOMAIN, utf8("v\u0435tted.test"), p.origin()))
            .refused("not_allowed", "any").audited("decision=deny", "reason=not_allowed", "protocol=socks5_tcp",
                "host=xn--"));
    return Stream.of(refused, suffixOfAllowedTest, resolvedThenRefused, underStar, invalid, unparsable, socksOnly)
        .flatMap(s -> s);
  }

  /** Absolute-form targets where a careless parser would see another host than the real one. */
  static Stream<Attack> requestTargets() {
    return Stream.of(
        http("GET http://vetted.test@other.test:PORT/ (userinfo)",
            "GET http://vetted.test@other.test:{PORT}/ HTTP/1.1\r\nHost: other.test:{PORT}\r\n\r\n")
            .rejected(400, "invalid-host"),
        http("GET http://other.test:PORT@vetted.test:PORT/ (userinfo)",
            "GET http://other.test:{PORT}@" + V + "/ HTTP/1.1\r\nHost: " + V + "\r\n\r\n")
            .rejected(400, "invalid-host"),
        http("GET http://other.test:PORT\\@vetted.test:PORT/ (backslash)",
            "GET http://other.test:{PORT}\\@" + V + "/ HTTP/1.1\r\nHost: " + V + "\r\n\r\n")
            .rejected(400, "invalid-host"),
        http("GET http://other.test:PORT#@vetted.test:PORT/ with Host vetted.test (fragment)",
            "GET http://other.test:{PORT}#@" + V + "/ HTTP/1.1\r\nHost: " + V + "\r\n\r\n")
            .rejected(400, "host-mismatch"),
        http("GET http://other.test:PORT?@vetted.test:PORT/ (query)",
            "GET http://other.test:{PORT}?@" + V + "/ HTTP/1.1\r\nHost: other.test:{PORT}\r\n\r\n")
            .refused("not_allowed", "other.test"),
        http("GET HTTP://DENIED.TEST:PORT/ (upper-case scheme)",
            "GET HTTP://DENIED.TEST:{PORT}/ HTTP/1.1\r\nHost: DENIED.TEST:{PORT}\r\n\r\n")
            .refused("denied", "denied.test"),
        http("GET http://denied.test:PORT/ HTTP/1.0 without Host",
            "GET http://denied.test:{PORT}/ HTTP/1.0\r\n\r\n").refused("denied", "denied.test"),
        http("GET http://vetted.test:PORT/ with Host denied.test:PORT",
            "GET http://" + V + "/ HTTP/1.1\r\nHost: denied.test:{PORT}\r\n\r\n").rejected(400, "host-mismatch"),
        http("GET http://vetted.test:PORT/ with a second Host denied.test:PORT",
            "GET http://" + V + "/ HTTP/1.1\r\nHost: " + V + "\r\nHost: denied.test:{PORT}\r\n\r\n")
            .rejected(400, "host-mismatch"),
        http("GET / with Host vetted.test:PORT (origin-form)", "GET / HTTP/1.1\r\nHost: " + V + "\r\n\r\n")
            .rejected(400, "origin-form-request"),
        http("GET https://vetted.test:PORT/ (https in absolute-form)",
            "GET https://" + V + "/ HTTP/1.1\r\nHost: " + V + "\r\n\r\n").rejected(400, "unsupported-scheme"),
        http("GET ftp://vetted.test:PORT/", "GET ftp://" + V + "/ HTTP/1.1\r\nHost: " + V + "\r\n\r\n")
            .rejected(400, "unsupported-scheme"),
        http("PRI * HTTP/2.0 (HTTP/2 prior knowledge)", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            .rejected(400, "unsupported-scheme"),
        http("GET http://vetted.test:PORT/ with x-unix-socket: /var/run/docker.sock",
            "GET http://" + V + "/ HTTP/1.1\r\nHost: " + V + "\r\nx-unix-socket: /var/run/docker.sock\r\n\r\n")
            .rejected(501, "unix-socket-unsupported"));
  }

  /** CONNECT authorities that are not {@code host:port}. */
  static Stream<Attack> connectLines() {
    Stream<Attack> invalid = Stream.of("vetted.test", "vetted.test:0", "vetted.test:65536", "vetted.test:+{PORT}",
            "vetted.test:0{PORT}", "vetted.test:{PORT}/path", "http://vetted.test:{PORT}", "[vetted.test]:{PORT}",
            ":{PORT}", "::1:{PORT}", "vetted.test:{PORT}:{PORT}", "vetted.test:{PORT}@denied.test:{PORT}")
        .map(authority -> http("CONNECT " + authority,
            "CONNECT " + authority + " HTTP/1.1\r\nHost: " + V + "\r\n\r\n").rejected(400, "invalid-host"));
    Attack space = http("CONNECT vetted.test: {PORT} (space before the port)",
        "CONNECT vetted.test: {PORT} HTTP/1.1\r\nHost: " + V + "\r\n\r\n").rejected(400, "malformed-request");
    return Stream.concat(invalid, Stream.of(space));
  }

  /** Ambiguous framing and header syntax, on requests to the allowed vetted.test. */
  static Stream<Attack> framing() {
    String post = "POST http://" + V + "/ HTTP/1.1\r\nHost: " + V + "\r\n";
    String get = "GET http://" + V + "/ HTTP/1.1\r\nHost: " + V + "\r\n";
    // No {PORT} inside, so the lengths below are the lengths on the wire.
    String smuggled = "GET http://denied.test/ HTTP/1.1\r\nHost: denied.test\r\n\r\n";
    String chunk = Integer.toHexString(smuggled.length()) + "\r\n" + smuggled + "\r\n0\r\n\r\n";
    return Stream.of(
        http("Content-Length and Transfer-Encoding: chunked",
            post + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
            .rejected(400, "malformed-request"),
        http("Transfer-Encoding : chunked (space before the colon)",
            post + "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n").rejected(400, "malformed-request"),
        http("Transfer-Encoding: chunked, identity", post + "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n")
            .rejected(400, "malformed-request"),
        http("Transfer-Encoding: gzip, chunked", post + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n")
            .rejected(400, "malformed-request"),
        http("Transfer-Encoding: identity", post + "Transfer-Encoding: identity\r\n\r\n")
            .rejected(400, "malformed-request"),
        http("Transfer-Encoding: chunked twice",
            post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
            .rejected(400, "malformed-request"),
        http("Content-Length: 5 and Content-Length: 6", post + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!")
            .rejected(400, "malformed-request"),
        http("Content-Length: 5 twice", post + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello")
            .rejected(400, "malformed-request"),
        http("Content-Length: +5", post + "Content-Length: +5\r\n\r\nhello").rejected(400, "malformed-request"),
        http("Content-Length: 0x5", post + "Content-Length: 0x5\r\n\r\nhello").rejected(400, "malformed-request"),
        http("obs-fold continuing the Host header",
            "GET http://" + V + "/ HTTP/1.1\r\nHost: " + V + "\r\n evil.test\r\n\r\n").rejected(400, "invalid-host"),
        http("obs-fold turning Transfer-Encoding: identity into chunked",
            post + "Transfer-Encoding: identity\r\n chunked\r\n\r\n0\r\n\r\n").rejected(400, "malformed-request"),
        http("bare LF hiding a second Host: denied.test",
            get + "X-A: 1\nHost: denied.test:{PORT}\r\n\r\n").rejected(400, "malformed-request"),
        http("bare CR hiding a second Host: denied.test",
            get + "X-A: 1\rHost: denied.test:{PORT}\r\n\r\n").rejected(400, "malformed-request"),
        http("NUL in a header value", get + "X-A: a\0b\r\n\r\n").rejected(400, "malformed-request"),
        http("control character in a header name", get + "X-\u0001A: 1\r\n\r\n").rejected(400, "malformed-request"),
        http("control character in the method", "G\u0001ET http://" + V + "/ HTTP/1.1\r\nHost: " + V + "\r\n\r\n")
            .rejected(400, "malformed-request"),
        // The head is allowed and may already be on its way; the bad chunk must not become a complete request.
        http("chunk size zz", post + "Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n")
            .rejected(400, "malformed-request").mayDial(),
        http("chunk data followed by junk instead of CRLF",
            post + "Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX\r\n0\r\n\r\n")
            .rejected(400, "malformed-request").mayDial(),
        http("chunk size beyond 2^64",
            post + "Transfer-Encoding: chunked\r\n\r\n1ffffffffffffffff\r\nhello\r\n0\r\n\r\n")
            .rejected(400, "malformed-request").mayDial(),
        http("header block over 32 KiB", get + "X-Big: " + "a".repeat(40_000) + "\r\n\r\n")
            .rejected(431, "malformed-request"),
        http("request line over 8 KiB", "GET http://" + V + "/" + "a".repeat(20_000) + " HTTP/1.1\r\nHost: " + V
            + "\r\n\r\n").rejected(414, "malformed-request"),
        // Well-formed but tricky: forwarded as exactly one request, the smuggled one never decided.
        http("Transfer-Encoding: Chunked carrying a request to denied.test",
            post + "Transfer-Encoding: Chunked\r\n\r\n" + chunk).answered(new Answer(200, null)).lookups(1),
        http("GET with Content-Length carrying a request to denied.test",
            get + "Content-Length: " + smuggled.length() + "\r\n\r\n" + smuggled)
            .answered(new Answer(200, null)).lookups(1),
        http("Connection: Host, Content-Length", post + "Connection: Host, Content-Length\r\nContent-Length: 5"
            + "\r\n\r\nhello").answered(new Answer(200, null)).lookups(1),
        http("obs-fold in another header (joined with SP, RFC 9112 section 5.2)",
            get + "X-Folded: a\r\n b\r\n\r\n").answered(new Answer(200, null)).lookups(1),
        http("bare LF inside the request target",
            "GET http://vetted.test\n.evil.test:{PORT}/ HTTP/1.1\r\nHost: " + V + "\r\n\r\n")
            .rejected(400, "malformed-request"),
        http("bare LF line endings", "GET http://" + V + "/ HTTP/1.1\nHost: " + V + "\n\n")
            .rejected(400, "malformed-request"));
  }

  /** Several requests in one write: each is decided on its own. */
  static Stream<Attack> pipelined() {
    String first = "GET http://" + V + "/first HTTP/1.1\r\nHost: " + V + "\r\n\r\n";
    String allowedFirst = "GET http://allowed.test:{PORT}/first HTTP/1.1\r\nHost: allowed.test:{PORT}\r\n\r\n";
    return Stream.of(
        http("GET vetted.test, then GET denied.test", first + "GET http://denied.test:{PORT}/ HTTP/1.1\r\n"
            + "Host: denied.test:{PORT}\r\n\r\n").answered(new Answer(200, null), new Answer(403,
            "blocked-by-denylist")).lookups(1).audited("decision=deny", "reason=denied", "host=denied.test "),
        http("GET vetted.test, then GET private.test", first + "GET http://private.test:{PORT}/ HTTP/1.1\r\n"
            + "Host: private.test:{PORT}\r\n\r\n").answered(new Answer(200, null), new Answer(403,
            "blocked-by-allowlist")).lookups(2).audited("decision=deny", "reason=not_allowed_local",
            "host=private.test "),
        http("GET vetted.test, then GET 169.254.169.254", first + "GET http://169.254.169.254:{PORT}/ HTTP/1.1\r\n"
            + "Host: 169.254.169.254:{PORT}\r\n\r\n").answered(new Answer(200, null), new Answer(403,
            "blocked-by-allowlist")).lookups(1).audited("decision=deny", "reason=not_allowed",
            "host=169.254.169.254 "),
        http("GET vetted.test, then CONNECT denied.test", first + "CONNECT denied.test:{PORT} HTTP/1.1\r\n"
            + "Host: denied.test:{PORT}\r\n\r\n").answered(new Answer(200, null), new Answer(403,
            "blocked-by-denylist")).lookups(1).audited("decision=deny", "reason=denied", "protocol=https_connect"),
        http("GET denied.test, then GET vetted.test", "GET http://denied.test:{PORT}/ HTTP/1.1\r\n"
            + "Host: denied.test:{PORT}\r\n\r\n" + first).answered(new Answer(403, "blocked-by-denylist"),
            new Answer(200, null)).lookups(1).audited("decision=deny", "reason=denied", "host=denied.test "),
        http("GET allowed.test, then POST allowed.test", allowedFirst + "POST http://allowed.test:{PORT}/ HTTP/1.1"
            + "\r\nHost: allowed.test:{PORT}\r\nContent-Length: 5\r\n\r\nhello").on(Proxy.LIMITED)
            .answered(new Answer(200, null), new Answer(403, "blocked-by-method-policy")).lookups(1)
            .audited("decision=deny", "reason=method_not_allowed", "method=POST"),
        http("GET allowed.test, then CONNECT allowed.test", allowedFirst + "CONNECT allowed.test:{PORT} HTTP/1.1"
            + "\r\nHost: allowed.test:{PORT}\r\n\r\n").on(Proxy.LIMITED)
            .answered(new Answer(200, null), new Answer(403, "blocked-by-mitm-required")).lookups(1)
            .audited("decision=deny", "reason=mitm_required", "protocol=https_connect"));
  }

  /** Every write, unknown method and upgrade in limited mode, to the allowed allowed.test. */
  static Stream<Attack> limitedMode() {
    String a = "allowed.test:{PORT}";
    String head = " http://" + a + "/ HTTP/1.1\r\nHost: " + a + "\r\n";
    UnaryOperator<Attack> methodPolicy = x -> x.on(Proxy.LIMITED).refused("method_not_allowed", "allowed.test");
    return Stream.of(
        Stream.of("POST", "PUT", "PATCH").map(m -> http(m + " http://allowed.test:PORT/ with a body",
            m + head + "Content-Length: 5\r\n\r\nhello")),
        Stream.of("DELETE", "TRACE", "PURGE", "get", "BREW").map(m -> http(m + " http://allowed.test:PORT/",
            m + head + "\r\n")),
        Stream.of(
            http("GET http://allowed.test:PORT/ with Upgrade: websocket", "GET" + head + "Connection: Upgrade\r\n"
                + "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                + "\r\n"),
            http("GET http://allowed.test:PORT/ with Upgrade: h2c", "GET" + head + "Connection: Upgrade, "
                + "HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"),
            http("OPTIONS http://allowed.test:PORT/ with upgrade: websocket (lower case)", "OPTIONS" + head
                + "connection: upgrade\r\nupgrade: websocket\r\n\r\n"))
    ).flatMap(s -> s).map(methodPolicy);
  }

  /** CONNECT, SOCKS5 and a GET with a body in limited mode. */
  static Stream<Attack> limitedModeOther() {
    return Stream.of(
        connect("allowed.test").on(Proxy.LIMITED).refused("mitm_required", "allowed.test"),
        socks5("allowed.test").on(Proxy.LIMITED).refused("method_not_allowed", "allowed.test"),
        socks5("SOCKS5 CONNECT IPv4 127.0.0.1:PORT", p -> Socks5Address.ipv4("127.0.0.1", p.origin()))
            .on(Proxy.LIMITED).refused("method_not_allowed", "127.0.0.1"),
        socks5("SOCKS5 CONNECT DOMAIN allowed.test:443", p -> Socks5Address.domain("allowed.test", 443))
            .on(Proxy.LIMITED).refused("mitm_required", "allowed.test"),
        http("GET http://allowed.test:PORT/ with a body (limited mode is not an exfiltration barrier)",
            "GET http://allowed.test:{PORT}/ HTTP/1.1\r\nHost: allowed.test:{PORT}\r\nContent-Length: 5\r\n\r\nhello")
            .on(Proxy.LIMITED).answered(new Answer(200, null)).lookups(1));
  }

  /**
   * Every address of this host's interfaces, on the daemon that allows {@code *}: a service bound to 0.0.0.0 answers
   * on each of them, so each is refused as local whatever its class (a public one as "an address of this host").
   */
  static Stream<Attack> hostInterfaces() throws SocketException {
    List<Attack> attacks = new ArrayList<>();
    for (NetworkInterface nif : Collections.list(NetworkInterface.getNetworkInterfaces())) {
      for (InetAddress address : Collections.list(nif.getInetAddresses())) {
        String canonical = IpAddress.of(address).toString();
        String urlHost = address instanceof Inet6Address ? "[" + canonical + "]" : canonical;
        onEveryFront(urlHost, a -> a.on(Proxy.OPEN).refused("not_allowed_local", canonical)).forEach(attacks::add);
      }
    }
    return attacks.stream();
  }

  /** The daemon's own listeners as destinations, allowed by rule: refused as loops. */
  static Stream<Attack> ownListeners() {
    return Stream.of(
        getAt("127.0.0.1:{HTTP}").refused("proxy_loop", "127.0.0.1"),
        getAt("127.0.0.1:{SOCKS}").refused("proxy_loop", "127.0.0.1"),
        getAt("127.0.0.1:{ADMIN}").refused("proxy_loop", "127.0.0.1"),
        getAt("127.1:{HTTP}").refused("proxy_loop", "127.0.0.1"),
        getAt("0x7f000001:{ADMIN}").refused("proxy_loop", "127.0.0.1"),
        getAt("[::ffff:127.0.0.1]:{HTTP}").refused("proxy_loop", "::ffff:127.0.0.1"),
        getAt("allowed.test:{HTTP}").lookups(1).refused("proxy_loop", "allowed.test"),
        getAt("allowed.test:{SOCKS}").lookups(1).refused("proxy_loop", "allowed.test")
    ).map(a -> a.on(Proxy.LIMITED));
  }

  /** SOCKS5 address types with private targets, and malformed or unsupported frames. */
  static Stream<Attack> socks5Frames() {
    byte[] noAuth = Socks5Client.greeting(Socks5Client.NO_AUTHENTICATION);
    return Stream.of(
        socks5("SOCKS5 CONNECT IPv4 127.0.0.2:PORT", p -> Socks5Address.ipv4("127.0.0.2", p.origin()))
            .refused("not_allowed", "127.0.0.2"),
        socks5("SOCKS5 CONNECT IPv4 127.0.0.1:PORT", p -> Socks5Address.ipv4("127.0.0.1", p.origin()))
            .refused("not_allowed", "127.0.0.1"),
        socks5("SOCKS5 CONNECT IPv4 0.0.0.0:PORT", p -> Socks5Address.ipv4("0.0.0.0", p.origin()))
            .refused("not_allowed", "0.0.0.0"),
        socks5("SOCKS5 CONNECT IPv4 169.254.169.254:PORT", p -> Socks5Address.ipv4("169.254.169.254", p.origin()))
            .refused("not_allowed", "169.254.169.254"),
        socks5("SOCKS5 CONNECT IPv6 ::1:PORT", p -> Socks5Address.ipv6("::1", p.origin()))
            .refused("not_allowed", "::1"),
        socks5("SOCKS5 CONNECT IPv6 ::ffff:127.0.0.2:PORT", p -> Socks5Address.ipv6("::ffff:127.0.0.2", p.origin()))
            .refused("not_allowed", "::ffff:127.0.0.2"),
        socks5("SOCKS5 CONNECT IPv6 fd00:ec2::254:PORT", p -> Socks5Address.ipv6("fd00:ec2::254", p.origin()))
            .refused("not_allowed", "fd00:ec2::254"),
        socks5("SOCKS5 CONNECT IPv4 127.0.0.1:PORT", p -> Socks5Address.ipv4("127.0.0.1", p.origin()))
            .on(Proxy.OPEN).refused("not_allowed_local", "127.0.0.1"),
        socks5("SOCKS5 CONNECT IPv6 ::1:PORT", p -> Socks5Address.ipv6("::1", p.origin()))
            .on(Proxy.OPEN).refused("not_allowed_local", "::1"),
        socks5("SOCKS5 CONNECT IPv6 ::ffff:127.0.0.1:PORT",
            p -> Socks5Address.ipv6("::ffff:127.0.0.1", p.origin()))
            .on(Proxy.OPEN).refused("not_allowed_local", "::ffff:127.0.0.1"),
        Attack.socks5InOneSegment("greeting and CONNECT private.test:PORT in one segment",
            p -> concat(noAuth, Socks5Client.request(Socks5Client.CONNECT,
                Socks5Address.domain("private.test", p.origin()).encode())))
            .lookups(1).refused("not_allowed_local", "private.test"),
        socks5("SOCKS4 CONNECT to 127.0.0.3 (not SOCKS5)", bytes(0x04, 0x01, 0, 80, 127, 0, 0, 3, 'u', 0), null, false)
            .closed(),
        socks5("greeting with version 6", bytes(0x06, 0x01, 0x00), null, false).closed(),
        socks5("greeting offering zero methods", bytes(0x05, 0x00), null, false).closed(),
        socks5("CONNECT with version 4 to 127.0.0.3:PORT", noAuth,
            p -> concat(bytes(0x04, 0x01, 0x00), Socks5Address.ipv4("127.0.0.3", p.origin()).encode()), false)
            .rejected(Status.GENERAL_FAILURE),
        socks5("CONNECT truncated inside the name, then half-close", noAuth,
            p -> bytes(0x05, 0x01, 0x00, 0x03, 11, 'v', 'e', 't'), true).closed(),
        socks5("CONNECT with RSV 0xff to IPv4 127.0.0.2:PORT", noAuth,
            p -> concat(bytes(0x05, 0x01, 0xff), Socks5Address.ipv4("127.0.0.2", p.origin()).encode()), false)
            .refused("not_allowed", "127.0.0.2"),
        socks5("CONNECT with address type 5", noAuth, p -> bytes(0x05, 0x01, 0x00, 0x05, 127, 0, 0, 3, 0, 80), false)
            .rejected(Status.ADDRESS_TYPE_NOT_SUPPORTED),
        socks5("BIND vetted.test:PORT", noAuth,
            p -> Socks5Client.request(Socks5Client.BIND, Socks5Address.domain("vetted.test", p.origin()).encode()),
            false).rejected(Status.COMMAND_NOT_SUPPORTED),
        socks5("command 0x04 to vetted.test:PORT", noAuth,
            p -> Socks5Client.request(0x04, Socks5Address.domain("vetted.test", p.origin()).encode()), false)
            .rejected(Status.COMMAND_NOT_SUPPORTED));
  }

  /** Allowed requests that must reach the origin, so that the zeros elsewhere mean something. */
  static Stream<Attack> controls() {
    return Stream.of(
        get("vetted.test").lookups(1).reaches(),
        get("VETTED.TEST.").lookups(1).reaches(),
        get("127.0.0.3").reaches(),
        connect("vetted.test").lookups(1).reaches(),
        socks5("vetted.test").lookups(1).reaches(),
        socks5("SOCKS5 CONNECT IPv4 127.0.0.3:PORT", p -> Socks5Address.ipv4("127.0.0.3", p.origin())).reaches(),
        get("vetted.test").on(Proxy.OPEN).lookups(1).reaches(),
        get("allowed.test").on(Proxy.LIMITED).lookups(1).reaches(),
        http("OPTIONS http://allowed.test:PORT/", "OPTIONS http://allowed.test:{PORT}/ HTTP/1.1\r\n"
            + "Host: allowed.test:{PORT}\r\n\r\n").on(Proxy.LIMITED).lookups(1).reaches());
  }

  /** The same host on the three front ends: absolute-form GET, CONNECT, and SOCKS5 with a DOMAIN address. */
  private static Stream<Attack> onEveryFront(String urlHost, UnaryOperator<Attack> expectation) {
    String socksName = urlHost.startsWith("[") ? urlHost.substring(1, urlHost.length() - 1) : urlHost;
    return Stream.of(get(urlHost), connect(urlHost), socks5(socksName)).map(expectation);
  }

  private record Spelling(String host, String canonical) {}

  private static Spelling spelled(String host, String canonical) {
    return new Spelling(host, canonical);
  }

  private record Named(String host, String reason, String canonical) {}

  private static Named named(String host, String reason, String canonical) {
    return new Named(host, reason, canonical);
  }
}
