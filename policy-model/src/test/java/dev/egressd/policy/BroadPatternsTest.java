package dev.egressd.policy;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Which allow patterns need a written justification. */
class BroadPatternsTest {
  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "*.com                    | covers every name under .com",
      "**.io                    | covers every name under .io",
      "*.amazonaws.com          | covers every tenant of amazonaws.com",
      "**.s3.amazonaws.com      | covers every tenant of amazonaws.com",
      "*.blob.core.windows.net  | covers every tenant of windows.net",
      "*.github.io              | covers every tenant of github.io",
      "**.workers.dev:443       | covers every tenant of workers.dev"})
  void broad(String pattern, String why) {
    assertThat(BroadPatterns.why(HostPattern.parse(pattern))).isEqualTo(why);
  }

  @ParameterizedTest
  @ValueSource(strings = {"*", "example.com", "bucket.s3.amazonaws.com", "*.example.com", "**.corp.example",
      "*.localhost", "notamazonaws.com", "*.notamazonaws.com", "10.0.0.0/8", "127.0.0.1"})
  void notBroad(String pattern) {
    assertThat(BroadPatterns.why(HostPattern.parse(pattern))).isNull();
  }
}
