package dev.egressd.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.tools.ToolProvider;

/**
 * Real clients run the way docs/clients.md tells users to: {@code sh -c 'eval "$ENV"; ...; exec CLIENT'} where ENV is
 * exactly what {@code egressd env} printed. The small programs for Python, Node, Go and Java are written (and the Go
 * and Java ones built) once into a directory; each prints {@code status=CODE x-proxy-error=VALUE} and then the body,
 * or {@code error=MESSAGE} and exits 3 when the library threw.
 */
final class RecipeClients {
  /** Debian's python3-requests and python3-httpx install for this interpreter, whatever else is on PATH. */
  static final String PYTHON = "/usr/bin/python3";
  /** Where Debian's node-undici lives; Debian's own node searches it, other builds need NODE_PATH. */
  static final String NODE_MODULES = "/usr/share/nodejs";

  private static final Pattern STATUS = Pattern.compile("(?m)^status=(\\d+) x-proxy-error=(\\S*)$\\n?");
  private static final String PYTHON_FETCH = """
      import sys
      library, url = sys.argv[1], sys.argv[2]
      try:
          if library == "requests":
              import requests
              response = requests.get(url, timeout=20)
          else:
              import httpx
              response = httpx.get(url, timeout=20)
          print("status=%d x-proxy-error=%s" % (response.status_code, response.headers.get("x-proxy-error", "")))
          sys.stdout.write(response.text)
      except Exception as e:
          print("error=%s: %s" % (type(e).__name__, e))
          sys.exit(3)
      """;
  /** {@code node fetch.js plain|undici URL}: undici installs a ProxyAgent for $HTTPS_PROXY as global dispatcher. */
  private static final String NODE_FETCH = """
      const [mode, url] = process.argv.slice(2);
      if (mode === 'undici') {
        const { ProxyAgent, setGlobalDispatcher } = require('undici');
        setGlobalDispatcher(new ProxyAgent(process.env.HTTPS_PROXY || process.env.https_proxy));
      }
      fetch(url, { signal: AbortSignal.timeout(20000) }).then(async (response) => {
        console.log(`status=${response.status} x-proxy-error=${response.headers.get('x-proxy-error') || ''}`);
        process.stdout.write(await response.text());
      }, (e) => {
        const messages = [];
        for (let cause = e; cause; cause = cause.cause) messages.push(cause.message);
        console.log(`error=${messages.join(': ')}`);
        process.exit(3);
      });
      """;
  private static final String GO_FETCH = """
      package main

      import (
      	"fmt"
      	"io"
      	"net/http"
      	"os"
      	"time"
      )

      func main() {
      	client := &http.Client{Timeout: 20 * time.Second}
      	response, err := client.Get(os.Args[1])
      	if err != nil {
      		fmt.Printf("error=%v\\n", err)
      		os.Exit(3)
      	}
      	defer response.Body.Close()
      	body, _ := io.ReadAll(response.Body)
      	fmt.Printf("status=%d x-proxy-error=%s\\n%s", response.StatusCode, response.Header.Get("X-Proxy-Error"), body)
      }
      """;
  private static final String JAVA_FETCH = """
      import java.net.URI;
      import java.net.http.HttpClient;
      import java.net.http.HttpRequest;
      import java.net.http.HttpResponse;
      import java.time.Duration;

      public class Fetch {
        public static void main(String[] args) throws Exception {
          HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
          try {
            HttpResponse<String> response = client.send(HttpRequest.newBuilder(URI.create(args[0]))
                .timeout(Duration.ofSeconds(20)).build(), HttpResponse.BodyHandlers.ofString());
            System.out.println("status=" + response.statusCode() + " x-proxy-error="
                + response.headers().firstValue("x-proxy-error").orElse(""));
            System.out.print(response.body());
          } catch (java.io.IOException e) {
            System.out.println("error=" + e);
            System.exit(3);
          }
        }
      }
      """;

  private final Path dir;
  private final Path home;
  private final Path noNames;

  private RecipeClients(Path dir) throws IOException {
    this.dir = dir;
    this.home = Files.createDirectories(dir.resolve("home"));
    // Client JVMs get an empty hosts file: they cannot resolve any name themselves, so a request that reaches the
    // origin went through the proxy, and nothing ever asks real DNS.
    this.noNames = Files.writeString(dir.resolve("no-names.hosts"), "# no names\n");
  }

