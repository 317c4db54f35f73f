package dev.egressd.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The wire names the reference uses, which clients and dashboards already parse. */
class ReasonTest {

  @ParameterizedTest(name = "{0} -> {1} / {2}")
  @CsvSource(nullValues = "null", value = {
      "ALLOW, allow, null",
      "NOT_ALLOWED, not_allowed, blocked-by-allowlist",
      "NOT_ALLOWED_LOCAL, not_allowed_local, blocked-by-allowlist",
      "DENIED, denied, blocked-by-denylist",
      "METHOD_NOT_ALLOWED, method_not_allowed, blocked-by-method-policy",
      "MITM_REQUIRED, mitm_required, blocked-by-mitm-required",
      "PROXY_DISABLED, proxy_disabled, blocked-by-policy",
      "UNIX_SOCKET_UNSUPPORTED, unix_socket_unsupported, blocked-by-policy",
      "HOST_MISMATCH, host_mismatch, blocked-by-policy",
      "OPAQUE_TUNNEL, opaque_tunnel, blocked-by-mitm-required",
      "PROXY_LOOP, proxy_loop, blocked-by-policy",
      "DECISION_FAILED, decision_failed, blocked-by-policy",
  })
  void reasonsUseTheReferenceCodesAndHeaderValues(Reason reason, String code, String proxyError) {
    assertThat(reason.code()).isEqualTo(code);
    assertThat(reason.proxyError()).isEqualTo(proxyError);
    assertThat(reason.message()).isNotBlank();
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource({
      "BASELINE_POLICY, baseline_policy",
      "MODE_GUARD, mode_guard",
      "PROXY_STATE, proxy_state",
      "DECIDER, decider",
  })
  void sourcesUseTheReferenceLabels(PolicySource source, String label) {
    assertThat(source.label()).isEqualTo(label);
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource({
      "HTTP, http",
      "HTTPS_CONNECT, https_connect",
      "HTTPS, https",
      "SOCKS5_TCP, socks5_tcp",
      "SOCKS5_UDP, socks5_udp",
  })
  void protocolsUseTheReferenceLabels(Protocol protocol, String label) {
    assertThat(protocol.label()).isEqualTo(label);
  }

  @ParameterizedTest(name = "mode \"{0}\" -> {1}")
  @CsvSource({"full, FULL", "limited, LIMITED"})
  void modesParseTheirConfigSpelling(String name, AccessMode mode) {
    assertThat(AccessMode.fromConfigName(name)).isEqualTo(mode);
    assertThat(mode.configName()).isEqualTo(name);
  }

  @ParameterizedTest(name = "mode \"{0}\" is refused")
  @CsvSource({"Full", "LIMITED", "readonly", "''"})
  void modesRefuseOtherSpellings(String name) {
    assertThatThrownBy(() -> AccessMode.fromConfigName(name))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("mode: " + name + " (expected: full or limited)");
  }
}
