// A Stytch event's own `timestamp` orders it, so a signed event claiming a time far ahead would
// outrank every real event of its object: it is not believed beyond the clock tolerance past
// its signature's time. It is kept as `rejected` (the new webhook contract: 2xx, replayable),
// and no timestamp of any size, future or past, can make the service fail.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backend } from '../support/backend.js';
import { query } from '../support/db.js';
import { stytchEvent } from '../support/directory.js';
import { sendStytch, startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.close());

const member = (id: string, name: string) => ({ member_id: id, organization_id: 'org-ts', email_address: `${id}@ts.example`, status: 'active', name });
const at = (timestamp: string, id: string, name: string) => ({ ...stytchEvent('member', 'UPDATE', id, member(id, name)), timestamp });
const nameOf = async (id: string) => (await query(server.database, sql`select name from members where external_id = ${id}`))[0]?.name;

describe(`Stytch event timestamps (${backend})`, () => {
  it.each([
    ['year 5138 (past the ordering key)', '5138-01-01T00:00:00Z'],
    ['year 9999', '9999-12-31T23:59:59.999999999Z'],
    ['a year ahead', new Date(Date.now() + 365 * 24 * 3600_000).toISOString()],
    ['an hour ahead', new Date(Date.now() + 3600_000).toISOString()],
    ['year 1', '0001-01-01T00:00:00Z'],
  ])('%s: kept as rejected, with the reason, never a 5xx', async (_name, timestamp) => {
    const reply = await sendStytch(server, at(timestamp, `member-ts-${timestamp.slice(0, 4)}`, 'Forged'));
    expect(reply.status, JSON.stringify(reply.body)).toBe(200);
    expect(reply.body).toMatchObject({ status: 'rejected', applied: 0, rejected: 1 });
    const [stored] = await query(server.database, sql`select status, reason from deliveries where id = ${reply.body.deliveryId as string}`);
    expect(stored!.reason).toMatch(/timestamp: (more than 300 s after the signature's time|before 1970)/);
  });

  it('a far-future event does not freeze its object: the next real event still applies', async () => {
    expect((await sendStytch(server, at(new Date(Date.now() - 2000).toISOString(), 'member-ts-freeze', 'Real 1'))).status).toBe(200);
    await sendStytch(server, at('4000-01-01T00:00:00Z', 'member-ts-freeze', 'Forged'));
    const reply = await sendStytch(server, at(new Date(Date.now() - 1000).toISOString(), 'member-ts-freeze', 'Real 2'));
    expect(reply.body).toMatchObject({ status: 'applied' });
    expect(await nameOf('member-ts-freeze')).toBe('Real 2');
  });

  it('an event a little ahead of its signature (clocks differ) is still believed', async () => {
    const reply = await sendStytch(server, at(new Date(Date.now() + 60_000).toISOString(), 'member-ts-skew', 'Skewed'));
    expect(reply.body).toMatchObject({ status: 'applied' });
  });
});
