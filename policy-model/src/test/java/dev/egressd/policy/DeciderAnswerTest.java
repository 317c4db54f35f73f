package dev.egressd.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** A decider's reason text cannot forge a log line, hide text or grow without bound. */
class DeciderAnswerTest {
  @Test
  void controlAndFormatCharactersAreRemoved() {
    assertThat(DeciderAnswer.deny("bad\nhost\r\u001b[31m red\u0000").reason()).isEqualTo("badhost[31m red");
    assertThat(DeciderAnswer.deny("a\u202eb\u200dc\u2028d").reason()).isEqualTo("abcd");
    assertThat(DeciderAnswer.deny("lone \ud800 surrogate").reason()).isEqualTo("lone  surrogate");
    assertThat(DeciderAnswer.deny("  padded  ").reason()).isEqualTo("padded");
    assertThat(DeciderAnswer.allow(null).reason()).isEmpty();
  }

  @Test
  void reasonsAreCutWithoutSplittingASurrogatePair() {
    assertThat(DeciderAnswer.deny("x".repeat(500)).reason()).hasSize(DeciderAnswer.MAX_REASON_LENGTH);
    String pairs = "\ud83d\ude00".repeat(150);
    String cut = DeciderAnswer.deny("x" + pairs).reason();
    assertThat(cut).hasSize(DeciderAnswer.MAX_REASON_LENGTH - 1);
    assertThat(Character.isHighSurrogate(cut.charAt(cut.length() - 1))).isFalse();
  }

  @Test
  void cacheDurationsAreClamped() {
    assertThat(DeciderAnswer.allow("").cacheFor()).isZero();
    assertThat(DeciderAnswer.allow("").cachedFor(Duration.ofSeconds(-5)).cacheFor()).isZero();
    assertThat(DeciderAnswer.allow("").cachedFor(Duration.ofDays(30)).cacheFor()).isEqualTo(DeciderAnswer.MAX_CACHE);
    assertThat(DeciderAnswer.allow("").cachedFor(Duration.ofSeconds(60)).cacheFor()).hasSeconds(60);
  }

  @Test
  void theVerdictIsRequired() {
    assertThatThrownBy(() -> new DeciderAnswer(null, "", Duration.ZERO)).isInstanceOf(NullPointerException.class)
        .hasMessage("verdict");
  }
}