  /** Writes the programs into {@code dir} and builds the Go and Java ones. */
  static RecipeClients prepare(Path dir) throws IOException {
    RecipeClients clients = new RecipeClients(dir);
    Files.writeString(dir.resolve("fetch.py"), PYTHON_FETCH);
    Files.writeString(dir.resolve("fetch.js"), NODE_FETCH);
    Path go = Files.createDirectories(dir.resolve("go"));
    Files.writeString(go.resolve("fetch.go"), GO_FETCH);
    ProcessResult build = Processes.run(List.of("go", "build", "-o", dir.resolve("fetch-go").toString(), "fetch.go"),
        clients.goEnvironment(), go, Duration.ofSeconds(240));
    assertThat(build.exitCode()).as("go build\n%s", build).isZero();
    Path java = Files.createDirectories(dir.resolve("java"));
    Path source = Files.writeString(java.resolve("Fetch.java"), JAVA_FETCH);
    int compiled = ToolProvider.getSystemJavaCompiler().run(null, null, null, "-d", java.toString(),
        source.toString());
    assertThat(compiled).as("javac Fetch.java").isZero();
    return clients;
  }

  /** The private HOME every client runs with (no user configuration can leak in). */
  Path home() {
    return home;
  }

  /** An empty hosts file for client JVMs ({@code -Djdk.net.hosts.file}). */
  Path noNames() {
    return noNames;
  }

  /**
   * Runs {@code command} in {@code /bin/sh} after {@code eval} of {@code printedEnv} and then {@code prelude} (sh
   * code, e.g. {@code unset ALL_PROXY}; may be empty), with {@code environment} set beforehand (as a user's shell
   * would have it).
   */
  ProcessResult run(String printedEnv, Map<String, String> environment, String prelude, List<String> command) {
    List<String> all = new ArrayList<>(List.of("/bin/sh", "-c",
        "eval \"$1\" || exit 99\nshift\n" + prelude + "\nexec \"$@\"", "sh", printedEnv));
    all.addAll(command);
    Map<String, String> env = new LinkedHashMap<>(Map.of("HOME", home.toString(), "NODE_PATH", NODE_MODULES));
    env.putAll(environment);
    return Processes.run(all, env, dir, Duration.ofSeconds(120));
  }

  /** {@code curl -q -sS ... URL} printing the status line after the body. */
  static List<String> curl(String... args) {
    List<String> command = new ArrayList<>(List.of("curl", "-q", "-sS", "--max-time", "20", "-w",
        "\\nstatus=%{http_code} x-proxy-error=%header{x-proxy-error}\\n"));
    command.addAll(List.of(args));
    return command;
  }

  /** {@code python3 fetch.py requests|httpx URL}. */
  List<String> python(String library, String url) {
    return List.of(PYTHON, dir.resolve("fetch.py").toString(), library, url);
  }

  /** {@code node fetch.js plain|undici URL}. */
  List<String> node(String mode, String url) {
    return List.of("node", dir.resolve("fetch.js").toString(), mode, url);
  }

  /** The Go program (net/http's default transport: ProxyFromEnvironment). */
  List<String> go(String url) {
    return List.of(dir.resolve("fetch-go").toString(), url);
  }

  /** The Java program ({@code HttpClient.newBuilder()...build()}, default proxy selector). */
  List<String> java(String url) {
    return List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Djdk.net.hosts.file=" + noNames, "-cp", dir.resolve("java").toString(), "Fetch", url);
  }

  /** Variables for {@code go build}: a private cache, no module downloads, no toolchain switching. */
  private Map<String, String> goEnvironment() {
    return Map.of("HOME", home.toString(), "GOCACHE", dir.resolve("go-cache").toString(), "GOPATH",
        dir.resolve("go-path").toString(), "GOPROXY", "off", "GOTOOLCHAIN", "local", "GOFLAGS", "");
  }

  /**
   * What a client program printed: the status and {@code x-proxy-error} from its status line and the rest as the
   * body; status -1 when it printed no status line (it failed: see {@link #error()}).
   */
  record Reply(int status, String proxyError, String body, ProcessResult result) {
    static Reply of(ProcessResult result) {
      Matcher matcher = STATUS.matcher(result.stdout());
      if (!matcher.find()) {
        return new Reply(-1, "", result.stdout(), result);
      }
      String body = result.stdout().substring(0, matcher.start()) + result.stdout().substring(matcher.end());
      return new Reply(Integer.parseInt(matcher.group(1)), matcher.group(2), body.strip(), result);
    }

    /** The client's failure message ({@code error=...} line, or stderr). */
    String error() {
      return result.stdout() + result.stderr();
    }

    @Override
    public String toString() {
      return result.toString();
    }
  }
}
