package dev.egressd.proxy.http;

import dev.egressd.policy.AccessRequest;
import dev.egressd.policy.Destination;
import dev.egressd.policy.Protocol;
import dev.egressd.proxy.PipelineNames;
import dev.egressd.proxy.tunnel.TunnelEstablisher;
import io.netty.channel.Channel;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.ssl.NotSslRecordException;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.concurrent.Future;

/**
 * What differs between requests on the proxy listener and requests inside an intercepted tunnel, so that
 * {@link HttpProxyHandler} serves both with one code path: how the target is read, the protocol it is decided as,
 * whether CONNECT is possible, and how the origin connection is prepared.
 */
sealed interface RequestRules {
  /** Absolute-form requests on the proxy listener, decided as {@link Protocol#HTTP}, to plain origins. */
  RequestRules PLAIN = new Plain();

  /** Requests inside {@code tunnel}, decided as {@link Protocol#HTTPS}, to origins over verified TLS. */
  static RequestRules inTunnel(InterceptedHttp.Tunnel tunnel) {
    return new InTunnel(tunnel);
  }

  /** The protocol inner requests are decided as. */
  Protocol protocol();

  /** Whether a CONNECT may open a tunnel here (never inside a tunnel). */
  boolean connectAllowed();

  /**
   * Reads the target and checks the headers that must agree with it. A refusal the policy must know of (a host
   * other than the tunnel's) is recorded through {@code establisher} before the exception is thrown.
   */
  RequestTarget target(HttpRequest request, TunnelEstablisher establisher) throws RequestTarget.BadTargetException;

  /** Adds what the origin connection needs in front of the HTTP codec (TLS inside a tunnel). */
  void prepareOrigin(Channel origin, Destination destination);

  /** Completes when {@code origin} can carry the request: at once, or when its TLS handshake is done. */
  Future<?> ready(Channel origin);

  /** A short line for the client about why the origin was not {@link #ready}; never the origin's own bytes. */
  String notReadyDetail(Throwable cause);

  /** The proxy listener's rules. */
  final class Plain implements RequestRules {
    private Plain() {}

    @Override
    public Protocol protocol() {
      return Protocol.HTTP;
    }

    @Override
    public boolean connectAllowed() {
      return true;
    }

    @Override
    public RequestTarget target(HttpRequest request, TunnelEstablisher establisher)
        throws RequestTarget.BadTargetException {
      RequestTarget target = RequestTarget.parseAbsolute(request.uri());
      RequestTarget.checkHeaders(request, target.destination());
      return target;
    }

    @Override
    public void prepareOrigin(Channel origin, Destination destination) {}

    @Override
    public Future<?> ready(Channel origin) {
      return origin.newSucceededFuture();
    }

    @Override
    public String notReadyDetail(Throwable cause) {
      return String.valueOf(cause);
    }
  }

  /**
   * An intercepted tunnel's rules.
   *
   * @param tunnel the tunnel: every inner request must name its host
   */
  record InTunnel(InterceptedHttp.Tunnel tunnel) implements RequestRules {
    private static final int MAX_TLS_DETAIL = 200;

    @Override
    public Protocol protocol() {
      return Protocol.HTTPS;
    }

    @Override
    public boolean connectAllowed() {
      return false;
    }

    /** Unlike the reference, refusals inside intercepted tunnels are audited too. */
    @Override
    public RequestTarget target(HttpRequest request, TunnelEstablisher establisher)
        throws RequestTarget.BadTargetException {
      AccessRequest opened = tunnel.request();
      try {
        RequestTarget target = RequestTarget.parseInTunnel(request, opened.destination());
        RequestTarget.checkFraming(request);
        return target;
      } catch (RequestTarget.BadTargetException e) {
        if (e.proxyError.equals("host-mismatch")) {
          AccessRequest inner = opened.inner(opened.destination(), Protocol.HTTPS, request.method().name(), false);
          establisher.recordDecision(inner, establisher.currentEngine().hostMismatch(e.getMessage()
              + " (the tunnel was opened for " + opened.destination().authority() + ")."));
        }
        throw e;
      }
    }

    @Override
    public void prepareOrigin(Channel origin, Destination destination) {
      origin.pipeline().addLast(PipelineNames.UPSTREAM_TLS, tunnel.upstreamTls(origin.alloc(), destination));
    }

    @Override
    public Future<?> ready(Channel origin) {
      return origin.pipeline().get(SslHandler.class).handshakeFuture();
    }

    /** The innermost cause, as one short line (Netty hex-dumps a record that is not TLS). */
    @Override
    public String notReadyDetail(Throwable cause) {
      Throwable root = cause;
      while (root.getCause() != null && root.getCause() != root) {
        root = root.getCause();
      }
      if (root instanceof NotSslRecordException) {
        return "the origin did not answer with TLS";
      }
      String message = root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage();
      message = message.replaceAll("[\\r\\n\\t]+", " ");
      return message.length() <= MAX_TLS_DETAIL ? message : message.substring(0, MAX_TLS_DETAIL) + "...";
    }
  }
}
