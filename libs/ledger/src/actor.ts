/** Who is acting: the business behind the API key, and ids that tie events to the request. */
export interface Actor {
  readonly businessId: string;
  /** A short, non-secret fingerprint of the API key (for audit metadata). */
  readonly keyFingerprint: string;
  readonly requestId: string;
}
