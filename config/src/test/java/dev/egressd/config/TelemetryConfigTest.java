package dev.egressd.config;

import static dev.egressd.config.Fixtures.parse;
import static dev.egressd.config.Fixtures.problems;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.egressd.config.TelemetrySettings.Exporter;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/** The {@code [otel]}, {@code [audit]} and {@code [admin]} tables: defaults, every accepted form, every error. */
class TelemetryConfigTest {
  private static final String SECRET = "s3cret-token-value";

  @Test
  void absentTablesKeepEveryDefault() throws ConfigException {
    TelemetrySettings telemetry = parse("[network]\n").telemetry();

    assertThat(telemetry).isEqualTo(TelemetrySettings.DEFAULTS);
    assertThat(telemetry.exporter()).isInstanceOf(Exporter.None.class);
    assertThat(telemetry.environment()).isEqualTo("dev");
    assertThat(telemetry.eventName()).isEqualTo("codex.network_proxy.policy_decision");
    assertThat(telemetry.auditFile()).isNull();
    assertThat(telemetry.auditPath()).isNull();
    assertThat(telemetry.conversationId()).isNull();
    assertThat(telemetry.userAccountId()).isNull();
    assertThat(telemetry.queueSize()).isEqualTo(8192);
    assertThat(telemetry.adminListen()).isNull();
  }

  @Test
  void emptyTablesKeepEveryDefault() throws ConfigException {
    assertThat(parse("[otel]\n[audit]\n[admin]\n").telemetry()).isEqualTo(TelemetrySettings.DEFAULTS);
  }

  @Test
  void noneExporterAndEnvironment() throws ConfigException {
    TelemetrySettings telemetry = parse("[otel]\nenvironment = \"ci\"\nexporter = \"none\"\n").telemetry();

    assertThat(telemetry.exporter()).isEqualTo(new Exporter.None());
    assertThat(telemetry.environment()).isEqualTo("ci");
  }

  @Test
  void otlpHttpExporterDefaultsToBinaryWithoutHeaders() throws ConfigException {
    TelemetrySettings telemetry = parse("""
        [otel]
        exporter = { otlp-http = { endpoint = "http://127.0.0.1:4318/v1/logs" } }
        """).telemetry();

    assertThat(telemetry.exporter())
        .isEqualTo(new Exporter.OtlpHttp("http://127.0.0.1:4318/v1/logs", Map.of(), false));
  }

  @Test
  void otlpHttpExporterWithHeadersAndJsonProtocol() throws ConfigException {
    TelemetrySettings telemetry = parse("""
        [otel.exporter.otlp-http]
        endpoint = "https://collector.example/v1/logs"
        protocol = "json"
        headers = { "x-api-key" = "k1", authorization = "Bearer t" }
        """).telemetry();

    assertThat(telemetry.exporter()).isEqualTo(new Exporter.OtlpHttp("https://collector.example/v1/logs",
        Map.of("x-api-key", "k1", "authorization", "Bearer t"), true));
  }

  @Test
  void explicitBinaryProtocolIsNotJson() throws ConfigException {
    TelemetrySettings telemetry = parse("""
        [otel]
        exporter = { otlp-http = { endpoint = "http://127.0.0.1:4318", protocol = "binary" } }
        """).telemetry();

    assertThat(telemetry.exporter()).isInstanceOfSatisfying(Exporter.OtlpHttp.class,
        http -> assertThat(http.json()).isFalse());
  }

  @Test
  void otlpGrpcExporterWithHeaders() throws ConfigException {
    TelemetrySettings telemetry = parse("""
        [otel]
        exporter = { otlp-grpc = { endpoint = "http://127.0.0.1:4317", headers = { tenant = "a" } } }
        """).telemetry();

    assertThat(telemetry.exporter())
        .isEqualTo(new Exporter.OtlpGrpc("http://127.0.0.1:4317", Map.of("tenant", "a")));
  }

