package dev.egressd.it;

/**
 * How a finished child process ended.
 *
 * @param exitCode the exit status
 * @param stdout everything it printed on stdout
 * @param stderr everything it printed on stderr
 */
record ProcessResult(int exitCode, String stdout, String stderr) {
  @Override
  public String toString() {
    return "exit " + exitCode + "\n--- stdout ---\n" + stdout + "--- stderr ---\n" + stderr;
  }
}
