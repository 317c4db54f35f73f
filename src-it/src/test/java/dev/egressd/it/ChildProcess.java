package dev.egressd.it;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A started child process and the collectors of its output, which goes to files rather than pipes (see
 * {@link OutputCollector}). Its standard input is closed.
 *
 * @param process the child
 * @param stdout what it prints on standard output
 * @param stderr what it prints on standard error
 */
record ChildProcess(Process process, OutputCollector stdout, OutputCollector stderr) {
  /** Starts {@code builder}; {@code name} labels the collector threads ("NAME stdout"). */
  static ChildProcess start(ProcessBuilder builder, String name) throws IOException {
    Path stdoutFile = Files.createTempFile("egressd-it-stdout", ".log");
    Path stderrFile = Files.createTempFile("egressd-it-stderr", ".log");
    Process process;
    try {
      process = builder.redirectOutput(stdoutFile.toFile()).redirectError(stderrFile.toFile()).start();
    } catch (IOException e) {
      Files.deleteIfExists(stdoutFile);
      Files.deleteIfExists(stderrFile);
      throw e;
    }
    process.getOutputStream().close();
    return new ChildProcess(process, OutputCollector.tail(stdoutFile, process, name + " stdout"),
        OutputCollector.tail(stderrFile, process, name + " stderr"));
  }
}
