package dev.egressd.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class EventLoopSizingTest {
  private static final String PROPERTY = "io.netty.eventLoopThreads";
  private final String saved = System.getProperty(PROPERTY);

  @AfterEach
  void restore() {
    if (saved == null) {
      System.clearProperty(PROPERTY);
    } else {
      System.setProperty(PROPERTY, saved);
    }
  }

  @Test
  void oneLoopPerCoreByDefault() {
    System.clearProperty(PROPERTY);
    assertThat(ProxyServer.workerThreads()).isEqualTo(Runtime.getRuntime().availableProcessors());
  }

  @Test
  void nettysPropertyStillSetsTheCount() {
    System.setProperty(PROPERTY, "3");
    assertThat(ProxyServer.workerThreads()).isEqualTo(3);
  }

  @Test
  void neverFewerThanOneLoop() {
    System.setProperty(PROPERTY, "0");
    assertThat(ProxyServer.workerThreads()).isEqualTo(1);
  }
}
