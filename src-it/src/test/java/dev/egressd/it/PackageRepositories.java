package dev.egressd.it;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPOutputStream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * A package index for pip, a registry for npm and yarn, and a gem source for Bundler, each with one package
 * ({@code demo} 1.0 / 1.0.0) built here, for an {@link OriginServer} to serve: a PEP 503 "simple" page for
 * {@code /simple/demo/} with one pure-Python wheel; an npm package document ({@link #packument}) whose only version's
 * tarball is {@link #TARBALL_PATH}; and a compact index ({@link #GEM_VERSIONS_PATH}, {@link #GEM_INFO_PATH}, the
 * format Bundler asks for first) listing demo 1.0 without dependencies. No gem file is served: {@code bundle lock}
 * resolves from the index alone.
 */
final class PackageRepositories {
  static final String WHEEL = "demo-1.0-py3-none-any.whl";
  static final String WHEEL_PATH = "/files/" + WHEEL;
  static final String TARBALL_PATH = "/demo/-/demo-1.0.0.tgz";
  static final String PACKAGE_JSON = "{\"name\":\"demo\",\"version\":\"1.0.0\"}\n";
  static final String GEM_VERSIONS_PATH = "/versions";
  static final String GEM_INFO_PATH = "/info/demo";
  /** The compact index's entry for demo: one version, no dependencies, no requirements. */
  private static final String GEM_INFO = "---\n1.0\n";
  /** The modification time npm itself writes into the tarballs it packs (1985-10-26T08:15:00Z). */
  private static final long TAR_MTIME = 499_162_500L;

  private final byte[] wheel;
  private final byte[] tarball;

  private PackageRepositories(byte[] wheel, byte[] tarball) {
    this.wheel = wheel;
    this.tarball = tarball;
  }

  /**
   * Fails unless every one of {@code hosts} is unknown to the system resolver: only the daemon (through its test
   * hosts file) may resolve them, or a client could bypass the proxy unnoticed.
   */
  static void assertResolvableOnlyByTheDaemon(Path dir, String... hosts) {
    for (String host : hosts) {
      ProcessResult lookup = Processes.run(List.of("getent", "hosts", host), Map.of(), dir, Duration.ofSeconds(10));
      org.assertj.core.api.Assertions.assertThat(lookup.exitCode()).as("%s must not resolve outside the daemon, or"
          + " a client could bypass the proxy unnoticed\n%s", host, lookup).isNotZero();
    }
  }

  /** Builds the wheel and the tarball. */
  static PackageRepositories build() throws IOException {
    return new PackageRepositories(buildWheel(), tarGz("package/package.json",
        PACKAGE_JSON.getBytes(StandardCharsets.UTF_8)));
  }

  /** The wheel's bytes, as pip must save them. */
  byte[] wheel() {
    return wheel.clone();
  }

  /**
   * Routes the index page, the wheel, the tarball and the compact index on {@code origin}. The package document names
   * a host, so each test adds it with {@link #packument}.
   */
  void serve(OriginServer origin) {
    origin.respond("/simple/demo/", new OriginResponse.Fixed(200, "text/html; charset=utf-8", """
        <!DOCTYPE html>
        <html><body><a href="%s#sha256=%s">%s</a></body></html>
        """.formatted(WHEEL_PATH, HexFormat.of().formatHex(digest("SHA-256", wheel)), WHEEL)
        .getBytes(StandardCharsets.UTF_8)));
    origin.respond(WHEEL_PATH, new OriginResponse.Fixed(200, "application/octet-stream", wheel));
    origin.respond(TARBALL_PATH, new OriginResponse.Fixed(200, "application/octet-stream", tarball));
    // The versions file gives each info file's MD5; Bundler fetches an info file when its cached copy differs.
    String versions = "created_at: 2024-01-01T00:00:00Z\n---\ndemo 1.0 %s\n".formatted(
        HexFormat.of().formatHex(digest("MD5", GEM_INFO.getBytes(StandardCharsets.UTF_8))));
    origin.respond(GEM_VERSIONS_PATH, OriginResponse.text(200, versions));
    origin.respond(GEM_INFO_PATH, OriginResponse.text(200, GEM_INFO));
  }

  /** The registry document for {@code demo}, whose only version's tarball is on {@code host} at {@code origin}. */
  OriginResponse packument(OriginServer origin, String host) {
    String json = """
        {"name":"demo","dist-tags":{"latest":"1.0.0"},"versions":{"1.0.0":{"name":"demo","version":"1.0.0",\
        "dist":{"tarball":"%s","shasum":"%s","integrity":"sha512-%s"}}}}
        """.formatted(origin.url(host, TARBALL_PATH), HexFormat.of().formatHex(digest("SHA-1", tarball)),
        Base64.getEncoder().encodeToString(digest("SHA-512", tarball)));
    return new OriginResponse.Fixed(200, "application/json", json.getBytes(StandardCharsets.UTF_8));
  }

  /** A pure-Python wheel (PEP 427) for demo 1.0: one module, METADATA, WHEEL and a RECORD with every hash. */
  private static byte[] buildWheel() throws IOException {
    Map<String, String> files = new LinkedHashMap<>();
    files.put("demo/__init__.py", "VALUE = 'egressd-it'\n");
    files.put("demo-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n");
    files.put("demo-1.0.dist-info/WHEEL",
        "Wheel-Version: 1.0\nGenerator: egressd-it\nRoot-Is-Purelib: true\nTag: py3-none-any\n");
    StringBuilder record = new StringBuilder();
    files.forEach((name, text) -> {
      byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
      record.append(name).append(",sha256=")
          .append(Base64.getUrlEncoder().withoutPadding().encodeToString(digest("SHA-256", bytes)))
          .append(',').append(bytes.length).append('\n');
    });
    files.put("demo-1.0.dist-info/RECORD", record.append("demo-1.0.dist-info/RECORD,,\n").toString());
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ZipOutputStream zip = new ZipOutputStream(bytes)) {
      for (Map.Entry<String, String> file : files.entrySet()) {
        zip.putNextEntry(new ZipEntry(file.getKey()));
        zip.write(file.getValue().getBytes(StandardCharsets.UTF_8));
        zip.closeEntry();
      }
    }
    return bytes.toByteArray();
  }

  /** A gzipped ustar archive with one regular file. */
  private static byte[] tarGz(String name, byte[] content) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (GZIPOutputStream gzip = new GZIPOutputStream(bytes)) {
      gzip.write(tarHeader(name, content.length));
      gzip.write(content);
      gzip.write(new byte[(512 - content.length % 512) % 512]);
      gzip.write(new byte[2 * 512]);
    }
    return bytes.toByteArray();
  }

  /** The 512-byte ustar header of a regular file (POSIX.1-1988: octal fields, checksum over the header). */
  private static byte[] tarHeader(String name, int size) {
    byte[] header = new byte[512];
    put(header, 0, name);
    put(header, 100, "0000644");
    put(header, 108, "0000000");
    put(header, 116, "0000000");
    put(header, 124, "%011o".formatted(size));
    put(header, 136, "%011o".formatted(TAR_MTIME));
    put(header, 148, "        ");
    header[156] = '0';
    put(header, 257, "ustar");
    put(header, 263, "00");
    int sum = 0;
    for (byte b : header) {
      sum += b & 0xff;
    }
    put(header, 148, "%06o\0 ".formatted(sum));
    return header;
  }

  private static void put(byte[] header, int offset, String ascii) {
    byte[] bytes = ascii.getBytes(StandardCharsets.US_ASCII);
    System.arraycopy(bytes, 0, header, offset, bytes.length);
  }

  private static byte[] digest(String algorithm, byte[] bytes) {
    try {
      return MessageDigest.getInstance(algorithm).digest(bytes);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(algorithm, e);
    }
  }
}
