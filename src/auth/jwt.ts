// Frontends' own sign-in tokens: a JWT in `Authorization: Bearer <jwt>` (or the WebSocket's
// connection params), verified with jose against a JWKS URL (fetched, cached, fetched again on
// an unknown `kid`, at most once per cooldown), a configured public key, or an HMAC secret.
// Only the configured algorithms are accepted, and only those the key can be used with, so
// neither `alg: none` nor an HMAC signed with a public key as its secret gets through.
// `iss`, `aud`, `exp` and `nbf` are checked with a small clock skew. What the token may read is
// in its claims (claims.ts); this module only says whether it is genuine and what it claims.
import { createRemoteJWKSet, errors, importSPKI, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';

export type JwtKeys = { jwksUrl: string } | { publicKey: string } | { secret: string };

export interface JwtSettings {
  keys: JwtKeys;
  /** Allowed `alg` values; checked against the kind of key at configuration. */
  algorithms: string[];
  issuer: string;
  audience: string;
  clockSkewSeconds: number;
  /**
   * Unset: a token must carry `exp`. Set: one without `exp` is taken while its `iat` is no older
   * than this many seconds (JWT_MAX_AGE_SECONDS), and expires then.
   */
  maxAgeSeconds?: number;
  /** Least time between two fetches of the JWKS (an unknown `kid` fetches it again). */
  jwksCooldownMs?: number;
}

export const HMAC_ALGORITHMS = ['HS256', 'HS384', 'HS512'];
export const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

/** Three base64url parts: what a compact JWS looks like (an API key never does). */
export const looksLikeJwt = (token: string): boolean => /^[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*$/.test(token);

export interface VerifiedJwt {
  payload: JWTPayload;
  /**
   * The last moment the token is accepted: `exp` plus the clock skew, when it has an `exp`. A
   * socket closed earlier would be opened again at once with the same token, and closed again.
   */
  expiresAt: Date | undefined;
}

/** Why a token was refused, in words a frontend developer can act on. */
export class JwtRefused extends Error {
  constructor(
    message: string,
    /** The keys could not be fetched: the token may be fine, try again later. */
    readonly unavailable = false,
  ) {
    super(message);
  }
}

function refusal(error: unknown, settings: JwtSettings): JwtRefused {
  if (error instanceof errors.JWTExpired) return new JwtRefused(`the token has expired (exp ${claimTime(error.payload.exp)})`);
  if (error instanceof errors.JWTClaimValidationFailed) {
    const { claim, payload } = error;
    if (claim === 'exp' && error.reason === 'missing') {
      return new JwtRefused('the token has no expiry (exp): a token that never expires cannot be taken back; issue tokens with exp, or set JWT_MAX_AGE_SECONDS to accept ones with iat');
    }
    if (claim === 'nbf') return new JwtRefused(`the token is not valid yet (nbf ${claimTime(payload.nbf)})`);
    if (claim === 'iss') return new JwtRefused(`the token's issuer (iss) is not ${JSON.stringify(settings.issuer)}`);
    if (claim === 'aud') return new JwtRefused(`the token's audience (aud) does not include ${JSON.stringify(settings.audience)}`);
    return new JwtRefused(`the token's "${claim}" claim is not acceptable: ${error.reason}`);
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return new JwtRefused(`the token's algorithm (alg) is not one of ${settings.algorithms.join(', ')}`);
  if (error instanceof errors.JWKSNoMatchingKey) return new JwtRefused('the token is signed with a key (kid) the issuer does not publish');
  if (error instanceof errors.JWSSignatureVerificationFailed) return new JwtRefused('the token signature does not verify');
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid || isFetchFailure(error)) {
    return new JwtRefused('the signing keys (JWT_JWKS_URL) could not be fetched; retry shortly', true);
  }
  if (error instanceof errors.JOSEError) return new JwtRefused(`the token is not a valid JWT: ${error.message}`);
  return new JwtRefused('the token is not a valid JWT');
}

const claimTime = (seconds: unknown) => (typeof seconds === 'number' ? new Date(seconds * 1000).toISOString() : String(seconds));
const isFetchFailure = (error: unknown) => error instanceof TypeError && /fetch/i.test(error.message);

export type VerifyJwt = (token: string) => Promise<VerifiedJwt>;

/** Throws JwtRefused for every token it does not accept. */
export async function createJwtVerifier(settings: JwtSettings): Promise<VerifyJwt> {
  const { keys } = settings;
  let key: JWTVerifyGetKey | Uint8Array | Awaited<ReturnType<typeof importSPKI>>;
  if ('jwksUrl' in keys) {
    key = createRemoteJWKSet(new URL(keys.jwksUrl), {
      cooldownDuration: settings.jwksCooldownMs ?? 30_000,
      cacheMaxAge: 10 * 60_000,
      timeoutDuration: 5_000,
    });
  } else if ('publicKey' in keys) {
    // One algorithm per public key: jose imports it for that one.
    key = await importSPKI(keys.publicKey, settings.algorithms[0]!);
  } else {
    key = new TextEncoder().encode(keys.secret);
  }
  const options = {
    algorithms: settings.algorithms,
    issuer: settings.issuer,
    audience: settings.audience,
    clockTolerance: settings.clockSkewSeconds,
    // A token that never expires would let whoever copied it in for ever.
    requiredClaims: settings.maxAgeSeconds === undefined ? ['exp'] : [],
  };
  return async (token) => {
    try {
      // jose picks the overload by the key's type; the union is resolved here once.
      const { payload } =
        typeof key === 'function' ? await jwtVerify(token, key, options) : await jwtVerify(token, key, options);
      if (typeof payload.exp === 'number') return { payload, expiresAt: new Date((payload.exp + settings.clockSkewSeconds) * 1000) };
      // No `exp`, and JWT_MAX_AGE_SECONDS allows that: its age decides.
      const maxAge = settings.maxAgeSeconds!;
      if (typeof payload.iat !== 'number') throw new JwtRefused('the token has neither exp nor iat: its age cannot be told (JWT_MAX_AGE_SECONDS)');
      const expiresAt = new Date((payload.iat + maxAge + settings.clockSkewSeconds) * 1000);
      if (Date.now() > expiresAt.getTime()) throw new JwtRefused(`the token was issued (iat ${claimTime(payload.iat)}) more than JWT_MAX_AGE_SECONDS (${maxAge}) ago`);
      return { payload, expiresAt };
    } catch (error) {
      throw error instanceof JwtRefused ? error : refusal(error, settings);
    }
  };
}
