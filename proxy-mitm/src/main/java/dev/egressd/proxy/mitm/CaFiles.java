package dev.egressd.proxy.mitm;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.EnumSet;
import java.util.Set;

/** The file-system side of the CA: the checks on an existing key file and crash-safe, never-overwriting writes. */
final class CaFiles {
  /** {@code 0600}: the mode of the CA key. */
  static final Set<PosixFilePermission> KEY_MODE = PosixFilePermissions.fromString("rw-------");
  /** {@code 0644}: the mode of the CA certificate, which is public. */
  static final Set<PosixFilePermission> CERT_MODE = PosixFilePermissions.fromString("rw-r--r--");

  private static final Set<PosixFilePermission> DIRECTORY_MODE = PosixFilePermissions.fromString("rwx------");
  private static final Set<PosixFilePermission> GROUP_OR_OTHER = EnumSet.of(
      PosixFilePermission.GROUP_READ, PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_EXECUTE,
      PosixFilePermission.OTHERS_READ, PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_EXECUTE);

  private CaFiles() {}

  /** True when {@code path} exists; a symlink counts even when its target does not. */
  static boolean exists(Path path) {
    return Files.exists(path, LinkOption.NOFOLLOW_LINKS);
  }

  /**
   * Refuses a key that is a symlink (it could point at a file someone else controls), that is not a regular file, or
   * that group or others may access. The mode is only checked where the file system has POSIX permissions.
   */
  static void checkKeyFile(Path key) throws CaException {
    if (Files.isSymbolicLink(key)) {
      throw new CaException("refusing to use symlink for MITM CA key " + key);
    }
    BasicFileAttributes attributes;
    try {
      attributes = Files.readAttributes(key, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    } catch (IOException e) {
      throw new CaException("cannot read MITM CA key " + key + ": " + e, e);
    }
    if (!attributes.isRegularFile()) {
      throw new CaException("MITM CA key " + key + " is not a regular file");
    }
    if (isPosix(key)) {
      checkKeyMode(key);
    }
  }

  /**
   * Writes {@code content} to the new file {@code target} so that a crash leaves either no file or the whole file,
   * with mode {@code mode} from the first byte on: a temp file in the same directory is created with the mode,
   * written and synced, then hard-linked to {@code target} (which fails rather than replace an existing file), and
   * the directory is synced. Missing parent directories are created with mode 0700.
   *
   * @throws CaException when {@code target} already exists
   */
  static void writeNew(Path target, byte[] content, Set<PosixFilePermission> mode) throws IOException, CaException {
    Path directory = target.toAbsolutePath().getParent();
    createDirectories(directory);
    if (exists(target)) {
      throw refusingToOverwrite(target);
    }
    Path temp = directory.resolve("." + target.getFileName() + ".tmp." + ProcessHandle.current().pid() + "."
        + System.nanoTime());
    try {
      createFile(temp, mode);
      writeAndSync(temp, content);
      publish(temp, target);
    } finally {
      Files.deleteIfExists(temp);
    }
    syncDirectory(directory);
  }

  /** The mode as four octal digits, like {@code ls} and {@code chmod} write it: {@code 0644}. */
  static String octal(Set<PosixFilePermission> permissions) {
    int mode = 0;
    for (PosixFilePermission permission : permissions) {
      mode |= 0400 >> permission.ordinal();
    }
    return String.format("%04o", mode);
  }

  private static void checkKeyMode(Path key) throws CaException {
    Set<PosixFilePermission> permissions;
    try {
      permissions = Files.getPosixFilePermissions(key, LinkOption.NOFOLLOW_LINKS);
    } catch (IOException e) {
      throw new CaException("cannot read the mode of MITM CA key " + key + ": " + e, e);
    }
    if (!disjoint(permissions, GROUP_OR_OTHER)) {
      throw new CaException("MITM CA key " + key + " must not be group/world accessible (mode=" + octal(permissions)
          + "; expected 0600); fix it with: chmod 600 " + key);
    }
  }

  private static boolean disjoint(Set<PosixFilePermission> a, Set<PosixFilePermission> b) {
    EnumSet<PosixFilePermission> both = EnumSet.copyOf(b);
    both.retainAll(a);
    return both.isEmpty();
  }

  private static void createDirectories(Path directory) throws IOException {
    if (Files.isDirectory(directory)) {
      return;
    }
    if (isPosix(directory)) {
      Files.createDirectories(directory, PosixFilePermissions.asFileAttribute(DIRECTORY_MODE));
    } else {
      Files.createDirectories(directory);
    }
  }

  private static void createFile(Path temp, Set<PosixFilePermission> mode) throws IOException {
    if (!isPosix(temp)) {
      Files.createFile(temp);
      return;
    }
    Files.createFile(temp, PosixFilePermissions.asFileAttribute(mode));
    // The umask may have narrowed the mode at creation; set it exactly while the file is still empty.
    Files.setPosixFilePermissions(temp, mode);
  }

  private static void writeAndSync(Path file, byte[] content) throws IOException {
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
      ByteBuffer buffer = ByteBuffer.wrap(content);
      while (buffer.hasRemaining()) {
        channel.write(buffer);
      }
      channel.force(true);
    }
  }

  private static void publish(Path temp, Path target) throws IOException, CaException {
    try {
      Files.createLink(target, temp);
    } catch (FileAlreadyExistsException e) {
      throw refusingToOverwrite(target);
    } catch (UnsupportedOperationException | IOException e) {
      // No hard links here (FAT, some network file systems). rename(2) would replace an existing target, so check
      // again just before: this narrows the race that the link closes completely.
      if (exists(target)) {
        throw refusingToOverwrite(target);
      }
      Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
    }
  }

  private static void syncDirectory(Path directory) {
    try (FileChannel channel = FileChannel.open(directory, StandardOpenOption.READ)) {
      channel.force(true);
    } catch (IOException e) {
      // Some platforms cannot open a directory (Windows); the file contents are already on disk.
    }
  }

  private static boolean isPosix(Path path) {
    return path.getFileSystem().supportedFileAttributeViews().contains("posix");
  }

  private static CaException refusingToOverwrite(Path target) {
    return new CaException("refusing to overwrite existing file " + target);
  }
}
