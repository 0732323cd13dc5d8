import { describe, expect, it } from 'vitest';
import { redact } from '../../src/lib/redact.js';

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
});
