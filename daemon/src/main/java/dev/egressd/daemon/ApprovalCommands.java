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

    /** A failure to reach the daemon, already worded for the user. */
    static final class Unreachable extends Exception {
      private static final long serialVersionUID = 1L;

      Unreachable(String message) {
        super(message);
      }
    }

    /** One request to the approval API. */
    HttpResponse<String> exchange(String method, String path) throws Unreachable {
      AdminAccess access = AdminAccess.of(System.getenv());
      String url;
      String token;
      try {
        url = adminUrl != null ? adminUrl : access.readUrl();
        token = tokenFile != null ? java.nio.file.Files.readString(tokenFile).strip() : access.readToken();
      } catch (IOException e) {
        throw new Unreachable("no running daemon with approvals found (" + e.getMessage() + "); start it with"
            + " [network.decider] and [admin] listen (or --admin-listen), or pass --admin-url and --token-file");
      }
      // Never through a proxy: the admin listener is on loopback, and egressd refuses to forward to it anyway.
      HttpClient client = HttpClient.newBuilder().proxy(HttpClient.Builder.NO_PROXY)
          .connectTimeout(Duration.ofSeconds(5)).build();
      HttpRequest request = HttpRequest.newBuilder(URI.create(url + path)).timeout(Duration.ofSeconds(10))
          .header("Authorization", "Bearer " + token)
          .method(method, HttpRequest.BodyPublishers.noBody()).build();
      try {
        return client.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
      } catch (IOException e) {
        throw new Unreachable("cannot reach the daemon at " + url + ": " + e.getMessage());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new Unreachable("interrupted");
      }
    }

    /** Sends one request; prints the body; 0 for 2xx, 1 for a refusal by the daemon, 2 when it cannot be asked. */
    int send(String method, String path) {
      HttpResponse<String> response;
      try {
        response = exchange(method, path);
      } catch (Unreachable e) {
        System.err.println("egressd: " + e.getMessage());
        return Main.CONFIG_ERROR;
      }
      int status = response.statusCode();
      if (status / 100 == 2) {
        System.out.print(response.body());
        return 0;
      }
      System.err.print("egressd: " + response.body());
      return status == 401 || status >= 500 ? Main.CONFIG_ERROR : 1;
    }
  }

  /**
   * {@code egressd watch}: shows each request as it starts waiting and asks at the terminal, for a person running an
   * agent in another pane. Ends at end of input (Ctrl-D) or Ctrl-C.
   */
  @Command(name = "watch", mixinStandardHelpOptions = true,
      description = {"Show requests as they start waiting for approval and answer them at the terminal:",
          "  y  allow this request    n  deny this request",
          "  a  always: allow its host from now on    v  never: deny its host from now on",
          "  s  skip (leave it waiting)"})
  static final class Watch extends Target implements Callable<Integer> {
    @Option(names = "--interval", paramLabel = "MS", defaultValue = "500",
        description = "How often to look for new requests, in milliseconds (default 500).")
    long intervalMillis;

    @Override
    public Integer call() throws Exception {
      java.io.BufferedReader terminal = new java.io.BufferedReader(
          new java.io.InputStreamReader(System.in, StandardCharsets.UTF_8));
      java.io.PrintStream out = System.out;
      java.util.Set<Long> seen = new java.util.HashSet<>();
      out.println("egressd watch: waiting for requests to approve (Ctrl-D to stop)");
      out.flush();
      while (true) {
        HttpResponse<String> listed;
        try {
          listed = exchange("GET", "/approvals");
        } catch (Unreachable e) {
          System.err.println("egressd: " + e.getMessage());
          return Main.CONFIG_ERROR;
        }
        if (listed.statusCode() != 200) {
          System.err.print("egressd: " + listed.body());
          return Main.CONFIG_ERROR;
        }
        for (java.util.Map<String, Object> entry : PendingList.parse(listed.body())) {
          long id = ((Number) entry.get("id")).longValue();
          if (!seen.add(id)) {
            continue;
          }
          out.println("#" + id + " " + entry.get("protocol") + " " + entry.get("host") + ":" + entry.get("port")
              + (entry.get("method") == null ? "" : " " + entry.get("method")) + " from " + entry.get("client")
              + (entry.get("execution_id") == null ? "" : " (execution " + entry.get("execution_id") + ")")
              + (String.valueOf(entry.get("reason")).isEmpty() ? "" : " (" + entry.get("reason") + ")"));
          String action = null;
          while (action == null) {
            out.print("allow? [y]es, [n]o, [a]lways for this host, ne[v]er for this host, [s]kip: ");
            out.flush();
            String line = terminal.readLine();
            if (line == null) {
              out.println();
              return 0;
            }
            action = switch (line.strip().toLowerCase(java.util.Locale.ROOT)) {
              case "y", "yes" -> "approve?scope=once";
              case "n", "no" -> "deny?scope=once";
              case "a", "always" -> "approve?scope=host";
              case "v", "never" -> "deny?scope=host";
              case "s", "skip" -> "";
              default -> null;
            };
          }
          if (action.isEmpty()) {
            continue;
          }
          try {
            HttpResponse<String> answered = exchange("POST", "/approvals/" + id + "/" + action + "&by=watch");
            out.print(answered.body());
          } catch (Unreachable e) {
            System.err.println("egressd: " + e.getMessage());
            return Main.CONFIG_ERROR;
          }
          out.flush();
        }
        Thread.sleep(Math.max(50, intervalMillis));
      }
    }
  }

  /** Reads the JSON array {@code GET /approvals} answers (flat objects of strings, numbers and nulls). */
  static final class PendingList {
    private static final com.fasterxml.jackson.core.JsonFactory JSON = new com.fasterxml.jackson.core.JsonFactory();

    private PendingList() {}

    static java.util.List<java.util.Map<String, Object>> parse(String body) throws IOException {
      java.util.List<java.util.Map<String, Object>> entries = new java.util.ArrayList<>();
      try (com.fasterxml.jackson.core.JsonParser json = JSON.createParser(body)) {
        if (json.nextToken() != com.fasterxml.jackson.core.JsonToken.START_ARRAY) {
          throw new IOException("the daemon's list of waiting requests is not a JSON array");
        }
        while (json.nextToken() == com.fasterxml.jackson.core.JsonToken.START_OBJECT) {
          java.util.Map<String, Object> entry = new java.util.LinkedHashMap<>();
          while (json.nextToken() == com.fasterxml.jackson.core.JsonToken.FIELD_NAME) {
            String name = json.currentName();
            com.fasterxml.jackson.core.JsonToken value = json.nextToken();
            entry.put(name, value.isNumeric() ? json.getNumberValue()
                : value == com.fasterxml.jackson.core.JsonToken.VALUE_NULL ? null : json.getText());
          }
          entries.add(entry);
        }
      }
      return entries;
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
