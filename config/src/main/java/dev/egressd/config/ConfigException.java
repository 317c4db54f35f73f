package dev.egressd.config;

import java.util.List;
import java.util.stream.Collectors;

/**
 * A configuration that cannot be used. It carries every problem found, not just the first, so an operator can fix
 * a file in one pass; {@link #getMessage()} lists them one per line in the {@link ConfigProblem#toString()} form.
 */
public final class ConfigException extends Exception {
  private final List<ConfigProblem> problems;

  /**
   * Creates an exception for {@code problems}.
   *
   * @throws IllegalArgumentException when {@code problems} is empty: an exception without a reason helps nobody
   */
  public ConfigException(List<ConfigProblem> problems) {
    super(format(problems));
    this.problems = List.copyOf(problems);
    if (this.problems.isEmpty()) {
      throw new IllegalArgumentException("problems: [] (expected: at least one problem)");
    }
  }

  /** Every problem, in file order where the file has one. */
  public List<ConfigProblem> problems() {
    return problems;
  }

  private static String format(List<ConfigProblem> problems) {
    return problems.stream().map(ConfigProblem::toString).collect(Collectors.joining("\n"));
  }
}