  @Test
  void headerNamesWithDotsStayOneKey() throws ConfigException {
    TelemetrySettings telemetry = parse("""
        [otel]
        exporter = { otlp-grpc = { endpoint = "http://127.0.0.1:4317", headers = { "x.api.key" = "a" } } }
        """).telemetry();

    assertThat(((Exporter.OtlpGrpc) telemetry.exporter()).headers()).containsExactly(Map.entry("x.api.key", "a"));
  }

  @Test
  void auditTableIsReadWhole() throws ConfigException {
    TelemetrySettings telemetry = parse("""
        [audit]
        event_name = "egressd.decision"
        file = "/var/log/egressd/audit.jsonl"
        conversation_id = "job-1234"
        user_account_id = "ci-bot"
        queue_size = 16
        """).telemetry();

    assertThat(telemetry.eventName()).isEqualTo("egressd.decision");
    assertThat(telemetry.auditFile()).isEqualTo("/var/log/egressd/audit.jsonl");
    assertThat(telemetry.auditPath()).isEqualTo(Path.of("/var/log/egressd/audit.jsonl"));
    assertThat(telemetry.conversationId()).isEqualTo("job-1234");
    assertThat(telemetry.userAccountId()).isEqualTo("ci-bot");
    assertThat(telemetry.queueSize()).isEqualTo(16);
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(ints = {1, 1 << 20})
  void queueSizeBoundsAreAccepted(int size) throws ConfigException {
    assertThat(parse("[audit]\nqueue_size = " + size + "\n").telemetry().queueSize()).isEqualTo(size);
  }

  @Test
  void auditFileDashIsStandardOutput() throws ConfigException {
    TelemetrySettings telemetry = parse("[audit]\nfile = \"-\"\n").telemetry();

    assertThat(telemetry.auditFile()).isEqualTo("-");
    assertThat(telemetry.auditPath()).isNull();
  }

  static Stream<Arguments> adminAddresses() {
    return Stream.of(
        Arguments.of("127.0.0.1:9000", "127.0.0.1", 9000),
        Arguments.of("127.0.0.1", "127.0.0.1", 9464),
        Arguments.of("localhost", "127.0.0.1", 9464),
        Arguments.of("localhost:0", "127.0.0.1", 0),
        Arguments.of("127.1.2.3:9", "127.1.2.3", 9),
        Arguments.of("[::1]", "0:0:0:0:0:0:0:1", 9464),
        Arguments.of("[::1]:9465", "0:0:0:0:0:0:0:1", 9465),
        Arguments.of("http://127.0.0.1:9100", "127.0.0.1", 9100));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("adminAddresses")
  void adminListenIsLoopbackWithDefaultPort9464(String listen, String host, int port) throws ConfigException {
    InetSocketAddress address = parse("[admin]\nlisten = \"" + listen + "\"\n").telemetry().adminListen();

    assertThat(address.getAddress().getHostAddress()).isEqualTo(host);
    assertThat(address.getPort()).isEqualTo(port);
    assertThat(TelemetrySettings.parseAdminAddress(listen)).isEqualTo(address);
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"0.0.0.0:9464", "10.0.0.1:1", "[::]:9464", "192.168.1.10", "[2001:db8::1]:9464",
      "admin.example:9464"})
  void nonLoopbackAdminListenIsAnError(String listen) {
    assertThat(problems("[admin]\nlisten = \"" + listen + "\"\n")).singleElement().hasToString(
        "config.toml:2:1: admin.listen: the admin listener must be on a loopback address, got \"" + listen + "\"");
    assertThatIllegalArgumentException().isThrownBy(() -> TelemetrySettings.parseAdminAddress(listen))
        .withMessage("the admin listener must be on a loopback address, got \"" + listen + "\"");
  }

  @Test
  void adminListenWithAnInvalidPortIsAnError() {
    assertThat(problems("[admin]\nlisten = \"127.0.0.1:99999\"\n")).singleElement().hasToString(
        "config.toml:2:1: admin.listen: invalid port 99999 in network proxy address: \"127.0.0.1:99999\" "
            + "(expected: 0..65535)");
  }

  @Test
  void relativeAuditFileIsResolvedAgainstTheConfigFilesDirectory(@TempDir Path dir)
      throws IOException, ConfigException {
    Path file = dir.resolve("egressd.toml");
    Files.writeString(file, "[audit]\nfile = \"logs/audit.jsonl\"\n");

    TelemetrySettings telemetry = ConfigLoader.load(file, null).telemetry();

    assertThat(telemetry.auditPath()).isAbsolute()
        .isEqualTo(dir.toAbsolutePath().resolve("logs").resolve("audit.jsonl"));
  }

  @Test
  void absoluteAndStandardOutputAuditFilesAreNotResolved(@TempDir Path dir) throws IOException, ConfigException {
    Path absolute = dir.resolve("elsewhere").resolve("audit.jsonl").toAbsolutePath();
    Path file = dir.resolve("a.toml");
    Files.writeString(file, "[audit]\nfile = '" + absolute + "'\n");
    Path stdout = dir.resolve("b.toml");
    Files.writeString(stdout, "[audit]\nfile = \"-\"\n");

    assertThat(ConfigLoader.load(file, null).telemetry().auditPath()).isEqualTo(absolute);
    assertThat(ConfigLoader.load(stdout, null).telemetry().auditFile()).isEqualTo("-");
  }

  @Test
  void relativeAuditFileStaysRelativeWithoutASourceFile() throws ConfigException {
    assertThat(parse("[audit]\nfile = \"audit.jsonl\"\n").telemetry().auditFile()).isEqualTo("audit.jsonl");
  }

  static Stream<Arguments> invalidTables() {
    return Stream.of(
        row("otel not a table", "otel = 1",
            "1:1: otel: expected a table, found an integer"),
        row("audit not a table", "audit = \"x\"",
            "1:1: audit: expected a table, found a string"),
        row("admin not a table", "admin = true",
            "1:1: admin: expected a table, found a boolean"),
        row("environment not a string", "[otel]\nenvironment = 1",
            "2:1: otel.environment: expected a string, found an integer"),
        row("exporter as an unknown string", "[otel]\nexporter = \"otlp\"",
            "2:1: otel.exporter: unsupported exporter \"otlp\" (expected \"none\", { otlp-http = { endpoint = "
                + "\"...\" } } or { otlp-grpc = { endpoint = \"...\" } })"),
        row("exporter as a number", "[otel]\nexporter = 1",
            "2:1: otel.exporter: expected \"none\" or a table with exactly one of otlp-http, otlp-grpc, found an "
                + "integer"),
        row("exporter as an empty table", "[otel]\nexporter = {}",
            "2:1: otel.exporter: expected \"none\" or a table with exactly one of otlp-http, otlp-grpc, found a "
                + "table"),
        row("exporter with two kinds", "[otel]\nexporter = { otlp-http = { endpoint = \"http://a\" }, "
                + "otlp-grpc = { endpoint = \"http://a\" } }",
            "2:1: otel.exporter: expected \"none\" or a table with exactly one of otlp-http, otlp-grpc, found a "
                + "table"),
        row("unknown exporter kind with a suggestion", "[otel]\nexporter = { otlp_http = { endpoint = \"http://a\" } }",
            "2:14: otel.exporter.otlp_http: unsupported exporter (did you mean otlp-http?)"),
        row("unknown exporter kind typo", "[otel]\nexporter = { otlp-grp = { endpoint = \"http://a\" } }",
            "2:14: otel.exporter.otlp-grp: unsupported exporter (did you mean otlp-grpc?)"),
        row("unknown exporter kind without a suggestion", "[otel]\nexporter = { zipkin = { endpoint = \"http://a\" } }",
            "2:14: otel.exporter.zipkin: unsupported exporter"),
        row("exporter settings not a table", "[otel]\nexporter = { otlp-http = \"http://a\" }",
            "2:14: otel.exporter.otlp-http: expected a table, found a string"),
        row("http endpoint missing", "[otel]\nexporter = { otlp-http = { protocol = \"json\" } }",
            "2:14: otel.exporter.otlp-http.endpoint: missing (e.g. \"http://127.0.0.1:4318/v1/logs\")"),
        row("grpc endpoint missing", "[otel]\nexporter = { otlp-grpc = {} }",
            "2:14: otel.exporter.otlp-grpc.endpoint: missing (e.g. \"http://127.0.0.1:4317\")"),
        row("endpoint not a string", "[otel]\nexporter = { otlp-http = { endpoint = 4318 } }",
            "2:28: otel.exporter.otlp-http.endpoint: expected a string, found an integer"),
        row("endpoint without a scheme", "[otel]\nexporter = { otlp-grpc = { endpoint = \"127.0.0.1:4317\" } }",
            "2:28: otel.exporter.otlp-grpc.endpoint: expected an http:// or https:// URL with a host, found "
                + "\"127.0.0.1:4317\""),
        row("endpoint with another scheme", "[otel]\nexporter = { otlp-http = { endpoint = \"ftp://c.example\" } }",
            "2:28: otel.exporter.otlp-http.endpoint: expected an http:// or https:// URL with a host, found "
                + "\"ftp://c.example\""),
        row("endpoint without a host", "[otel]\nexporter = { otlp-http = { endpoint = \"http:///v1/logs\" } }",
            "2:28: otel.exporter.otlp-http.endpoint: expected an http:// or https:// URL with a host, found "
                + "\"http:///v1/logs\""),
        row("endpoint that is no URI", "[otel]\nexporter = { otlp-http = { endpoint = \"http://a b\" } }",
            "2:28: otel.exporter.otlp-http.endpoint: expected an http:// or https:// URL with a host, found "
                + "\"http://a b\""),
        row("http tls settings", "[otel]\nexporter = { otlp-http = { endpoint = \"https://a\", tls = { "
                + "ca-certificate = \"ca.pem\" } } }",
            "2:52: otel.exporter.otlp-http.tls: not supported: egressd verifies the collector against the JDK trust"
                + " store; use an https endpoint with a trusted certificate"),
        row("grpc tls settings", "[otel]\nexporter = { otlp-grpc = { endpoint = \"https://a\", tls = {} } }",
            "2:52: otel.exporter.otlp-grpc.tls: not supported: egressd verifies the collector against the JDK trust"
                + " store; use an https endpoint with a trusted certificate"),
        row("unknown protocol", "[otel]\nexporter = { otlp-http = { endpoint = \"http://a\", protocol = \"grpc\" } }",
            "2:51: otel.exporter.otlp-http.protocol: expected \"binary\" or \"json\", found \"grpc\""),
        row("protocol not a string", "[otel]\nexporter = { otlp-http = { endpoint = \"http://a\", protocol = 1 } }",
            "2:51: otel.exporter.otlp-http.protocol: expected a string, found an integer"),
        row("protocol on grpc", "[otel]\nexporter = { otlp-grpc = { endpoint = \"http://a\", protocol = \"json\" } }",
            "2:51: otel.exporter.otlp-grpc.protocol: unknown key"),
        row("unknown exporter setting", "[otel]\nexporter = { otlp-http = { endpoint = \"http://a\", endpiont = \"x\" } }",
            "2:51: otel.exporter.otlp-http.endpiont: unknown key (did you mean endpoint?)"),
        row("headers not a table", "[otel]\nexporter = { otlp-http = { endpoint = \"http://a\", headers = \"k=v\" } }",
            "2:51: otel.exporter.otlp-http.headers: expected a table, found a string"),
        row("header value not a string", "[otel]\nexporter = { otlp-grpc = { endpoint = \"http://a\", headers = "
                + "{ x-api-key = 1 } } }",
            "2:63: otel.exporter.otlp-grpc.headers.x-api-key: expected a string, found an integer"),
        row("unknown audit key with a suggestion", "[audit]\nevnt_name = \"x\"",
            "2:1: audit.evnt_name: unknown key (did you mean event_name?)"),
        row("unknown audit key without a suggestion", "[audit]\nrotate = true",
            "2:1: audit.rotate: unknown key"),
        row("unknown admin key with a suggestion", "[admin]\nlisen = \"127.0.0.1:9464\"",
            "2:1: admin.lisen: unknown key (did you mean listen?)"),
        row("unknown admin key without a suggestion", "[admin]\nbasic_auth = \"u:p\"",
            "2:1: admin.basic_auth: unknown key"),
        row("empty event name", "[audit]\nevent_name = \"\"",
            "2:1: audit.event_name: must not be empty"),
        row("blank event name", "[audit]\nevent_name = \"  \"",
            "2:1: audit.event_name: must not be empty"),
        row("event name not a string", "[audit]\nevent_name = 1",
            "2:1: audit.event_name: expected a string, found an integer"),
        row("empty audit file", "[audit]\nfile = \"\"",
            "2:1: audit.file: must be a path, or \"-\" for standard output"),
        row("audit file not a string", "[audit]\nfile = true",
            "2:1: audit.file: expected a string, found a boolean"),
        row("conversation id not a string", "[audit]\nconversation_id = 7",
            "2:1: audit.conversation_id: expected a string, found an integer"),
        row("user account id not a string", "[audit]\nuser_account_id = []",
            "2:1: audit.user_account_id: expected a string, found an array"),
        row("queue size zero", "[audit]\nqueue_size = 0",
            "2:1: audit.queue_size: expected an integer from 1 to 1048576, found 0"),
        row("queue size negative", "[audit]\nqueue_size = -5",
            "2:1: audit.queue_size: expected an integer from 1 to 1048576, found -5"),
        row("queue size too large", "[audit]\nqueue_size = 1048577",
            "2:1: audit.queue_size: expected an integer from 1 to 1048576, found 1048577"),
        row("queue size as a string", "[audit]\nqueue_size = \"10\"",
            "2:1: audit.queue_size: expected an integer from 1 to 1048576, found a string"),
        row("queue size as a float", "[audit]\nqueue_size = 10.0",
            "2:1: audit.queue_size: expected an integer from 1 to 1048576, found a float"),
        row("admin listen not a string", "[admin]\nlisten = 9464",
            "2:1: admin.listen: expected a string, found an integer"));
  }

  private static Arguments row(String name, String toml, String expected) {
    return Arguments.of(name, toml + "\n", "config.toml:" + expected);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("invalidTables")
  void invalidValueIsReportedWithPositionAndKey(String name, String toml, String expected) {
    assertThat(problems(toml)).singleElement().hasToString(expected);
  }

  @Test
  void problemsInAllThreeTablesAreReportedTogether() {
    assertThat(problems("""
        [otel]
        exporter = { otlp-http = {} }
        [audit]
        queue_size = 0
        [admin]
        listen = "0.0.0.0"
        """)).extracting(ConfigProblem::line, ConfigProblem::key).containsExactly(
            org.assertj.core.groups.Tuple.tuple(2, "otel.exporter.otlp-http.endpoint"),
            org.assertj.core.groups.Tuple.tuple(4, "audit.queue_size"),
            org.assertj.core.groups.Tuple.tuple(6, "admin.listen"));
  }

  @Test
  void unknownOtelKeysAreOnlyWarnings() throws ConfigException {
    DaemonConfig config = parse("[otel]\nenviroment = \"ci\"\nsampler = \"always_on\"\n");

    assertThat(config.telemetry()).isEqualTo(TelemetrySettings.DEFAULTS);
    assertThat(config.warnings()).contains(
        "config.toml:2:1: otel.enviroment: unknown key, ignored (did you mean environment?)",
        "config.toml:3:1: otel.sampler: unknown key, ignored");
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"trace_exporter", "metrics_exporter", "log_user_prompt"})
  void referenceOtelKeysEgressdDoesNotUseWarn(String key) throws ConfigException {
    DaemonConfig config = parse("[otel]\n" + key + " = \"otlp-http\"\n");

    assertThat(config.telemetry()).isEqualTo(TelemetrySettings.DEFAULTS);
    assertThat(config.warnings()).contains("config.toml:2:1: otel." + key + ": ignored: egressd exports only audit"
        + " log records over OTLP; metrics are served on the admin listener");
  }

  @Test
  void otelWarningsDoNotHideOtelErrors() {
    assertThat(problems("[otel]\ntrace_exporter = \"otlp\"\nexporter = \"otlp\"\n")).singleElement()
        .satisfies(p -> assertThat(p.key()).isEqualTo("otel.exporter"));
  }

  @Test
  void headerValuesNeverAppearInErrorMessages() {
    ConfigException thrown = catchThrowableOfType(ConfigException.class, () -> ConfigLoader.parse("""
        [otel]
        extra = "%1$s"
        [otel.exporter.otlp-http]
        endpoint = "ftp://collector.example"
        protocol = "xml"
        tls = { client-private-key = "%1$s" }
        headers = { a = "%1$s", b = 42, c = ["%1$s"], d = { token = "%1$s" } }
        """.formatted(SECRET), "config.toml", null));

    assertThat(thrown.problems()).extracting(ConfigProblem::key).containsExactly(
        "otel.exporter.otlp-http.endpoint", "otel.exporter.otlp-http.protocol", "otel.exporter.otlp-http.tls",
        "otel.exporter.otlp-http.headers.b", "otel.exporter.otlp-http.headers.c", "otel.exporter.otlp-http.headers.d");
    assertThat(thrown.getMessage()).doesNotContain(SECRET);
    assertThat(thrown.problems()).allSatisfy(p -> assertThat(p.toString()).doesNotContain(SECRET));
  }

  @Test
  void headerValuesNeverAppearInWarnings() throws ConfigException {
    DaemonConfig config = parse("""
        [otel]
        api_key = "%1$s"
        metrics_exporter = { otlp-http = { headers = { a = "%1$s" } } }
        exporter = { otlp-http = { endpoint = "http://127.0.0.1:4318", headers = { a = "%1$s" } } }
        """.formatted(SECRET));

    assertThat(config.warnings()).isNotEmpty().allSatisfy(w -> assertThat(w).doesNotContain(SECRET));
    assertThat(config.toString()).doesNotContain(SECRET);
  }

  @Test
  void exporterToStringShowsHeaderNamesOnly() throws ConfigException {
    Exporter http = parse("""
        [otel]
        exporter = { otlp-http = { endpoint = "http://127.0.0.1:4318", headers = { "x-api-key" = "%s" } } }
        """.formatted(SECRET)).telemetry().exporter();
    Exporter grpc = new Exporter.OtlpGrpc("http://127.0.0.1:4317", Map.of("authorization", "Bearer " + SECRET));

    assertThat(http).hasToString("OtlpHttp[endpoint=http://127.0.0.1:4318, headers=[x-api-key], json=false]");
    assertThat(grpc).hasToString("OtlpGrpc[endpoint=http://127.0.0.1:4317, headers=[authorization]]");
    assertThat(TelemetrySettings.DEFAULTS.withAuditFile("a").toString()).doesNotContain(SECRET);
    assertThat(new TelemetrySettings(grpc, "dev", "e", null, null, null, 1, null).toString())
        .contains("authorization").doesNotContain(SECRET);
  }

  @Test
  void exporterRecordsCopyTheirHeaders() {
    Map<String, String> headers = new HashMap<>(Map.of("a", "1"));
    Exporter.OtlpHttp http = new Exporter.OtlpHttp("http://a", headers, false);
    headers.put("b", "2");

    assertThat(http.headers()).containsOnlyKeys("a");
  }

  @Test
  void settingsRejectANonPositiveQueueSize() {
    assertThatIllegalArgumentException()
        .isThrownBy(() -> new TelemetrySettings(new Exporter.None(), "dev", "e", null, null, null, 0, null))
        .withMessage("queueSize: 0 (expected: >= 1)");
  }

  @Test
  void withersReplaceOneField() {
    InetSocketAddress admin = new InetSocketAddress(InetAddress.getLoopbackAddress(), 9464);
    TelemetrySettings changed = TelemetrySettings.DEFAULTS.withAuditFile("/tmp/a.jsonl").withAdminListen(admin);

    assertThat(changed.auditPath()).isEqualTo(Path.of("/tmp/a.jsonl"));
    assertThat(changed.adminListen()).isEqualTo(admin);
    assertThat(changed.withAuditFile(null).withAdminListen(null)).isEqualTo(TelemetrySettings.DEFAULTS);
  }
}
