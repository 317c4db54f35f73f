package dev.egressd.daemon;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code egressd pending}, {@code approve} and {@code deny}: answer the requests a running daemon holds for a person,
 * through its admin listener's approval API, with the token from {@code $EGRESSD_HOME/admin/}.
 */
final class ApprovalCommands {
  private ApprovalCommands() {}

  /** Where the daemon is and how to authenticate; defaults come from the files the daemon wrote. */
  static class Target {
    @Option(names = "--admin-url", paramLabel = "URL",
        description = "The daemon's admin listener (default: from $EGRESSD_HOME/admin/url).")
    String adminUrl;

    @Option(names = "--token-file", paramLabel = "FILE",
        description = "The admin token (default: $EGRESSD_HOME/admin/token).")
    java.nio.file.Path tokenFile;

    /** Sends one request; prints the body; 0 for 2xx, 1 for a refusal by the daemon, 2 when it cannot be asked. */
    int send(String method, String path) {
      AdminAccess access = AdminAccess.of(System.getenv());
      String url;
      String token;
      try {
        url = adminUrl != null ? adminUrl : access.readUrl();
        token = tokenFile != null ? java.nio.file.Files.readString(tokenFile).strip() : access.readToken();
      } catch (IOException e) {
        System.err.println("egressd: no running daemon with approvals found (" + e.getMessage() + "); start it with"
            + " [network.decider] and [admin] listen (or --admin-listen), or pass --admin-url and --token-file");
        return Main.CONFIG_ERROR;
      }
      // Never through a proxy: the admin listener is on loopback, and egressd refuses to forward to it anyway.
      HttpClient client = HttpClient.newBuilder().proxy(HttpClient.Builder.NO_PROXY)
          .connectTimeout(Duration.ofSeconds(5)).build();
      HttpRequest request = HttpRequest.newBuilder(URI.create(url + path)).timeout(Duration.ofSeconds(10))
          .header("Authorization", "Bearer " + token)
          .method(method, HttpRequest.BodyPublishers.noBody()).build();
      try {
        HttpResponse<String> response = client.send(request,
            HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        int status = response.statusCode();
        (status / 100 == 2 ? System.out : System.err).print(status / 100 == 2 ? response.body()
            : "egressd: " + response.body());
        return status / 100 == 2 ? 0 : status == 401 || status >= 500 ? Main.CONFIG_ERROR : 1;
      } catch (IOException e) {
        System.err.println("egressd: cannot reach the daemon at " + url + ": " + e.getMessage());
        return Main.CONFIG_ERROR;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return Main.CONFIG_ERROR;
      }
    }
  }

  /** {@code egressd pending}. */
  @Command(name = "pending", mixinStandardHelpOptions = true,
      description = "List the requests the running daemon holds for approval (JSON: id, protocol, host, port,"
          + " method, client, connection_id, reason, age_seconds).")
  static final class Pending extends Target implements Callable<Integer> {
    @Override
    public Integer call() {
      return send("GET", "/approvals");
    }
  }

  /** The options {@code approve} and {@code deny} share. */
  abstract static class Answer extends Target implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "ID", description = "The request's id, from egressd pending.")
    long id;

    @Option(names = "--scope", paramLabel = "SCOPE", defaultValue = "once",
        description = "once (this request), host (every port of its host, now and later) or host:port.")
    String scope;

    @Option(names = "--for", paramLabel = "DURATION",
        description = "How long a host or host:port answer stands, e.g. 90s, 15m, 8h (default: the daemon's life).")
    String forDuration;

    abstract String verb();

    @Override
    public Integer call() {
      StringBuilder path = new StringBuilder("/approvals/").append(id).append('/').append(verb()).append("?scope=")
          .append(java.net.URLEncoder.encode(scope, StandardCharsets.UTF_8)).append("&by=cli");
      if (forDuration != null) {
        long seconds;
        try {
          seconds = seconds(forDuration);
        } catch (IllegalArgumentException e) {
          System.err.println("egressd: --for: " + e.getMessage());
          return Main.CONFIG_ERROR;
        }
        path.append("&for=").append(seconds);
      }
      return send("POST", path.toString());
    }

    /** {@code 90}, {@code 90s}, {@code 15m}, {@code 8h}, {@code 2d}. */
    static long seconds(String text) {
      java.util.regex.Matcher m = java.util.regex.Pattern.compile("(\\d{1,7})([smhd]?)").matcher(text.strip());
      if (!m.matches()) {
        throw new IllegalArgumentException("expected a duration such as 90s, 15m, 8h or 2d, not \"" + text + "\"");
      }
      long n = Long.parseLong(m.group(1));
      return switch (m.group(2)) {
        case "m" -> n * 60;
        case "h" -> n * 3600;
        case "d" -> n * 86400;
        default -> n;
      };
    }
  }

  /** {@code egressd approve ID}. */
  @Command(name = "approve", mixinStandardHelpOptions = true,
      description = "Let a waiting request through (and, with --scope host or host:port, the ones to come).")
  static final class Approve extends Answer {
    @Override
    String verb() {
      return "approve";
    }
  }

  /** {@code egressd deny ID}. */
  @Command(name = "deny", mixinStandardHelpOptions = true,
      description = "Refuse a waiting request at once (and, with --scope host or host:port, the ones to come).")
  static final class Deny extends Answer {
    @Override
    String verb() {
      return "deny";
    }
  }
}
