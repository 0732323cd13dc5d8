import { describe, expect, it } from 'vitest';
import type { Json } from '../../src/directory/types.js';
import { isSecretName, redact } from '../../src/lib/redact.js';

describe('redaction', () => {
  it('removes secrets at any depth, by key name', () => {
    const input = {
      clientSecret: 's1',
      client_secret: 's2',
      nested: [{ 'webhook-secret': 's3', password: 's4', api_key: 's5', refresh_token: 's6' }],
      rotation: { next_bearer_token: 's7', signing_private_key: 's8', sessionToken: 's9', client_secrets: ['s10'] },
      keep: {
        client_id: 'id',
        member_password_id: 'pw-id',
        bearer_token_last_four: '1234',
        bearer_token_expires_at: '2026-01-01',
        token_url: 'https://idp.example/token',
        secretary: 'not a secret',
      },
    };
    const out = JSON.stringify(redact(input));
    for (const s of ['s1', 's2', 's3', 's4', 's5', 's6', 's7', 's8', 's9', 's10']) expect(out).not.toContain(`"${s}"`);
    expect(redact(input)).toMatchObject({ keep: input.keep, clientSecret: '[redacted]' });
  });
  it('leaves empty and null secrets as they are, and does not touch the input', () => {
    const input = { client_secret: '', clientSecret: null, list: [1, 'two', true] };
    expect(redact(input)).toEqual(input);
    const withSecret = { clientSecret: 'x' };
    redact(withSecret);
    expect(withSecret.clientSecret).toBe('x');
  });

  it('knows the secret names a hostile review planted, and leaves names about secrets alone', () => {
    const secretNames = [
      'password_hash', 'secret_value', 'secretAccessKey', 'aws_secret_access_key', 'private_key_pem', 'session_jwt', 'jwt',
      'credentials', 'passphrase', 'signing_key', 'encryption_key', 'hmac_key', 'recovery_codes', 'otp', 'authorization',
      'cookie', 'bearer', 'access_key', 'clientSecret', 'client_secret', 'password', 'passwd', 'PRIVATE_KEY', 'access_token',
      'refreshToken', 'id_token', 'BEARER_TOKEN', 'apiKey', 'api-key', 'token', 'x-auth-token', 'Set-Cookie', 'totp',
      'backup_codes', 'pin', 'pwd', 'passcode', 'mfa_seed',
    ];
    for (const name of secretNames) expect(isSecretName(name), name).toBe(true);
    const aboutSecrets = [
      'member_password_id', 'bearer_token_last_four', 'bearer_token_expires_at', 'token_url', 'token_endpoint', 'secretary',
      'private_key_id', 'token_type', 'password_changed_at', 'jwt_issuer', 'email', 'name', 'key', 'display', 'value',
      'urn:example:params:scim:schemas:extension:credentials:2.0:User',
    ];
    for (const name of aboutSecrets) expect(isSecretName(name), name).toBe(false);
  });

  it('hides the value of a name/value pair whose name is a secret name', () => {
    const input = {
      attributes: [
        { name: 'password', value: 'p1' },
        { key: 'API_KEY', value: 'p2' },
        { type: 'recovery_codes', values: ['p3', 'p4'] },
        { name: 'department', value: 'Engineering' },
      ],
    };
    const out = JSON.stringify(redact(input as unknown as Json));
    for (const s of ['p1', 'p2', 'p3', 'p4']) expect(out).not.toContain(`"${s}"`);
    expect(out).toContain('Engineering');
    expect(out).toContain('"name":"password"');
  });

  it('hides values shaped like secrets under any name, and secrets used as keys', () => {
    const jwt = `eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.${'s'.repeat(43)}`;
    const shaped = [
      `-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----`,
      `-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n-----END OPENSSH PRIVATE KEY-----`,
      jwt,
      `Bearer ${jwt}`,
      'sk_live_51H8abcdefghijklmnop',
      'rk_test_abcdefghijklmnop',
      'whsec_plJ3nmyCDGBKInavdOK15jsl',
      'ghp_abcdefghijklmnopqrstuvwxyz0123456789',
      'xoxb-123456789012-abcdefghijkl',
      'AKIAIOSFODNN7EXAMPLE',
      'AIzaSyA-abcdefghijklmnopqrstuvwxyz012345',
      'glpat-abcdefghijklmnopqrst',
      'note: the key is sk_live_51H8abcdefghijklmnop, keep it safe',
    ];
    const input = { notes: shaped, deep: { misc: shaped[4], [shaped[4]!]: true, [shaped[5]!]: 1 } };
    const out = redact(input as unknown as Json) as { notes: string[]; deep: Record<string, unknown> };
    expect(out.notes).toEqual(shaped.map(() => '[redacted]'));
    expect(out.deep).toEqual({ misc: '[redacted]', '[redacted]': true, '[redacted] 2': 1 });
    const kept = ['-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----', 'grace@example.com', 'Basic plan', 'eyJ short'];
    expect(redact(kept)).toEqual(kept);
  });
});
