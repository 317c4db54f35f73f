package dev.egressd.it;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code egressd run --isolate -- CMD} on this machine: the command runs in its own network namespace, where a
 * client that ignores the proxy variables reaches nothing, while proxied requests still follow the policy. Runs as
 * root (plain {@code unshare --net}) and as an unprivileged user (user namespace). {@code NamespaceTopologyIT}
 * covers the same mode between namespaces the test builds.
 */
@Timeout(value = 120, unit = SECONDS)
class IsolateIT {
  private static final String CONFIG = """
      [network]
      allowed_domains = ["allowed.test", "127.0.0.1"]
      denied_domains = ["denied.test"]
      """;

  @RegisterExtension
  static final OriginServer http = OriginServer.http();

  @TempDir
  static Path dir;

  static Path config;

  @BeforeAll
  static void writeConfig() throws IOException {
    config = Files.writeString(dir.resolve("egressd.toml"), CONFIG);
  }

  /** {@code egressd run --isolate ... -- sh -c SCRIPT} with its own temporary directory, as this user. */
  private static ProcessResult isolated(Path tmp, Map<String, String> env, String script) {
    List<String> command = new ArrayList<>(Egressd.command(List.of("run", "--isolate", "--config",
        config.toString(), "--listen", "127.0.0.1:0", "--socks-listen", "127.0.0.1:0", "--", "sh", "-c", script)));
    command.add(1, "-Djava.io.tmpdir=" + tmp);
    return Processes.run(command, env, null, Duration.ofSeconds(90));
  }

  private static Map<String, String> home() {
    return Map.of("CODEX_HOME", dir.toString(), "HOME", dir.toString());
  }

  @Test
  void everyConnectionOfAnIsolatedRunCarriesItsExecutionId() throws IOException {
    Path tmp = Files.createDirectories(dir.resolve("tmp-execution"));
    Path audit = dir.resolve("execution-audit.jsonl");
    List<String> command = new ArrayList<>(Egressd.command(List.of("run", "--isolate", "--execution-id", "ci-job-42",
        "--audit-file", audit.toString(), "--config", config.toString(), "--listen", "127.0.0.1:0",
        "--socks-listen", "127.0.0.1:0", "--", "sh", "-c", String.join("\n",
            "curl -q -sS -f --max-time 20 " + http.url("allowed.test", "/job") + " >/dev/null; echo \"http=$?\"",
            "curl -q -sS -o /dev/null -w 'denied=%{http_code}\\n' --max-time 20 " + http.url("denied.test", "/"),
            "curl -q -sS -f --max-time 20 -x \"$ALL_PROXY\" " + http.url("allowed.test", "/socks-job")
                + " >/dev/null; echo \"socks=$?\""))));
    command.add(1, "-Djava.io.tmpdir=" + tmp);
    ProcessResult result = Processes.run(command, home(), null, Duration.ofSeconds(90));

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(result.stdout()).isEqualTo("http=0\ndenied=403\nsocks=0\n");
    assertThat(result.stderr()).contains("egressd: execution id ci-job-42 (audited as execution.id")
        .contains("decision=deny reason=denied").contains("client=unix-socket execution=ci-job-42");
    List<java.util.Map<String, Object>> lines = Files.readAllLines(audit).stream().map(Json::object).toList();
    assertThat(lines).hasSize(3).allSatisfy(line -> assertThat(line).containsEntry("execution.id", "ci-job-42"));
    assertThat(lines).extracting(line -> line.get("network.transport.protocol"))
        .containsExactlyInAnyOrder("http", "http", "socks5_tcp");
  }

