// Key Protect's error body and reason codes (docs/keyprotect-api.md, "Errors";
// messages as IBM's error-messages reference, error-messages.md, prints them).

export const MORE_INFO = 'https://cloud.ibm.com/apidocs/key-protect';
export const ERROR_COLLECTION = 'application/vnd.ibm.kms.error+json';

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 409: 'Conflict',
  410: 'Gone', 413: 'Payload Too Large', 415: 'Unsupported Media Type', 422: 'Unprocessable Entity', 429: 'Too Many Requests',
  500: 'Internal Server Error', 501: 'Not Implemented', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout',
};

export function statusText(status: number): string {
  return STATUS_TEXT[status] ?? 'Error';
}

/**
 * Reason code → [HTTP status, reason message], as error-messages.md lists
 * them; INVALID_QUERY_PARAM_ERR is not in that page (IBM's Go client shows it
 * for a bad `filter`), the emulator also answers it for a search over more
 * than 5,000 keys, whose failure the docs do not spell out.
 */
export const REASONS = {
  BAD_BODY_ERR: [400, 'Invalid body data was passed: Please ensure the data passed had valid formatting with no invalid characters'],
  NO_BODY_ERR: [400, 'Missing body in request'],
  BODY_QUERY_PARAM_MISMATCH_ERR: [400, 'Data in body does not match data required by query parameter'],
  COLLECTION_TOTAL_MISMATCH_ERR: [400, 'Collection total does not match number of resources'],
  INVALID_FIELD_ERR: [400, 'Invalid field error'],
  INVALID_QUERY_PARAM_ERR: [400, 'Invalid query parameter'],
  KEY_EXPIRED_ERR: [400, 'The action could not be performed on the key because the key is expired'],
  KEY_PAYLOAD_REQ_ERR: [400, "This root key was created with user-supplied key material: Key material is required to perform a 'rotate' action"],
  KEY_ROOT_REQ_ERR: [400, 'Requested action can only be completed with a root key'],
  KEY_RESTORE_EXPIRED: [400, 'Key restoration has expired'],
  UNAUTHORIZED_ERR: [401, 'Unauthorized: The user does not have access to the specified resource'],
  SERVICE_ONLY_ERR: [403, 'This action can only be done by a service (service to service)'],
  KEY_NOT_FOUND_ERR: [404, 'Key does not exist'],
  KEY_ACTION_INVALID_STATE_ERR: [409, 'Key is not in a valid state'],
  KEY_CREATE_IMPORT_ACCESS_ERR: [409, 'KeyCreateImportAccess instance policy does not allow this action'],
  PROTECTED_RESOURCE_ERR: [409, 'Key is protecting one or more cloud resources'],
  REQ_TOO_EARLY_ERR: [409, 'The key was updated recently: Please wait and try again'],
  KEY_ROTATION_NOT_PERMITTED: [409, "This root key has been rotated within the last hour: Only one 'rotate' action per hour is permitted"],
  KEY_DELETED_ERR: [410, 'Key has already been deleted: Please delete references to this key'],
  KEY_INVALID_STATE_ERR: [422, 'Key is not in a valid state'],
  UNPROCESSABLE_CIPHERTEXT_ERR: [422, 'The provided ciphertext is invalid or corrupted'],
  KEY_VERSION_INVALID: [422, 'This request requires that the key version is later than current registration key version'],
  KEY_ROOT_REQ_REG_ERR: [422, 'Requested action can only be completed with a root key'],
} as const satisfies Record<string, readonly [number, string]>;

export type ReasonCode = keyof typeof REASONS;

/** A Key Protect API error: rendered as the error collection body. */
export class KpError extends Error {
  readonly status: number;
  constructor(
    public readonly code: ReasonCode,
    /** What failed, e.g. "Key could not be deleted" (the errorMsg's middle part). */
    public readonly what: string,
    public readonly detail?: string,
    public readonly target?: { type: string; name: string },
  ) {
    super(code);
    this.status = REASONS[code][0];
  }

  errorMsg(): string {
    // IBM's 401 carries the reason text itself as errorMsg.
    if (this.code === 'UNAUTHORIZED_ERR') return REASONS.UNAUTHORIZED_ERR[1];
    return `${statusText(this.status)}: ${this.what}. Please see \`reasons\` for more details.`;
  }

  body(): object {
    const reason: Record<string, unknown> = {
      code: this.code,
      message: this.detail ?? REASONS[this.code][1],
      status: this.status,
      moreInfo: MORE_INFO,
    };
    if (this.target) reason.target = this.target;
    return {
      metadata: { collectionType: ERROR_COLLECTION, collectionTotal: 1 },
      resources: [{ errorMsg: this.errorMsg(), reasons: [reason] }],
    };
  }
}

/** INVALID_FIELD_ERR in IBM's wording: "The field `x` must be: …". */
export function invalidField(what: string, field: string, mustBe: string): KpError {
  return new KpError('INVALID_FIELD_ERR', what, `The field \`${field}\` must be: ${mustBe}`, { type: 'field', name: field });
}

/** A body without reasons (IBM answers 401 and injected outages this way). */
export function bareError(status: number, message: string): object {
  return { metadata: { collectionType: ERROR_COLLECTION, collectionTotal: 1 }, resources: [{ errorMsg: `${statusText(status)}: ${message}` }] };
}

/**
 * The 401 of error-messages.md ("Unauthorized: The user does not have access
 * to the specified resource", no `reasons`): no valid token, or an instance
 * the token's identity cannot reach (one that does not exist included).
 */
export class Unauthorized extends Error {
  readonly status = 401;
  body(): object {
    return bareError(401, 'The user does not have access to the specified resource');
  }
}

/** A request body in a media type the service does not read (not documented by IBM: the emulator's choice, see docs/keyprotect-api.md). */
export class UnsupportedMediaType extends Error {
  readonly status = 415;
  body(): object {
    return bareError(415, this.message);
  }
}
