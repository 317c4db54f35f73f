package dev.egressd.config.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class SuggestionsTest {
  private static final List<String> KEYS = NetworkTableReader.knownKeys();

  @ParameterizedTest(name = "{0} -> \"{1}\"")
  @CsvSource(delimiter = '|', value = {
      "alowed_domains     | ' (did you mean allowed_domains?)'",
      "denied_domain      | ' (did you mean denied_domains?)'",
      "Enabled            | ' (did you mean enabled?)'",
      "allow-local-binding| ' (did you mean allow_local_binding?)'",
      "proxy_uri          | ' (did you mean proxy_url?)'",
      "modes              | ' (did you mean mode?)'",
      "frobnicate         | ''",
      "allow              | ''",
  })
  void suggestsTheClosestKnownKeyWithinTwoEdits(String typo, String expected) {
    assertThat(Suggestions.didYouMean(typo, KEYS)).isEqualTo(expected);
  }
}
