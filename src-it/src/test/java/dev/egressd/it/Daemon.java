package dev.egressd.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * The real egressd jar, started as {@code egressd run --config FILE --listen 127.0.0.1:0 --socks-listen 127.0.0.1:0}
 * with a given config text (and, optionally, extra environment variables).
 * Registered {@code static}, it serves the whole class; registered on an instance field, one test. stdout and stderr
 * are captured; {@link #awaitStderr} waits for a log (audit) line printed during the current test.
 * {@code EGRESSD_HOME} points into the daemon's temporary directory unless the test sets it, so a daemon with TLS
 * interception never reads or creates a CA under the user's home.
 */
final class Daemon implements BeforeAllCallback, AfterAllCallback, BeforeEachCallback, AfterEachCallback {
  private static final Pattern LISTENING =
      Pattern.compile("egressd: HTTP proxy listening on 127\\.0\\.0\\.1:(\\d+) \\((\\w+)\\)");
  private static final Pattern SOCKS_LISTENING =
      Pattern.compile("egressd: SOCKS5 proxy listening on 127\\.0\\.0\\.1:(\\d+) \\(UDP (on|off)\\)");
  private static final Pattern ADMIN_LISTENING =
      Pattern.compile("egressd: admin listening on http://127\\.0\\.0\\.1:(\\d+) ");
  private static final Pattern INTERCEPTION =
      Pattern.compile("egressd: TLS interception on \\((.+)\\); CA (.+); clients must trust it: (.+)$");
  private static final Duration STARTUP = Duration.ofSeconds(60);

  private final String config;
  private final List<String> args;
  private final Map<String, String> environment;
  private Path directory;
  private Path egressdHome;
  private Process process;
  private OutputCollector stdout;
  private OutputCollector stderr;
  private int port;
  private int socksPort;
  private int stderrMark;
  private boolean perTest;
  private Integer exitCode;

  private Daemon(String config, List<String> args, Map<String, String> environment) {
    this.config = config;
    this.args = List.copyOf(args);
    this.environment = Map.copyOf(environment);
  }

  /** A daemon reading this TOML as its {@code --config} file. */
  static Daemon withConfig(String toml) {
    return new Daemon(toml, List.of(), Map.of());
  }

  /** The same daemon with extra {@code run} options (e.g. {@code --mode limited}). */
  Daemon withArgs(String... extra) {
    List<String> all = new ArrayList<>(args);
    all.addAll(Arrays.asList(extra));
    return new Daemon(config, all, environment);
  }

  /** The same daemon with one more environment variable (e.g. the one {@code socks_password_env} names). */
  Daemon withEnvironment(String name, String value) {
    Map<String, String> all = new LinkedHashMap<>(environment);
    all.put(name, value);
    return new Daemon(config, args, all);
  }

  @Override
  public void beforeAll(ExtensionContext context) throws Exception {
    start();
  }

  @Override
  public void afterAll(ExtensionContext context) throws Exception {
    stop();
  }

  @Override
  public void beforeEach(ExtensionContext context) throws Exception {
    if (process == null) {
      perTest = true;
      start();
    }
    stderrMark = stderr.size();
  }

  @Override
  public void afterEach(ExtensionContext context) throws Exception {
    if (perTest) {
      stop();
    }
  }

  /** Starts the process and waits for its "listening" line. */
  void start() throws IOException, InterruptedException {
    directory = Files.createTempDirectory("egressd-it-daemon");
    Path configFile = directory.resolve("egressd.toml");
    Files.writeString(configFile, config);
    Path codexHome = Files.createDirectories(directory.resolve("codex-home"));
    List<String> runArgs = new ArrayList<>(List.of("run", "--config", configFile.toString(),
        "--listen", "127.0.0.1:0", "--socks-listen", "127.0.0.1:0"));
    runArgs.addAll(args);
    ProcessBuilder builder = new ProcessBuilder(Egressd.command(runArgs));
    Processes.clean(builder.environment());
    builder.environment().put("CODEX_HOME", codexHome.toString());
    builder.environment().put("EGRESSD_HOME", directory.resolve("egressd-home").toString());
    builder.environment().putAll(environment);
    egressdHome = Path.of(builder.environment().get("EGRESSD_HOME"));
    socksPort = 0;
    ChildProcess child = ChildProcess.start(builder, "egressd");
    process = child.process();
    stdout = child.stdout();
    stderr = child.stderr();
    Optional<String> listening = stdout.await(0, line -> LISTENING.matcher(line).find(), STARTUP);
    if (listening.isEmpty()) {
      String why = process.isAlive() ? "no listening line within " + STARTUP : "exited with " + process.waitFor();
      stop();
      fail("egressd did not start (%s)\n--- config ---\n%s\n--- stdout ---\n%s--- stderr ---\n%s", why, config,
          stdout.text(), stderr.text());
    }
    Matcher matcher = LISTENING.matcher(listening.get());
    assertThat(matcher.find()).isTrue();
    port = Integer.parseInt(matcher.group(1));
  }

  /** Sends SIGTERM, waits for the exit, and kills the process if it does not go. */
  void stop() throws InterruptedException {
    if (process == null) {
      return;
    }
    process.destroy();
    if (process.waitFor(20, TimeUnit.SECONDS)) {
      exitCode = process.exitValue();
    } else {
      Processes.destroy(process);
    }
    stdout.awaitEnd(Duration.ofSeconds(5));
    stderr.awaitEnd(Duration.ofSeconds(5));
    process = null;
    deleteDirectory();
    List<String> leaks = stderr.lines().stream().filter(l -> l.contains("LEAK:")).toList();
    assertThat(leaks).as("Netty leak reports from egressd\n%s", stderr.text()).isEmpty();
  }

  private void deleteDirectory() {
    if (directory == null) {
      return;
    }
    try (Stream<Path> paths = Files.walk(directory)) {
      paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      // best effort
    }
    directory = null;
  }

  /** Sends SIGTERM without waiting. */
  void terminate() {
    process.destroy();
  }

  /** Waits for the process to exit by itself; returns the exit status, or null if it is still running. */
  Integer awaitExit(Duration timeout) throws InterruptedException {
    return process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS) ? process.exitValue() : null;
  }

  /** The listening port. */
  int port() {
    return port;
  }

  /**
   * The SOCKS5 listening port, from the {@code egressd: SOCKS5 proxy listening on 127.0.0.1:PORT (UDP on|off)}
   * line; fails the test when the daemon printed none (SOCKS5 off).
   */
  int socksPort() throws InterruptedException {
    if (socksPort == 0) {
      Matcher matcher = SOCKS_LISTENING.matcher(awaitStdout("egressd: SOCKS5 proxy listening on"));
      assertThat(matcher.find()).as("SOCKS5 listening line").isTrue();
      socksPort = Integer.parseInt(matcher.group(1));
    }
    return socksPort;
  }

  /** The SOCKS5 listening address. */
  InetSocketAddress socksAddress() throws InterruptedException {
    return new InetSocketAddress("127.0.0.1", socksPort());
  }

  /** The SOCKS5 proxy URL with proxy-side name resolution, {@code socks5h://127.0.0.1:PORT}. */
  String socksUrl() throws InterruptedException {
    return "socks5h://127.0.0.1:" + socksPort();
  }

  /** The proxy URL, {@code http://127.0.0.1:PORT}. */
  String url() {
    return "http://127.0.0.1:" + port;
  }

  /** The listening address. */
  InetSocketAddress address() {
    return new InetSocketAddress("127.0.0.1", port);
  }

  /** The {@code EGRESSD_HOME} of the running process (the default CA is {@code proxy/ca.pem} in it). */
  Path egressdHome() {
    return egressdHome;
  }

  /**
   * The interception CA certificate, from the {@code egressd: TLS interception on (...); CA PATH; clients must
   * trust it: BUNDLE} line; fails the test when the daemon printed none (interception off).
   */
  Path mitmCaCertificate() throws InterruptedException {
    return Path.of(interceptionLine().group(2));
  }

  /** The client trust bundle (system roots plus the interception CA) from the same line. */
  Path mitmTrustBundle() throws InterruptedException {
    return Path.of(interceptionLine().group(3));
  }

  private Matcher interceptionLine() throws InterruptedException {
    Matcher matcher = INTERCEPTION.matcher(awaitStdout("egressd: TLS interception on"));
    assertThat(matcher.find()).as("TLS interception line").isTrue();
    return matcher;
  }

  /**
   * The admin listener's port, from the {@code egressd: admin listening on http://127.0.0.1:PORT (...)} line; fails
   * the test when the daemon printed none (admin listener off).
   */
  int adminPort() throws InterruptedException {
    Matcher matcher = ADMIN_LISTENING.matcher(awaitStdout("egressd: admin listening on"));
    assertThat(matcher.find()).as("admin listening line").isTrue();
    return Integer.parseInt(matcher.group(1));
  }

  /**
   * The directory holding the {@code --config} file (relative paths in the config resolve against it); deleted when
   * the daemon stops.
   */
  Path configDirectory() {
    return directory;
  }

  /** The running process (null once stopped). */
  Process process() {
    return process;
  }

  /** The exit status after {@link #stop()}, or null. */
  Integer exitCode() {
    return exitCode;
  }

  /** Everything printed on stdout. */
  String stdout() {
    return stdout.text();
  }

  /** Everything printed on stderr. */
  String stderr() {
    return stderr.text();
  }

  /**
   * Starts a new window within a test: from now on {@link #awaitStderr} and {@link #stderrOfThisTest} see only lines
   * printed after this call (for a test that checks several requests one after another).
   */
  void markStderr() {
    stderrMark = stderr.size();
  }

  /** The stderr lines printed since the current test started. */
  List<String> stderrOfThisTest() {
    return stderr.linesFrom(stderrMark);
  }

  /** Waits for a stdout line containing {@code fragment} (the announcement lines come one after another). */
  String awaitStdout(String fragment) throws InterruptedException {
    Optional<String> line = stdout.await(0, l -> l.contains(fragment), Duration.ofSeconds(10));
    if (line.isEmpty()) {
      return fail("no egressd stdout line containing %s; stdout:\n%s", fragment, stdout.text());
    }
    return line.get();
  }

  /**
   * Waits for a stderr line printed during the current test that contains every fragment, and returns it. Audit
   * lines go through an asynchronous appender, so they may come a little after the response.
   */
  String awaitStderr(String... fragments) throws InterruptedException {
    Optional<String> line = stderr.await(stderrMark,
        l -> Arrays.stream(fragments).allMatch(l::contains), Duration.ofSeconds(10));
    if (line.isEmpty()) {
      return fail("no egressd stderr line containing all of %s; this test's stderr:\n%s", Arrays.toString(fragments),
          String.join("\n", stderrOfThisTest()));
    }
    return line.get();
  }
}
