package dev.egressd.it;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;

/**
 * The origin {@link ContainerImageIT} runs in a container of its own: answers every request with 200 and
 * {@code origin-ok}. It is started from the compiled test classes with only a JRE ({@code java -cp DIR
 * dev.egressd.it.ContainerOrigin PORT}), so it uses nothing but the JDK.
 */
final class ContainerOrigin {
  private ContainerOrigin() {}

  public static void main(String[] args) throws IOException {
    HttpServer server = HttpServer.create(new InetSocketAddress(Integer.parseInt(args[0])), 64);
    byte[] body = "origin-ok\n".getBytes(StandardCharsets.US_ASCII);
    server.createContext("/", exchange -> {
      exchange.getRequestBody().readAllBytes();
      exchange.sendResponseHeaders(200, body.length);
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(body);
      }
    });
    server.start();
    System.out.println("origin listening on " + server.getAddress());
  }
}
