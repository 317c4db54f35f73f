package dev.egressd.config.internal;

import java.nio.file.Path;
import java.util.List;
import org.tomlj.Toml;
import org.tomlj.TomlPosition;
import org.tomlj.TomlTable;

/**
 * Where a secret comes from, as written in a hook's injected header or a credential: {@code secret_env_var} or an
 * absolute {@code secret_file}, exactly one. {@code ConfigAssembler} reads the secret itself.
 *
 * @param envVar the environment variable, or null
 * @param file the file, or null
 * @param position where the table holding the two keys was written, for errors about the secret
 * @param key that table's key path
 */
record SecretSource(String envVar, Path file, TomlPosition position, String key) {
  /** The source written in {@code table}, or null once every problem with it is reported. */
  static SecretSource read(TomlTable table, TomlPosition position, String path, Diagnostics diagnostics) {
    Object envVar = table.get(List.of("secret_env_var"));
    Object file = table.get(List.of("secret_file"));
    for (String key : List.of("secret_env_var", "secret_file")) {
      Object value = table.get(List.of(key));
      if (value != null && !(value instanceof String)) {
        diagnostics.error(table.inputPositionOf(List.of(key)), sub(path, key), "expected a string, found "
            + TableNode.typeOf(value));
        return null;
      }
    }
    if ((envVar == null) == (file == null)) {
      diagnostics.error(position, path, "expected exactly one of secret_env_var or secret_file");
      return null;
    }
    if (file != null) {
      String trimmed = ((String) file).trim();
      if (trimmed.isEmpty() || !Path.of(trimmed).isAbsolute()) {
        diagnostics.error(table.inputPositionOf(List.of("secret_file")), sub(path, "secret_file"),
            "secret_file must be an absolute path");
        return null;
      }
      return new SecretSource(null, Path.of(trimmed), position, path);
    }
    String name = ((String) envVar).trim();
    if (!name.matches("[A-Za-z_][A-Za-z0-9_]*")) {
      diagnostics.error(table.inputPositionOf(List.of("secret_env_var")), sub(path, "secret_env_var"), "\"" + envVar
          + "\" is not an environment variable name");
      return null;
    }
    return new SecretSource(name, null, position, path);
  }

  private static String sub(String path, String key) {
    return path + "." + Toml.joinKeyPath(List.of(key));
  }
}
