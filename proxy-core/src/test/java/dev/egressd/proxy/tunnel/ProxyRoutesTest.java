package dev.egressd.proxy.tunnel;

import static org.assertj.core.api.Assertions.assertThat;

import dev.egressd.policy.HostName;
import dev.egressd.policy.IpAddress;
import dev.egressd.policy.Protocol;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/** Which parent a connection goes through: by protocol, and NO_PROXY by name, suffix, address and block. */
class ProxyRoutesTest {
  private static final ParentProxy SECURE = new ParentProxy(
      new InetSocketAddress(InetAddress.getLoopbackAddress(), 3128), null, null, "secure");
  private static final ParentProxy PLAIN = new ParentProxy(
      new InetSocketAddress(InetAddress.getLoopbackAddress(), 3129), "u", "p", "plain");

  private static String route(ProxyRoutes routes, Protocol protocol, String host, String... addresses) {
    return routes.parentFor(protocol, HostName.parse(host), List.of(addresses).stream()
        .map(a -> IpAddress.parse(a).orElseThrow()).toList()).map(ParentProxy::label).orElse("direct");
  }

  @ParameterizedTest(name = "{0} {1} -> {2}")
  @CsvSource({
      "HTTP, a.example, plain",
      "HTTPS_CONNECT, a.example, secure",
      "HTTPS, a.example, secure",
      "SOCKS5_TCP, a.example, secure",
      "SOCKS5_UDP, a.example, direct",
      "HTTPS_CONNECT, corp.example, direct",
      "HTTPS_CONNECT, git.corp.example, direct",
      "HTTPS_CONNECT, evilcorp.example, secure",
      "HTTPS_CONNECT, internal.test, direct",
      "HTTPS_CONNECT, 10.1.2.3, direct",
      "HTTPS_CONNECT, 192.0.2.7, direct",
  })
  void noProxyByNameSuffixAndAddress(Protocol protocol, String host, String expected) {
    ProxyRoutes routes = new ProxyRoutes(SECURE, PLAIN,
        List.of(".corp.example", "*.internal.test", "10.0.0.0/8", "192.0.2.7", "not a /cidr"));
    String[] addresses = host.equals("internal.test") ? new String[] {"93.184.215.1"}
        : IpAddress.parse(host).isPresent() ? new String[] {host} : new String[] {"93.184.215.1"};
    assertThat(route(routes, protocol, host, addresses)).isEqualTo(expected);
  }

  @Test
  void aVettedAddressInANoProxyBlockGoesDirectAndStarBypassesEverything() {
    ProxyRoutes routes = new ProxyRoutes(SECURE, PLAIN, List.of("10.0.0.0/8"));
    assertThat(route(routes, Protocol.HTTP, "intranet.example", "10.9.9.9")).isEqualTo("direct");
    assertThat(route(routes, Protocol.HTTP, "intranet.example", "93.184.215.1")).isEqualTo("plain");
    ProxyRoutes all = new ProxyRoutes(SECURE, PLAIN, List.of("*"));
    assertThat(route(all, Protocol.HTTPS_CONNECT, "a.example", "93.184.215.1")).isEqualTo("direct");
    assertThat(all.blocksUdp()).isFalse();
    assertThat(routes.blocksUdp()).isTrue();
    assertThat(ProxyRoutes.DIRECT.direct()).isTrue();
    assertThat(ProxyRoutes.DIRECT.blocksUdp()).isFalse();
  }

  @Test
  void credentialsAreBasicAndNeverInTheLabel() {
    assertThat(PLAIN.authorization()).isEqualTo("Basic dTpw");
    assertThat(SECURE.authorization()).isNull();
    assertThat(PLAIN).hasToString("plain");
  }
}
