package dev.egressd.it;

/**
 * One request as the origin server received it.
 *
 * @param method the method
 * @param target the request target exactly as sent (a proxy must send origin-form, {@code /path?query})
 * @param version the HTTP version
 * @param headers the header fields as received
 * @param bodyLength how many body bytes arrived
 * @param bodySha256 SHA-256 of the body, hex
 * @param bodyPrefix the first bytes of the body (at most 64 KiB)
 * @param localAddress the address the connection came in on (127.0.0.1, or 127.0.0.2 for the decoy)
 */
record RecordedRequest(String method, String target, String version, Headers headers, long bodyLength,
    String bodySha256, byte[] bodyPrefix, String localAddress) {
  /** The first value of a header, or null. */
  String header(String name) {
    return headers.get(name);
  }
}
