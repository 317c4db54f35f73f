package dev.egressd.policy;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class AddressClassifierTest {

  @ParameterizedTest(name = "{0} is {1}")
  @CsvSource(delimiter = '|', value = {
      // 0/8 "this network"
      "0.0.0.0         | UNSPECIFIED",
      "0.255.255.255   | UNSPECIFIED",
      "1.0.0.0         | PUBLIC",
      // 10/8
      "9.255.255.255   | PUBLIC",
      "10.0.0.0        | PRIVATE",
      "10.255.255.255  | PRIVATE",
      "11.0.0.0        | PUBLIC",
      // 100.64/10 carrier-grade NAT; Alibaba Cloud metadata lives at 100.100.100.200
      "100.63.255.255  | PUBLIC",
      "100.64.0.0      | SHARED",
      "100.100.100.200 | SHARED",
      "100.127.255.255 | SHARED",
      "100.128.0.0     | PUBLIC",
      // 127/8
      "126.255.255.255 | PUBLIC",
      "127.0.0.0       | LOOPBACK",
      "127.0.0.1       | LOOPBACK",
      "127.255.255.255 | LOOPBACK",
      "128.0.0.0       | PUBLIC",
      // 169.254/16, incl. the AWS/GCP/Azure metadata address
      "169.253.255.255 | PUBLIC",
      "169.254.0.0     | LINK_LOCAL",
      "169.254.169.254 | LINK_LOCAL",
      "169.254.255.255 | LINK_LOCAL",
      "169.255.0.0     | PUBLIC",
      // 172.16/12
      "172.15.255.255  | PUBLIC",
      "172.16.0.0      | PRIVATE",
      "172.31.255.255  | PRIVATE",
      "172.32.0.0      | PUBLIC",
      // 192.0.0/24 and 192.0.2/24
      "191.255.255.255 | PUBLIC",
      "192.0.0.0       | RESERVED",
      "192.0.0.255     | RESERVED",
      "192.0.1.0       | PUBLIC",
      "192.0.2.0       | DOCUMENTATION",
      "192.0.2.255     | DOCUMENTATION",
      "192.0.3.0       | PUBLIC",
      // 192.168/16
      "192.167.255.255 | PUBLIC",
      "192.168.0.0     | PRIVATE",
      "192.168.255.255 | PRIVATE",
      "192.169.0.0     | PUBLIC",
      // 198.18/15 (also what fake-IP DNS hands out)
      "198.17.255.255  | PUBLIC",
      "198.18.0.0      | BENCHMARKING",
      "198.19.255.255  | BENCHMARKING",
      "198.20.0.0      | PUBLIC",
      // 198.51.100/24
      "198.51.99.255   | PUBLIC",
      "198.51.100.0    | DOCUMENTATION",
      "198.51.100.255  | DOCUMENTATION",
      "198.51.101.0    | PUBLIC",
      // 203.0.113/24
      "203.0.112.255   | PUBLIC",
      "203.0.113.0     | DOCUMENTATION",
      "203.0.113.255   | DOCUMENTATION",
      "203.0.114.0     | PUBLIC",
      // 224/4, 240/4, broadcast
      "223.255.255.255 | PUBLIC",
      "224.0.0.0       | MULTICAST",
      "239.255.255.255 | MULTICAST",
      "240.0.0.0       | RESERVED",
      "255.255.255.254 | RESERVED",
      "255.255.255.255 | BROADCAST",
      // public; Azure's WireServer sits in public space but reaches the host's fabric, so it is closed like metadata
      "8.8.8.8         | PUBLIC",
      "1.1.1.1         | PUBLIC",
      "168.63.129.15   | PUBLIC",
      "168.63.129.16   | CLOUD_METADATA",
      "168.63.129.17   | PUBLIC",
  })
  void classifiesIpv4RangesAtTheirEdges(String address, AddressClass expected) {
    assertClass(address, expected);
  }

  @ParameterizedTest(name = "{0} is {1}")
  @CsvSource(delimiter = '|', value = {
      "::                                      | UNSPECIFIED",
      "::1                                     | LOOPBACK",
      "2606:4700::1111                         | PUBLIC",
      "2001:4860:4860::8888                    | PUBLIC",
      // fc00::/7, incl. the AWS IMDS IPv6 address
      "fc00::                                  | UNIQUE_LOCAL",
      "fd00:ec2::254                           | UNIQUE_LOCAL",
      "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff | UNIQUE_LOCAL",
      // fe80::/10 then fec0::/10
      "fe80::                                  | LINK_LOCAL",
      "fe80::1                                 | LINK_LOCAL",
      "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff | LINK_LOCAL",
      "fec0::                                  | SITE_LOCAL",
      "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff | SITE_LOCAL",
      // ff00::/8
      "ff00::                                  | MULTICAST",
      "ff02::1                                 | MULTICAST",
      "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff | MULTICAST",
      // other special-purpose blocks
      "2001:db8::1                             | DOCUMENTATION",
      "2001:2::1                               | BENCHMARKING",
      "2001:3::1                               | PUBLIC",
      "100::1                                  | RESERVED",
  })
  void classifiesIpv6Ranges(String address, AddressClass expected) {
    assertClass(address, expected);
  }

  @ParameterizedTest(name = "{0} ({2}) is {1}")
  @CsvSource(delimiter = '|', value = {
      "::ffff:127.0.0.1                     | LOOPBACK      | mapped loopback",
      "::ffff:10.0.0.1                      | PRIVATE       | mapped private",
      "::ffff:169.254.169.254               | LINK_LOCAL    | mapped metadata",
      "::ffff:0.0.0.0                       | UNSPECIFIED   | mapped unspecified",
      "::ffff:8.8.8.8                       | PUBLIC        | mapped public",
      "::127.0.0.1                          | LOOPBACK      | compatible loopback",
      "::10.0.0.1                           | PRIVATE       | compatible private",
      "::8.8.8.8                            | PUBLIC        | compatible public",
      "64:ff9b::7f00:1                      | LOOPBACK      | NAT64 loopback",
      "64:ff9b::a00:1                       | PRIVATE       | NAT64 private",
      "64:ff9b::a9fe:a9fe                   | LINK_LOCAL    | NAT64 metadata",
      "64:ff9b::808:808                     | PUBLIC        | NAT64 public",
      "64:ff9b:1::a00:1                     | RESERVED      | local-use NAT64 private",
      "64:ff9b:1::808:808                   | RESERVED      | local-use NAT64 is never global",
      "2002:a00:1::                         | PRIVATE       | 6to4 private",
      "2002:7f00:1::1                       | LOOPBACK      | 6to4 loopback",
      "2002:a9fe:a9fe::                     | LINK_LOCAL    | 6to4 metadata",
      "2002:808:808::1                      | PUBLIC        | 6to4 public",
      "2001:0:4136:e378:8000:63bf:3fff:fdd2 | DOCUMENTATION | Teredo RFC 4380 example, client 192.0.2.45",
      "2001:0:4136:e378:8000:63bf:f5ff:fffe | PRIVATE       | Teredo client 10.0.0.1",
      "2001:0:4136:e378:8000:63bf:80ff:fffe | LOOPBACK      | Teredo client 127.0.0.1",
      "2001:0:4136:e378::f7f7:f7f7          | PUBLIC        | Teredo client 8.8.8.8",
      "2001:0:a00:1::f7f7:f7f7              | PRIVATE       | Teredo server 10.0.0.1",
  })
  void judgesIpv6FormsByTheIpv4AddressTheyEmbed(String address, AddressClass expected, String description) {
    assertClass(address, expected);
  }

  @ParameterizedTest(name = "{0} embeds {1}")
  @CsvSource(delimiter = '|', value = {
      "::ffff:10.0.0.1                      | 10.0.0.1",
      "::10.0.0.1                           | 10.0.0.1",
      "64:ff9b::a00:1                       | 10.0.0.1",
      "2002:a00:1::                         | 10.0.0.1",
      "2001:0:4136:e378:8000:63bf:f5ff:fffe | 10.0.0.1",
      "2001:0:4136:e378::f7f7:f7f7          | 8.8.8.8",
  })
  void findsTheEmbeddedIpv4Address(String address, String embedded) {
    assertThat(AddressClassifier.embeddedIpv4(ip(address))).contains(ip(embedded));
  }

  @ParameterizedTest(name = "{0} embeds nothing")
  @CsvSource({"::", "::1", "2606:4700::1111", "fd00::1", "10.0.0.1", "64:ff9b:1::a00:1"})
  void findsNoEmbeddedAddressInPlainAddresses(String address) {
    assertThat(AddressClassifier.embeddedIpv4(ip(address))).isEmpty();
  }

  private static void assertClass(String address, AddressClass expected) {
    IpAddress ip = ip(address);

    assertThat(AddressClassifier.classify(ip)).isEqualTo(expected);
    assertThat(AddressClassifier.isPublic(ip)).isEqualTo(expected == AddressClass.PUBLIC);
  }

  private static IpAddress ip(String text) {
    return IpAddress.parse(text).orElseThrow();
  }
}
