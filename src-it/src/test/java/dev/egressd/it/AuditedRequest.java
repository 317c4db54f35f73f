package dev.egressd.it;

import java.io.IOException;
import java.net.Socket;

/**
 * One request sent through the proxy on a connection of its own, so the {@code client.address} of its audit record
 * ({@code 127.0.0.1:PORT}, the connection's local address) tells that record apart from every other.
 *
 * @param client the {@code client.address} the daemon sees
 * @param reply the response
 */
record AuditedRequest(String client, HttpReply reply) {
  /** Sends {@code request} (complete request text) to the daemon's HTTP listener and reads the response. */
  static AuditedRequest send(Daemon egressd, String request) throws IOException {
    Socket socket = new Socket();
    socket.connect(egressd.address(), 5_000);
    String client = "127.0.0.1:" + socket.getLocalPort();
    try (RawClient raw = RawClient.over(socket)) {
      return new AuditedRequest(client, raw.send(request).readResponse());
    }
  }

  /** Sends an absolute-form {@code GET http://AUTHORITY/PATH} with {@code Connection: close}. */
  static AuditedRequest get(Daemon egressd, String authority, String path) throws IOException {
    return send(egressd, "GET http://" + authority + path + " HTTP/1.1\r\nHost: " + authority
        + "\r\nConnection: close\r\n\r\n");
  }
}
