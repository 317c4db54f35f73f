package dev.egressd.audit.otel;

import dev.egressd.audit.JsonText;
import java.io.IOException;
import java.io.Writer;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** One JSON object per decision and line, with the same attributes as the OTel event; for CI without a collector. */
final class JsonLinesWriter implements DecisionWriter {
  private static final Logger log = LoggerFactory.getLogger(JsonLinesWriter.class);

  private final Writer out;
  private final String name;
  private final boolean closeOut;
  private boolean failed;

  /**
   * @param name where it goes, for the one warning when writing fails
   * @param closeOut false for standard output, which outlives the pipeline
   */
  JsonLinesWriter(Writer out, String name, boolean closeOut) {
    this.out = out;
    this.name = name;
    this.closeOut = closeOut;
  }

  /** One line, without the newline. */
  static String line(Map<String, Object> attributes) {
    StringBuilder sb = new StringBuilder(512).append('{');
    for (Map.Entry<String, Object> e : attributes.entrySet()) {
      if (sb.length() > 1) {
        sb.append(',');
      }
      sb.append(JsonText.quote(e.getKey())).append(':');
      Object value = e.getValue();
      sb.append(value instanceof String s ? JsonText.quote(s) : String.valueOf(value));
    }
    return sb.append('}').toString();
  }

  @Override
  public void write(Map<String, Object> attributes) {
    try {
      out.write(line(attributes));
      out.write('\n');
    } catch (IOException e) {
      failedOnce(e);
    }
  }

  @Override
  public void flush() {
    try {
      out.flush();
    } catch (IOException e) {
      failedOnce(e);
    }
  }

  @Override
  public void close() {
    flush();
    if (closeOut) {
      try {
        out.close();
      } catch (IOException e) {
        failedOnce(e);
      }
    }
  }

  private void failedOnce(IOException e) {
    if (!failed) {
      failed = true;
      log.warn("cannot write the audit file {}: {}", name, e.toString());
    }
  }
}
