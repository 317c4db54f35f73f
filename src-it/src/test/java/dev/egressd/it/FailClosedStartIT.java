package dev.egressd.it;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * egressd never runs open: a listener it cannot bind stops the start with a non-zero exit and a message naming the
 * address, and the child of {@code run -- CMD} never starts. (Invalid configs: {@code RunCommandIT}; unusable CAs:
 * {@code CaCommandIT}.)
 */
@Timeout(value = 90, unit = SECONDS)
class FailClosedStartIT {
  @TempDir
  Path dir;

  private ServerSocket taken;
  private Path config;

  @BeforeEach
  void setUp() throws IOException {
    taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
    config = Files.writeString(dir.resolve("egressd.toml"), "[network]\nallowed_domains = [\"allowed.test\"]\n");
  }

  @AfterEach
  void tearDown() throws IOException {
    taken.close();
  }

  private String takenAddress() {
    return "127.0.0.1:" + taken.getLocalPort();
  }

  private void assertRefusedToStart(ProcessResult result) {
    assertThat(result.exitCode()).as("%s", result).isEqualTo(2);
    assertThat(result.stderr()).as("%s", result).contains("cannot start").contains(takenAddress());
    assertThat(result.stderr()).as("no stack trace").doesNotContain("\tat ");
    assertThat(result.stdout()).as("nothing announced, no child").doesNotContain("listening on")
        .doesNotContain("child-ran");
  }

  @Test
  void httpPortInUseStopsTheStart() {
    assertRefusedToStart(Egressd.cli(dir, "run", "--config", config.toString(), "--listen", takenAddress(),
        "--socks-listen", "127.0.0.1:0", "--", "sh", "-c", "echo child-ran"));
  }

  @Test
  void socksPortInUseStopsTheStart() {
    assertRefusedToStart(Egressd.cli(dir, "run", "--config", config.toString(), "--listen", "127.0.0.1:0",
        "--socks-listen", takenAddress(), "--", "sh", "-c", "echo child-ran"));
  }

  @Test
  void adminPortInUseStopsTheStart() {
    assertRefusedToStart(Egressd.cli(dir, "run", "--config", config.toString(), "--listen", "127.0.0.1:0",
        "--socks-listen", "127.0.0.1:0", "--admin-listen", takenAddress(), "--", "sh", "-c", "echo child-ran"));
  }
}
