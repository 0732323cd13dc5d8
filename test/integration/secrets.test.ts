// No secret that arrives inside a payload is stored or logged: every table and every log line
// is searched for each one. Signing secrets never appear either.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backend } from '../support/backend.js';
import { dumpAll } from '../support/db.js';
import { polisAll, stytchSeed, uniquify, withPayloadSecret } from '../support/fixtures.js';
import { sendPolis, sendStytch, startTestServer, type TestServer } from '../support/server.js';
import { newPayloadSecret } from '../support/sign.js';

let server: TestServer;
const logs: string[] = [];
beforeAll(async () => {
  server = await startTestServer({ env: { LOG_LEVEL: 'trace' }, logs });
});
afterAll(() => server?.close());

describe(`secrets in payloads (${backend})`, () => {
  it('are in no table and no log line, whatever the event', async () => {
    const secrets: string[] = [];
    const fresh = () => {
      const s = newPayloadSecret();
      secrets.push(s);
      return s;
    };

    for (const fixture of stytchSeed) {
      const reply = await sendStytch(server, withPayloadSecret(uniquify(fixture.event), fresh()));
      expect(reply.status).toBe(200);
    }
    for (const fixture of polisAll) {
      const reply = await sendPolis(server, withPayloadSecret(uniquify(fixture.event), fresh()));
      expect(reply.status).toBe(200);
    }

    // A SCIM user created with a password, inside Polis's raw copy of the request.
    const user = uniquify(polisAll.find((f) => f.title === 'user.created')!.event) as {
      data: { raw: Record<string, unknown> };
    };
    user.data.raw.password = fresh();
    user.data.raw['urn:example:credentials'] = { api_key: fresh(), refresh_token: fresh() };
    expect((await sendPolis(server, user)).status).toBe(200);

    // Events that are only recorded (ignored) are stored redacted too.
    const base = { action: 'CREATE', id: 'x-1', source: 'DIRECT', timestamp: new Date().toISOString() };
    expect(
      (await sendStytch(server, { ...base, object_type: 'user', vertical: 'CONSUMER', user: { password: fresh() } })).body
        .status,
    ).toBe('ignored');
    expect(
      (
        await sendStytch(server, {
          ...base,
          object_type: 'm2m_client',
          vertical: 'B2B',
          m2m_client: { client_id: 'c', client_secret: fresh() },
        })
      ).body.status,
    ).toBe('ignored');
    expect(
      (
        await sendPolis(server, {
          event: 'sso.rotated',
          tenant: 't',
          product: 'p',
          data: { clientID: 'c', clientSecret: fresh() },
        })
      ).body.status,
    ).toBe('ignored');

    const dump = await dumpAll(server.database);
    const everything = `${dump}\n${logs.join('\n')}`;
    expect(secrets.length).toBeGreaterThan(40);
    for (const secret of [...secrets, server.polisSecret, server.stytchSecret]) {
      expect(everything.includes(secret), `secret ${secret.slice(0, 8)}... was stored or logged`).toBe(false);
    }
    // The scan is not vacuous: the payloads themselves were stored and logged.
    expect(dump).toContain('adalovelace@stytch.example.com');
    expect(dump).toContain('[redacted]');
    expect(logs.some((l) => l.includes('webhook stored'))).toBe(true);
  });
});