  @Test
  void aBadExecutionIdIsRefusedAndANonIsolatedRunSaysItsIdIsNotAudited() {
    ProcessResult bad = Egressd.cli(home(), "run", "--execution-id", "job 42!", "--config", config.toString(),
        "--", "true");
    ProcessResult plain = Egressd.cli(home(), "run", "--config", config.toString(), "--listen", "127.0.0.1:0",
        "--socks-listen", "127.0.0.1:0", "--", "true");

    assertThat(bad.exitCode()).as("%s", bad).isEqualTo(2);
    assertThat(bad.stderr()).contains("--execution-id \"job 42!\": expected 1 to 64 of A-Z a-z 0-9 . _ : -");
    assertThat(plain.exitCode()).as("%s", plain).isZero();
    assertThat(plain.stderr()).containsPattern("egressd: execution id run-[0-9a-f]{12} \\(audited only with"
        + " --isolate");
    assertThat(plain.stdout()).isEmpty();
  }

  @Test
  void aClientIgnoringTheProxyGetsNoNetworkWhileProxiedRequestsFollowThePolicy() throws IOException {
    Path tmp = Files.createDirectories(dir.resolve("tmp-root"));
    String bypass = "http://127.0.0.1:" + http.port() + "/bypass";
    ProcessResult result = isolated(tmp, home(), String.join("\n",
        "curl -q -sS --max-time 5 --noproxy '*' " + bypass + "; echo \"direct=$?\"",
        "curl -q -sS -f --max-time 20 " + http.url("allowed.test", "/proxied") + "; echo \"proxied=$?\"",
        "curl -q -sS -o /dev/null -w 'denied=%{http_code}\\n' --max-time 20 " + http.url("denied.test", "/"),
        "curl -q -sS -f --max-time 20 -x \"$ALL_PROXY\" " + http.url("allowed.test", "/socks")
            + "; echo \"socks=$?\"",
        "exit 42"));

    assertThat(result.exitCode()).as("CMD's status is egressd's\n%s", result).isEqualTo(42);
    assertThat(result.stdout()).contains("direct=7\n", "origin saw GET /proxied body=0", "proxied=0\n",
        "denied=403\n", "origin saw GET /socks body=0", "socks=0\n");
    assertThat(http.requests()).extracting(RecordedRequest::target).containsExactly("/proxied", "/socks");
    assertThat(result.stderr()).contains("in a new network namespace")
        .contains("decision=deny reason=denied").contains("host=denied.test").contains("client=unix-socket");
    assertCleanedUp(tmp);
  }

  @Test
  void socksUdpAssociateIsRefusedOverTheBridge() throws IOException {
    Path tmp = Files.createDirectories(dir.resolve("tmp-udp"));
    // Greeting without authentication, then UDP ASSOCIATE 0.0.0.0:0; prints the reply code.
    String python = String.join("\n",
        "import os, socket",
        "host, port = os.environ['ALL_PROXY'].split('//')[1].rsplit(':', 1)",
        "s = socket.create_connection((host, int(port)), timeout=10)",
        "s.sendall(b'\\x05\\x01\\x00')",
        "assert s.recv(2) == b'\\x05\\x00'",
        "s.sendall(b'\\x05\\x03\\x00\\x01\\x00\\x00\\x00\\x00\\x00\\x00')",
        "print('udp-reply=%d' % s.recv(10)[1])");
    Path script = Files.writeString(dir.resolve("udp-associate.py"), python);
    ProcessResult result = isolated(tmp, home(), "python3 " + script);

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(result.stdout()).as("7: command not supported").contains("udp-reply=7\n");
  }

