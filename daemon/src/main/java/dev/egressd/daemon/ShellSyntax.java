package dev.egressd.daemon;

import dev.egressd.daemon.ClientEnvironment.Reference;
import dev.egressd.daemon.ClientEnvironment.Segment;
import dev.egressd.daemon.ClientEnvironment.Text;
import dev.egressd.daemon.ClientEnvironment.Variable;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import java.util.regex.Pattern;

/**
 * How {@code egressd env} writes {@link Variable}s: one line per variable. {@link Text} is quoted so that the shell
 * sees exactly those characters (no expansion, globbing, word splitting or command substitution, whatever the text
 * contains); a {@link Reference} is the one thing expanded, on purpose, when the line is evaluated. Variable names
 * are plain identifiers ({@link Variable} checks), so they are written as they are.
 */
enum ShellSyntax {
  /**
   * POSIX sh (bash, zsh, dash, ksh): {@code export NAME=value}, text bare when it has only
   * {@code [A-Za-z0-9_@%+=:,./-]} and otherwise in single quotes, each {@code '} written {@code '\''}; a reference
   * is {@code "${VAR}"}. An appending variable keeps a non-empty current value:
   * {@code export NAME="${NAME:+$NAME }"'value'}.
   */
  SH {
    @Override
    String line(Variable variable) {
      String name = variable.name();
      String current = variable.appends() ? "\"${" + name + ":+$" + name + " }\"" : "";
      return "export " + name + "=" + current + join(variable, "", ShellSyntax::shWord, r -> "\"${" + r + "}\"");
    }
  },

  /**
   * fish: {@code set -gx NAME 'value'}; inside single quotes {@code \} is written {@code \\} and {@code '} is
   * written {@code \'}; a reference is {@code "$VAR"} (empty when unset). An appending variable is joined with its
   * current elements by {@code string join}: {@code set -gx NAME (string join -- ' ' $NAME 'value')}.
   */
  FISH {
    @Override
    String line(Variable variable) {
      String value = join(variable, "", text -> "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'",
          r -> "\"$" + r + "\"");
      String name = variable.name();
      return "set -gx " + name + " " + (variable.appends() ? "(string join -- ' ' $" + name + " " + value + ")"
          : value);
    }
  },

  /**
   * PowerShell: {@code $env:NAME = 'value'}; inside single quotes every single-quote character is doubled,
   * including the typographic ones PowerShell also accepts as quotes (U+2018, U+2019, U+201A, U+201B); a reference
   * is {@code $env:VAR}, joined with {@code +}. An appending variable:
   * {@code $env:NAME = ("$env:NAME " + 'value').TrimStart()}. Assigning {@code ''} removes a variable in
   * PowerShell, which for {@code NO_PROXY} means the same: no exceptions.
   */
  POWERSHELL {
    @Override
    String line(Variable variable) {
      String value = join(variable, " + ", text -> "'" + POWERSHELL_QUOTES.matcher(text).replaceAll("$0$0") + "'",
          r -> "$env:" + r);
      if (startsWithReference(variable)) {
        value = "'' + " + value; // string concatenation even when the variable is unset ($null)
      }
      String name = variable.name();
      return "$env:" + name + " = " + (variable.appends() ? "(\"$env:" + name + " \" + " + value + ").TrimStart()"
          : value);
    }
  },

  /**
   * An env file ({@code NAME=value}) as Docker Compose's {@code env_file} and python-dotenv read it: text bare
   * when it has only {@code [A-Za-z0-9_@%+=:,./-]}, otherwise in double quotes with {@code \}, {@code "} and newline
   * written {@code \\}, {@code \"} and {@code \n}; a reference is {@code ${VAR}}, which those readers expand (tools
   * that don't pass it on literally). Text with {@code $} is refused: the readers disagree on escaping it. Nothing
   * appends: an env file describes a fresh environment, so {@code JAVA_TOOL_OPTIONS} is the proxy options alone.
   */
  DOTENV {
    @Override
    String line(Variable variable) {
      boolean bare = variable.value().stream().allMatch(s -> s instanceof Text t && SAFE.matcher(t.text()).matches());
      if (bare) {
        return variable.name() + "=" + variable.text();
      }
      return variable.name() + "=\"" + join(variable, "", text -> dotenvEscape(variable.name(), text),
          r -> "${" + r + "}") + "\"";
    }
  };

  /** Characters no shell or env-file reader treats specially anywhere in a word (Python's shlex.quote set). */
  private static final Pattern SAFE = Pattern.compile("[A-Za-z0-9_@%+=:,./-]+");
  private static final Pattern POWERSHELL_QUOTES = Pattern.compile("['\u2018\u2019\u201A\u201B]");

  /** The assignment for one variable, without a line end. */
  abstract String line(Variable variable);

  /** Every variable's line, each ending with a newline. */
  String render(List<Variable> variables) {
    StringBuilder out = new StringBuilder();
    variables.forEach(variable -> out.append(line(variable)).append('\n'));
    return out.toString();
  }

  /** A sh word that stands for exactly {@code text}: bare when it is safe, else single-quoted. */
  static String shWord(String text) {
    return SAFE.matcher(text).matches() ? text : "'" + text.replace("'", "'\\''") + "'";
  }

  private static String dotenvEscape(String name, String text) {
    if (text.indexOf('$') >= 0) {
      throw new IllegalArgumentException(name + ": " + text + " (expected: no '$' in a dotenv value, whose readers"
          + " expand or escape it differently; use --shell sh)");
    }
    return text.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
  }

  private static boolean startsWithReference(Variable variable) {
    return variable.value().stream().filter(s -> !(s instanceof Text t && t.text().isEmpty())).findFirst()
        .map(Reference.class::isInstance).orElse(false);
  }

  /**
   * The value's segments, each written by its function, joined with {@code separator}. Empty text between
   * references is left out; a value that is all empty text is one empty text.
   */
  private static String join(Variable variable, String separator, UnaryOperator<String> text,
      UnaryOperator<String> reference) {
    List<String> parts = new ArrayList<>();
    for (Segment segment : variable.value()) {
      if (segment instanceof Reference r) {
        parts.add(reference.apply(r.variable()));
      } else if (!((Text) segment).text().isEmpty()) {
        parts.add(text.apply(((Text) segment).text()));
      }
    }
    return parts.isEmpty() ? text.apply("") : String.join(separator, parts);
  }
}
