package dev.egressd.proxy.http;

import dev.egressd.policy.InnerRequest;
import dev.egressd.policy.MitmHook;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import java.util.List;

/** A request inside an intercepted tunnel as {@link MitmHook}s see it, and the hook actions applied to it. */
final class HookedRequest implements InnerRequest {
  private final HttpRequest request;
  private final String path;
  private final String query;

  HookedRequest(HttpRequest request, RequestTarget target) {
    this.request = request;
    String originForm = target.originForm();
    int question = originForm.indexOf('?');
    this.path = question < 0 ? originForm : originForm.substring(0, question);
    this.query = question < 0 ? null : originForm.substring(question + 1);
  }

  @Override
  public String method() {
    return request.method().name();
  }

  @Override
  public String path() {
    return path;
  }

  @Override
  public String query() {
    return query;
  }

  @Override
  public List<String> headerValues(String name) {
    return request.headers().getAll(name);
  }

  /** Strips, then injects: an injected header replaces whatever the client sent under that name. */
  static void apply(MitmHook hook, HttpHeaders headers) {
    hook.stripHeaders().forEach(headers::remove);
    for (MitmHook.InjectedHeader injected : hook.injectHeaders()) {
      headers.set(injected.name(), injected.value());
    }
  }
}
