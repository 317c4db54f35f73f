package dev.egressd.proxy.mitm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.handler.ssl.OpenSsl;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;

class TlsImplementationTest {
  @AfterEach
  void clearProperty() {
    System.clearProperty(TlsImplementation.PROPERTY);
  }

  @Test
  @EnabledOnOs(value = OS.LINUX, architectures = "amd64")
  void boringSslLoadsOnTheShippedPlatform() {
    // The build ships netty-tcnative for Linux x86-64 only; elsewhere interception falls back to the JDK.
    assertThat(OpenSsl.unavailabilityCause()).isNull();
    assertThat(OpenSsl.isAvailable()).isTrue();
  }

  @Test
  void byDefaultBoringSslIsPreferred() throws CaException {
    assertThat(TlsImplementation.select()).isEqualTo(OpenSsl.isAvailable()
        ? TlsImplementation.OPENSSL : TlsImplementation.JDK);
  }

  @Test
  void thePropertyForcesTheJdk() throws CaException {
    System.setProperty(TlsImplementation.PROPERTY, " JDK ");
    TlsImplementation selected = TlsImplementation.select();
    assertThat(selected).isEqualTo(TlsImplementation.JDK);
    assertThat(selected.note()).isNotEmpty();
  }

  @Test
  void thePropertyCanAskForBoringSsl() throws CaException {
    System.setProperty(TlsImplementation.PROPERTY, "openssl");
    if (OpenSsl.isAvailable()) {
      assertThat(TlsImplementation.select()).isEqualTo(TlsImplementation.OPENSSL);
      assertThat(TlsImplementation.OPENSSL.note()).isEmpty();
    } else {
      assertThatThrownBy(TlsImplementation::select).isInstanceOf(CaException.class)
          .hasMessageContaining("cannot be loaded");
    }
  }

  @Test
  void anUnknownValueIsAnError() {
    System.setProperty(TlsImplementation.PROPERTY, "gnutls");
    assertThatThrownBy(TlsImplementation::select).isInstanceOf(CaException.class)
        .hasMessage("-Degressd.mitm.tls=gnutls: expected openssl or jdk");
  }
}
