package dev.egressd.policy;

import java.util.List;

/**
 * Which allow patterns are broad enough to need a written justification: a wildcard over a whole top-level domain
 * ({@code *.com}, {@code **.io}) or over a suffix where anyone can get a name (cloud storage, app hosting, tunnels:
 * {@code *.amazonaws.com} reaches every customer's bucket, not just yours). Advice, not policy: nothing is refused.
 */
public final class BroadPatterns {
  /** Suffixes under which names belong to many unrelated tenants. */
  static final List<String> MULTI_TENANT = List.of("amazonaws.com", "cloudfront.net", "elasticbeanstalk.com",
      "windows.net", "azurewebsites.net", "azureedge.net", "cloudapp.net", "azurecontainerapps.io",
      "googleapis.com", "googleusercontent.com", "appspot.com", "run.app", "cloudfunctions.net", "firebaseapp.com",
      "web.app", "herokuapp.com", "github.io", "githubusercontent.com", "gitlab.io", "vercel.app", "netlify.app",
      "pages.dev", "workers.dev", "r2.dev", "fly.dev", "onrender.com", "ngrok.io", "ngrok-free.app",
      "trycloudflare.com", "digitaloceanspaces.com", "ondigitalocean.app", "blob.core.windows.net");

  private BroadPatterns() {}

  /**
   * Why {@code pattern} is broad, or null when it is not: {@code "covers every name under .com"} or
   * {@code "covers every tenant of amazonaws.com"}. The global {@code *} is left to its own warning.
   */
  public static String why(HostPattern pattern) {
    if (pattern.kind() != HostPattern.Kind.SUBDOMAINS && pattern.kind() != HostPattern.Kind.APEX_AND_SUBDOMAINS) {
      return null;
    }
    String base = pattern.host().value();
    if (base.indexOf('.') < 0) {
      return base.equals("localhost") ? null : "covers every name under ." + base;
    }
    for (String suffix : MULTI_TENANT) {
      if (base.equals(suffix) || base.endsWith("." + suffix)) {
        return "covers every tenant of " + suffix;
      }
    }
    return null;
  }
}
