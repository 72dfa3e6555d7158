/** Every bound the API enforces, in one place so the OpenAPI document and validators agree. */
export const LIMITS = {
  pageSizeMax: 100,
  pageSizeDefault: 10,
  /** Deep enough for any real history; bounded so page_number * page_size stays a small integer. */
  pageNumberMax: 10_000_000,
  reasonLengthMax: 500,
  idempotencyKeyLengthMax: 255,
  emailLengthMax: 254,
  nameLengthMax: 200,
  phoneLengthMax: 32,
  metadataKeysMax: 50,
  metadataKeyLengthMax: 40,
  metadataValueLengthMax: 500,
  customerIdLengthMax: 64,
} as const;
