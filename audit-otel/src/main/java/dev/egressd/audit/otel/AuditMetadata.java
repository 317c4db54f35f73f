package dev.egressd.audit.otel;

/**
 * The optional attributes every audit event carries, set from config or environment.
 *
 * @param appVersion {@code app.version}, egressd's version; null to omit
 * @param conversationId {@code conversation.id}; null to omit
 * @param userAccountId {@code user.account_id}; null to omit
 */
public record AuditMetadata(String appVersion, String conversationId, String userAccountId) {
  /** No metadata. */
  public static final AuditMetadata NONE = new AuditMetadata(null, null, null);
}
