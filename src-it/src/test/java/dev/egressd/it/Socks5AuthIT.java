package dev.egressd.it;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import dev.egressd.it.Socks5Client.Status;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * RFC 1929 username/password, required when the config sets {@code socks_username} and {@code socks_password_env}
 * (the password comes from that variable in the daemon's environment, never from the file).
 */
@Timeout(value = 90, unit = SECONDS)
class Socks5AuthIT {
  private static final String PASSWORD_VARIABLE = "EGRESSD_IT_SOCKS_PASSWORD";
  private static final String USERNAME = "agent";
  private static final String PASSWORD = "pw-4c1d-socks";
  private static final String CONFIG = """
      [network]
      allowed_domains = ["allowed.test", "127.0.0.1"]
      socks_username = "agent"
      socks_password_env = "EGRESSD_IT_SOCKS_PASSWORD"
      """;
  private static final Duration CLOSE = Duration.ofSeconds(10);

  @RegisterExtension
  static final OriginServer origin = OriginServer.http();

  @RegisterExtension
  static final Daemon egressd = Daemon.withConfig(CONFIG).withEnvironment(PASSWORD_VARIABLE, PASSWORD);

  @TempDir
  Path temp;

  @Test
  void rightCredentialsOpenATunnel() throws Exception {
    try (Socks5Client client = Socks5Client.connect(egressd.socksPort())) {
      assertThat(client.greet(Socks5Client.NO_AUTHENTICATION, Socks5Client.USERNAME_PASSWORD))
          .as("username/password is required even when the client also offers no authentication")
          .isEqualTo(Socks5Client.USERNAME_PASSWORD);
      assertThat(client.authenticate(USERNAME, PASSWORD)).as("RFC 1929 success").isZero();

      Socks5Client.Reply reply = client.request(Socks5Client.CONNECT,
          Socks5Address.domain("allowed.test", origin.port()));
      assertThat(reply.status()).as("%s", reply).isEqualTo(Status.SUCCEEDED);
      assertThat(client.httpGet(origin.authority("allowed.test"), "/authenticated"))
          .endsWith("origin saw GET /authenticated body=0\n");
    }
  }

  @ParameterizedTest(name = "{0} / {1}")
  @CsvSource({
      "agent, wrong-password",
      "someone-else, pw-4c1d-socks",
      "Agent, pw-4c1d-socks",
      "agent, pw-4c1d-sock",
      "agent, pw-4c1d-socks-and-more",
  })
  void wrongCredentialsGetAFailureStatusAndAreClosed(String username, String password) throws Exception {
    try (Socks5Client client = Socks5Client.connect(egressd.socksPort())) {
      assertThat(client.greet(Socks5Client.USERNAME_PASSWORD)).isEqualTo(Socks5Client.USERNAME_PASSWORD);

      assertThat(client.authenticate(username, password)).as("RFC 1929 failure").isNotZero();
      assertThat(client.readUntilClosed(CLOSE)).isEmpty();
    }
    egressd.awaitStderr("SOCKS5 authentication failed");
    assertThat(origin.connectionCount()).isZero();
  }

  @Test
  void clientOfferingOnlyNoAuthenticationGetsNoAcceptableMethods() throws Exception {
    try (Socks5Client client = Socks5Client.connect(egressd.socksPort())) {
      assertThat(client.greet(Socks5Client.NO_AUTHENTICATION)).isEqualTo(Socks5Client.NO_ACCEPTABLE_METHODS);
      assertThat(client.readUntilClosed(CLOSE)).isEmpty();
    }
    assertThat(origin.connectionCount()).isZero();
  }

  @Test
  void commandWithoutAuthenticatingIsNotCarriedOut() throws Exception {
    // A client that ignores the method selection and sends its CONNECT straight away.
    try (Socks5Client client = Socks5Client.connect(egressd.socksPort())) {
      client.send(Socks5Client.greeting(Socks5Client.USERNAME_PASSWORD));
      client.send(Socks5Client.request(Socks5Client.CONNECT,
          Socks5Address.domain("allowed.test", origin.port()).encode()));

      assertThat(client.readMethodSelection()).isEqualTo(Socks5Client.USERNAME_PASSWORD);
      byte[] rest = client.readUntilClosed(CLOSE);
      if (rest.length > 0) { // the CONNECT was read as a (malformed) RFC 1929 request: it may only fail
        assertThat(rest).as("an RFC 1929 failure, nothing else").hasSize(2).startsWith((byte) 0x01);
        assertThat(rest[1]).isNotZero();
      }
    }
    assertThat(origin.connectionCount()).isZero();
  }

  @Test
  void curlWithTheRightCredentialsReachesTheOrigin() throws Exception {
    Curl.Result curl = Curl.fetch("-x", "socks5h://" + USERNAME + ":" + PASSWORD + "@127.0.0.1:"
        + egressd.socksPort(), origin.url("allowed.test", "/curl"));

    assertThat(curl.exitCode()).as("%s", curl).isZero();
    assertThat(curl.reply().text()).isEqualTo("origin saw GET /curl body=0\n");
    egressd.awaitStderr("decision=allow", "protocol=socks5_tcp", "host=allowed.test");
  }

  @Test
  void curlWithoutCredentialsIsRefused() throws Exception {
    Curl.Result curl = Curl.fetch("--socks5-hostname", "127.0.0.1:" + egressd.socksPort(),
        origin.url("allowed.test", "/"));

    assertThat(curl.exitCode()).as("CURLE_PROXY\n%s", curl).isEqualTo(97);
    assertThat(origin.connectionCount()).isZero();
  }

  @Test
  void curlWithAWrongPasswordIsRefused() throws Exception {
    Curl.Result curl = Curl.fetch("-x", "socks5h://" + USERNAME + ":nope@127.0.0.1:" + egressd.socksPort(),
        origin.url("allowed.test", "/"));

    assertThat(curl.exitCode()).as("CURLE_PROXY\n%s", curl).isEqualTo(97);
    assertThat(origin.connectionCount()).isZero();
  }

  @Test
  void unsetPasswordVariableRefusesToStartNamingTheVariable() throws Exception {
    Path file = Files.writeString(temp.resolve("unset-password.toml"), CONFIG.replace(PASSWORD_VARIABLE,
        "EGRESSD_IT_UNSET_PASSWORD"));

    ProcessResult result = Egressd.cli(temp, "run", "--config", file.toString(), "--listen", "127.0.0.1:0",
        "--socks-listen", "127.0.0.1:0");

    assertThat(result.exitCode()).as("%s", result).isEqualTo(2);
    assertThat(result.stderr()).contains("unset-password.toml:4", "EGRESSD_IT_UNSET_PASSWORD");
  }

  @Test
  void usernameWithoutAPasswordVariableRefusesToStart() throws Exception {
    Path file = Files.writeString(temp.resolve("half-credentials.toml"), """
        [network]
        allowed_domains = ["allowed.test"]
        socks_username = "agent"
        """);

    ProcessResult result = Egressd.cli(temp, "run", "--config", file.toString(), "--listen", "127.0.0.1:0",
        "--socks-listen", "127.0.0.1:0");

    assertThat(result.exitCode()).as("%s", result).isEqualTo(2);
    assertThat(result.stderr()).contains("half-credentials.toml:3", "socks_password_env");
  }

  @Test
  void passwordIsNeverLogged() throws Exception {
    for (String password : new String[] {PASSWORD, PASSWORD + "-wrong"}) {
      try (Socks5Client client = Socks5Client.connect(egressd.socksPort())) {
        client.greet(Socks5Client.USERNAME_PASSWORD);
        client.authenticate(USERNAME, password);
      }
    }
    egressd.awaitStderr("SOCKS5 authentication failed");

    assertThat(egressd.stdout()).doesNotContain(PASSWORD);
    assertThat(egressd.stderr()).doesNotContain(PASSWORD);
  }
}
