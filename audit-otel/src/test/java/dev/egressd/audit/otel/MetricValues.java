package dev.egressd.audit.otel;

import static org.assertj.core.api.Assertions.assertThat;

import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.sdk.metrics.data.HistogramPointData;
import io.opentelemetry.sdk.metrics.data.LongPointData;
import io.opentelemetry.sdk.metrics.data.MetricData;
import io.opentelemetry.sdk.metrics.data.MetricDataType;
import io.opentelemetry.sdk.testing.exporter.InMemoryMetricReader;
import java.util.Collection;
import java.util.Map;
import java.util.stream.Collectors;

/** Reads one collection of an {@link InMemoryMetricReader} by metric name and exact attribute set. */
final class MetricValues {
  private final Collection<MetricData> metrics;

  private MetricValues(Collection<MetricData> metrics) {
    this.metrics = metrics;
  }

  static MetricValues collect(InMemoryMetricReader reader) {
    return new MetricValues(reader.collectAllMetrics());
  }

  MetricData metric(String name) {
    return metrics.stream().filter(m -> m.getName().equals(name)).findFirst()
        .orElseThrow(() -> new AssertionError("no metric " + name + " in " + names()));
  }

  boolean has(String name) {
    return metrics.stream().anyMatch(m -> m.getName().equals(name));
  }

  /** Every point of a long sum (counter or up-down counter), by attributes. */
  Map<Attributes, Long> longSums(String name) {
    MetricData metric = metric(name);
    assertThat(metric.getType()).as(name).isEqualTo(MetricDataType.LONG_SUM);
    return metric.getLongSumData().getPoints().stream()
        .collect(Collectors.toMap(LongPointData::getAttributes, LongPointData::getValue));
  }

  Map<Attributes, HistogramPointData> histograms(String name) {
    MetricData metric = metric(name);
    assertThat(metric.getType()).as(name).isEqualTo(MetricDataType.HISTOGRAM);
    return metric.getHistogramData().getPoints().stream()
        .collect(Collectors.toMap(HistogramPointData::getAttributes, p -> p));
  }

  private String names() {
    return metrics.stream().map(MetricData::getName).sorted().toList().toString();
  }
}
