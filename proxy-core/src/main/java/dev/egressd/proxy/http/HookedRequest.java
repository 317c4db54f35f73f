package dev.egressd.proxy.http;

import dev.egressd.policy.Credential;
import dev.egressd.policy.InnerRequest;
import dev.egressd.policy.MitmHook;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import java.util.ArrayList;
import java.util.List;

/**
 * A request as {@link MitmHook}s and credential checks see it, and what they change: hook actions, and the secret
 * swapped in for a credential's stand-in.
 */
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

  @Override
  public List<String> allHeaderValues() {
    List<String> values = new ArrayList<>();
    request.headers().forEach(header -> values.add(header.getValue()));
    return values;
  }

  /** Puts the secret where the stand-in is, in the credential's header (every value of it). */
  static void swap(Credential credential, HttpHeaders headers) {
    List<String> values = headers.getAll(credential.header());
    List<String> swapped = new ArrayList<>(values.size());
    boolean changed = false;
    for (String value : values) {
      String real = credential.swapped(value);
      swapped.add(real == null ? value : real);
      changed |= real != null;
    }
    if (changed) {
      headers.set(credential.header(), swapped);
    }
  }

  /** Strips, then injects: an injected header replaces whatever the client sent under that name. */
  static void apply(MitmHook hook, HttpHeaders headers) {
    hook.stripHeaders().forEach(headers::remove);
    for (MitmHook.InjectedHeader injected : hook.injectHeaders()) {
      headers.set(injected.name(), injected.value());
    }
  }
}
