package dev.egressd.embed;

import dev.egressd.audit.ProxyMetrics;
import dev.egressd.config.DeciderSettings;
import dev.egressd.policy.PolicyDecider;
import dev.egressd.proxy.decider.DeciderStep;
import dev.egressd.proxy.decider.SharedDecider;
import dev.egressd.proxy.decider.WebhookDecider;
import dev.egressd.proxy.tunnel.DecisionStep;
import java.time.Duration;

/**
 * Builds the decision step from {@code [network.decider]} (the webhook, shared per destination, with its timeout)
 * and the approvals, if a person can answer asks.
 */
public final class Deciders {
  /**
   * The decision step and what to close when the proxy stops.
   *
   * @param step what {@code ProxyOptions.decisions} takes
   * @param webhook the webhook's connection machinery, or null when there is no webhook decider
   */
  public record Assembled(DecisionStep step, WebhookDecider webhook) implements AutoCloseable {
    @Override
    public void close() {
      if (webhook != null) {
        webhook.close();
      }
    }
  }

  private Deciders() {}

  /** {@link DecisionStep#ENGINE} when {@code settings} is null; every ask refuses at once. */
  public static Assembled assemble(DeciderSettings settings, ProxyMetrics metrics) {
    return assemble(settings, metrics, null);
  }

  /**
   * The step for a decider given in code: shared per destination and cached as the webhook is, fail closed after
   * {@code timeout}.
   *
   * @param asking how asks wait, or null to refuse them at once
   */
  public static Assembled assemble(PolicyDecider decider, Duration timeout, ProxyMetrics metrics,
      DeciderStep.Asking asking) {
    return new Assembled(new DeciderStep(new SharedDecider(decider), timeout, metrics, asking), null);
  }

  /**
   * As {@link #assemble(DeciderSettings, ProxyMetrics)}, with asks waiting for a person.
   *
   * @param asking how asks wait, or null to refuse them at once
   */
  public static Assembled assemble(DeciderSettings settings, ProxyMetrics metrics, DeciderStep.Asking asking) {
    if (settings == null) {
      // Without a decider the policy's own asks still wait for a person, when one can answer.
      return new Assembled(asking == null ? DecisionStep.ENGINE
          : new DeciderStep(null, DeciderSettings.DEFAULT_TIMEOUT, metrics, asking), null);
    }
    WebhookDecider webhook = settings.url() != null
        ? WebhookDecider.http(settings.url(), settings.token(), settings.timeout())
        : WebhookDecider.unixSocket(settings.unixSocket(), settings.path(), settings.token(), settings.timeout());
    return new Assembled(new DeciderStep(new SharedDecider(webhook), settings.timeout(), metrics, asking), webhook);
  }
}
