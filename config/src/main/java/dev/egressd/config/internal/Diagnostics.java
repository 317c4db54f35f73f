package dev.egressd.config.internal;

import dev.egressd.config.ConfigException;
import dev.egressd.config.ConfigProblem;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import org.tomlj.TomlPosition;

/**
 * Collects the problems and warnings of one load, so that every problem is reported at once. Problems are sorted
 * by position when thrown, so the output reads top to bottom like the file.
 */
public final class Diagnostics {
  private final String file;
  private final List<ConfigProblem> problems = new ArrayList<>();
  private final List<String> warnings = new ArrayList<>();

  /** Diagnostics for {@code file}, the name used in every message. */
  public Diagnostics(String file) {
    this.file = Objects.requireNonNull(file, "file");
  }

  /** The file name as the user gave it. */
  public String file() {
    return file;
  }

  /** Records a problem; {@code position} and {@code key} may be null. */
  public void error(TomlPosition position, String key, String message) {
    problems.add(problem(position, key, message));
  }

  /** Records a warning, formatted like a problem. */
  public void warn(TomlPosition position, String key, String message) {
    warnings.add(problem(position, key, message).toString());
  }

  /** Records a warning produced elsewhere, prefixed with a location when there is one. */
  public void warn(Located<?> where, String message) {
    warn(where == null ? null : where.position(), where == null ? null : where.key(), message);
  }

  /** True once any problem was recorded. */
  public boolean hasErrors() {
    return !problems.isEmpty();
  }

  /** The warnings so far. */
  public List<String> warnings() {
    return List.copyOf(warnings);
  }

  /** Throws every recorded problem at once; does nothing when there is none. */
  public void throwIfAny() throws ConfigException {
    if (!problems.isEmpty()) {
      List<ConfigProblem> sorted = new ArrayList<>(problems);
      sorted.sort(Comparator.comparingInt(ConfigProblem::line).thenComparingInt(ConfigProblem::column));
      throw new ConfigException(sorted);
    }
  }

  /**
   * A rule origin for people: the file's last path segment, the line and the key path, e.g.
   * {@code config.toml:12 permissions.workspace.network.domains}.
   */
  public String origin(TomlPosition position, String keyPath) {
    String name = file.substring(Math.max(file.lastIndexOf('/'), file.lastIndexOf('\\')) + 1);
    return position == null ? name + " " + keyPath : name + ":" + position.line() + " " + keyPath;
  }

  private ConfigProblem problem(TomlPosition position, String key, String message) {
    return position == null
        ? new ConfigProblem(file, 0, 0, key, message)
        : new ConfigProblem(file, position.line(), position.column(), key, message);
  }
}