  @Test
  void anUnprivilegedUserIsIsolatedAndKeepsItsOwnIds() throws IOException {
    // Everything the unprivileged daemon reads must be readable by it: a world-readable copy of jar and config.
    Path shared = Files.createDirectories(dir.resolve("shared"));
    Path jar = Files.copy(Egressd.jar(), shared.resolve("egressd.jar"), StandardCopyOption.REPLACE_EXISTING);
    Path sharedConfig = Files.copy(config, shared.resolve("egressd.toml"), StandardCopyOption.REPLACE_EXISTING);
    Path tmp = Files.createDirectories(shared.resolve("tmp"));
    for (Path path : List.of(dir, shared, tmp)) {
      Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rwxrwxrwx"));
    }
    for (Path path : List.of(jar, sharedConfig)) {
      Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-r--r--"));
    }
    List<String> command = List.of("setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
        Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx96m", "-Djava.io.tmpdir=" + tmp,
        "-Djdk.net.hosts.file=" + worldReadableHosts(shared), "-jar", jar.toString(), "run", "--isolate",
        "--config", sharedConfig.toString(), "--listen", "127.0.0.1:0", "--socks-listen", "127.0.0.1:0", "--",
        "sh", "-c", "echo \"ids=$(id -u):$(id -g)\"; curl -q -sS --max-time 5 --noproxy '*' http://127.0.0.1:"
            + http.port() + "/bypass; echo \"direct=$?\"; curl -q -sS -f --max-time 20 "
            + http.url("allowed.test", "/unprivileged") + "; echo \"proxied=$?\"");
    ProcessResult result = Processes.run(command, Map.of("HOME", tmp.toString(), "CODEX_HOME", tmp.toString()),
        null, Duration.ofSeconds(90));

    assertThat(result.exitCode()).as("%s", result).isZero();
    assertThat(result.stdout()).contains("ids=65534:65534\n", "direct=7\n", "origin saw GET /unprivileged body=0",
        "proxied=0\n");
    assertThat(http.requests()).extracting(RecordedRequest::target).containsExactly("/unprivileged");
    assertCleanedUp(tmp);
  }

  @Test
  void withoutNamespacesItRefusesAndNeverRunsTheCommand() throws IOException {
    Path bin = Files.createDirectories(dir.resolve("fake-bin"));
    Path unshare = Files.writeString(bin.resolve("unshare"),
        "#!/bin/sh\necho 'unshare: unshare failed: Operation not permitted' >&2\nexit 1\n");
    Files.setPosixFilePermissions(unshare, PosixFilePermissions.fromString("rwxr-xr-x"));
    Path marker = dir.resolve("command-ran");
    Path tmp = Files.createDirectories(dir.resolve("tmp-refused"));

    ProcessResult result = isolated(tmp, Map.of("CODEX_HOME", dir.toString(), "HOME", dir.toString(),
        "PATH", bin + ":" + System.getenv("PATH")), "touch " + marker);

    assertThat(result.exitCode()).as("%s", result).isEqualTo(2);
    assertThat(result.stderr()).contains("egressd: --isolate: this system does not let egressd create a network"
        + " namespace").contains("Operation not permitted").contains("Not running sh without isolation.");
    assertThat(marker).doesNotExist();
    assertThat(http.connectionCount()).isZero();
    assertCleanedUp(tmp);
  }

  @Test
  void isolateWithoutACommandIsAUsageError() {
    ProcessResult result = Egressd.cli(dir, "run", "--isolate", "--config", config.toString(), "--listen",
        "127.0.0.1:0");

    assertThat(result.exitCode()).as("%s", result).isEqualTo(2);
    assertThat(result.stderr()).contains("--isolate needs a command to isolate");
    assertThat(result.stdout()).doesNotContain("listening");
  }

  /** The socket directory is gone and no process of the namespace (they name it on their command line) is left. */
  private static void assertCleanedUp(Path tmp) throws IOException {
    try (Stream<Path> left = Files.list(tmp)) {
      assertThat(left.filter(p -> p.getFileName().toString().startsWith("egressd-isolate-"))).isEmpty();
    }
    assertThat(ProcessHandle.allProcesses().map(p -> p.info().commandLine().orElse(""))
        .filter(line -> line.contains(tmp.toString()))).isEmpty();
  }

  private static Path worldReadableHosts(Path shared) throws IOException {
    Path hosts = Files.copy(Egressd.hostsFile(), shared.resolve("hosts"), StandardCopyOption.REPLACE_EXISTING);
    Files.setPosixFilePermissions(hosts, PosixFilePermissions.fromString("rw-r--r--"));
    return hosts;
  }
}
