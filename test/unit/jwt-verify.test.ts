// The verifier alone, with an HMAC secret: what it says a token's last moment is, and that a
// token within the clock skew of its exp is still taken (so a socket may last until then).
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { createJwtVerifier, JwtRefused } from '../../src/auth/jwt.js';

const secret = 'a-test-secret-of-at-least-32-characters!';
const settings = { keys: { secret }, algorithms: ['HS256'], issuer: 'https://i.test', audience: 'dir', clockSkewSeconds: 30 };
const sign = (exp: number) =>
  new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setIssuer('https://i.test').setAudience('dir').setExpirationTime(exp).sign(new TextEncoder().encode(secret));

describe('createJwtVerifier', () => {
  it('takes a token until exp plus the skew, and says that is when it runs out', async () => {
    const verify = await createJwtVerifier(settings);
    const exp = Math.floor(Date.now() / 1000) - 10;
    const verified = await verify(await sign(exp));
    expect(verified.expiresAt?.getTime()).toBe((exp + 30) * 1000);
    await expect(verify(await sign(exp - 60))).rejects.toThrow(JwtRefused);
  });
});
