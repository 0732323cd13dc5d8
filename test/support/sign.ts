// Signatures made the way the providers make them, written here independently of the
// service's own code: node's crypto for Polis, the svix library for Stytch, WorkOS's own SDK;
// and frontends' sign-in tokens with jose.
import { createHmac, randomBytes } from 'node:crypto';
import { WorkOS } from '../oracles/workos.js';
import { SignJWT, type JWTPayload } from 'jose';
import { Webhook } from 'svix';

export const newPolisSecret = () => randomBytes(32).toString('hex');
export const newStytchSecret = () => `whsec_${randomBytes(32).toString('base64')}`;
/** A value shaped like an OAuth client secret, unique to the test run. */
export const newPayloadSecret = () => `sek_${randomBytes(20).toString('hex')}`;

export function polisHeaderValue(secret: string, t: number, body: string): string {
  const s = createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
  return `t=${t},s=${s}`;
}

export function svixSignature(secret: string, id: string, at: Date, body: string): string {
  return new Webhook(secret).sign(id, at, body);
}

export const newSvixId = () => `msg_${randomBytes(12).toString('hex')}`;

/** WorkOS endpoint secrets are letters and digits; any string is a valid HMAC key. */
export const newWorkosSecret = () => randomBytes(24).toString('base64url');

// The SDK wants an API key to be built; webhooks never use it.
const workos = new WorkOS(`sk_test_${randomBytes(16).toString('hex')}`);

/**
 * `WorkOS-Signature` as WorkOS makes it, by its SDK (which signs JSON.stringify of the payload:
 * the body sent must be exactly that).
 */
export async function workosHeaderValue(secret: string, t: number, payload: unknown): Promise<string> {
  const v1 = await workos.webhooks.computeSignature(t, payload, secret);
  return `t=${t}, v1=${v1}`;
}

/** The SDK's own check of a signature header, as a WorkOS consumer runs it. */
export const workosSdk = workos;

/**
 * A frontend's sign-in, for tests that need a token rather than an API key: a fresh HMAC
 * secret, the settings that make the service accept its tokens, and a token for given claims.
 */
export function hmacSignIn() {
  const secret = randomBytes(32).toString('base64url');
  const issuer = 'https://sign-in.test';
  const audience = 'directory';
  return {
    env: { JWT_SECRET: secret, JWT_ISSUER: issuer, JWT_AUDIENCE: audience },
    token: (claims: JWTPayload, subject = 'test user') =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256' })
        .setIssuer(issuer)
        .setAudience(audience)
        .setSubject(subject)
        .setExpirationTime('1h')
        .sign(new TextEncoder().encode(secret)),
  };
}
