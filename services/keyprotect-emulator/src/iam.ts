import { createHash, randomBytes } from 'crypto';

// The IAM token endpoint (POST /identity/token, form-encoded API key grant).
// Tokens are opaque random strings here; real IAM issues JWTs, and clients must
// not parse either.

export const APIKEY_GRANT = 'urn:ibm:params:oauth:grant-type:apikey';

export interface IamError {
  status: number;
  body: { errorCode: string; errorMessage: string; context: { requestId: string } };
}

interface Token {
  subject: string;
  expiresAt: number;
}

export class Iam {
  private readonly tokens = new Map<string, Token>();
  issued = 0;

  constructor(private readonly apiKeys: Set<string> | undefined, private readonly ttlSeconds: number) {}

  /** Answers a token request body; returns the JSON response or an IAM error. */
  issue(form: URLSearchParams): { body: object } | IamError {
    const grant = form.get('grant_type');
    const apikey = form.get('apikey');
    if (grant !== APIKEY_GRANT) {
      return iamError(400, 'BXNIM0109E', `Property missing or empty. Property: 'grant_type' must be '${APIKEY_GRANT}'`);
    }
    if (!apikey) return iamError(400, 'BXNIM0109E', "Property missing or empty. Property: 'apikey'");
    if (this.apiKeys && !this.apiKeys.has(apikey)) return iamError(400, 'BXNIM0415E', 'Provided API key could not be found.');
    this.sweep();
    const access = `kpemu.${randomBytes(32).toString('base64url')}`;
    const now = Date.now();
    this.tokens.set(access, {
      subject: `iam-ServiceId-${createHash('sha256').update(apikey).digest('hex').slice(0, 12)}`,
      expiresAt: now + this.ttlSeconds * 1000,
    });
    this.issued++;
    return {
      body: {
        access_token: access,
        refresh_token: 'not_supported',
        token_type: 'Bearer',
        expires_in: this.ttlSeconds,
        expiration: Math.floor(now / 1000) + this.ttlSeconds,
        scope: 'ibm openid',
      },
    };
  }

  /** The subject of a valid bearer token, or undefined. */
  verify(authorization: string | undefined): string | undefined {
    const m = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    if (!m) return undefined;
    const t = this.tokens.get(m[1]);
    if (!t) return undefined;
    if (t.expiresAt <= Date.now()) {
      this.tokens.delete(m[1]);
      return undefined;
    }
    return t.subject;
  }

  /** Invalidates every token issued so far (as after a clock jump or key rotation in IAM). */
  expireAll(): void {
    this.tokens.clear();
  }

  private sweep(): void {
    if (this.tokens.size < 10_000) return;
    const now = Date.now();
    for (const [k, t] of this.tokens) if (t.expiresAt <= now) this.tokens.delete(k);
  }
}

function iamError(status: number, errorCode: string, errorMessage: string): IamError {
  return { status, body: { errorCode, errorMessage, context: { requestId: randomBytes(16).toString('hex') } } };
}
