// PgBouncer in transaction mode in front of Postgres (issue 35): a real PgBouncer (Debian's, run
// here on a free port) hands each transaction any server connection, so what needs a session
// (LISTEN, the migration lock, session advisory locks) goes to DATABASE_SESSION_URL, the database
// itself. Through it, two instances store every webhook they acknowledge, push every change to
// their subscribers once, and answer queries.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { generateApiKey } from '../../src/auth/api-keys.js';
import { query } from '../support/db.js';
import { backend, onPostgres, openTestDatabase, type TestDatabase } from '../support/backend.js';
import { eventually, subscribe } from '../support/live.js';
import { PGBOUNCER, pgbouncerRuns, startPgBouncer, throughPooler, type PgBouncer } from '../support/pgbouncer.js';
import { spawnService, type ServiceProcess } from '../support/process.js';
import { post, stytchRequest } from '../support/server.js';
import { newStytchSecret } from '../support/sign.js';

const available = await pgbouncerRuns();
// CI names it: there it must run, not skip.
if (process.env.TEST_PGBOUNCER && !available) throw new Error(`TEST_PGBOUNCER=${PGBOUNCER} does not run`);

let bouncer: PgBouncer | undefined;
let database: TestDatabase;
let services: ServiceProcess[] = [];
const stytchSecret = newStytchSecret();
const adminKey = generateApiKey();

describe.skipIf(!onPostgres || !available)(`through PgBouncer in transaction mode (${backend})`, () => {
  beforeAll(async () => {
    database = await openTestDatabase();
    bouncer = await startPgBouncer(database.url!);
    const env = {
      DATABASE_URL: throughPooler(database.url!, bouncer.port),
      DATABASE_SESSION_URL: database.url!,
      // PgBouncer 1.18 keeps no prepared statements in transaction mode (1.21 and later can).
      DATABASE_PREPARED_STATEMENTS: 'false',
      STYTCH_WEBHOOK_SECRET: stytchSecret,
      ADMIN_API_KEY: adminKey,
      LOG_LEVEL: 'warn',
    };
    services = await Promise.all([spawnService(env), spawnService(env)]);
  });
  afterAll(async () => {
    await Promise.all(services.map((s) => s.stop()));
    await bouncer?.stop();
    await database?.dispose();
  });

  it('takes webhooks on both instances, pushes each change to every subscriber once, and answers queries', async () => {
    const subs = services.map((s) => subscribe<{ memberChanged: { member: { externalId: string } } }>(s.url, adminKey, 'subscription { memberChanged { member { externalId } } }'));
    const organization = `organization-bouncer-${Date.now()}`;
    const event = (id: string, n: number) =>
      stytchRequest(stytchSecret, {
        action: 'CREATE',
        event_id: `event-bouncer-${n}-${id}`,
        id,
        object_type: 'member',
        project_id: 'project-test',
        source: 'SCIM',
        timestamp: new Date().toISOString(),
        vertical: 'B2B',
        member: { member_id: id, organization_id: organization, email_address: `${id}@bouncer.example`, name: id, status: 'active' },
      });
    // Live once each has heard one.
    let warm = 0;
    await eventually(
      async () => {
        const sent = event(`member-warm-${warm}`, warm++);
        await post(`${services[0]!.url}/webhooks/stytch`, sent.body, sent.headers);
        return subs.every((s) => s.events.length > 0);
      },
      60_000,
      'every subscriber to be live',
    );
    const ids = Array.from({ length: 20 }, (_, i) => `member-bouncer-${i}`);
    const replies = await Promise.all(
      ids.map((id, i) => {
        const sent = event(id, i);
        return post(`${services[i % 2]!.url}/webhooks/stytch`, sent.body, sent.headers);
      }),
    );
    expect(replies.map((r) => r.status)).toEqual(ids.map(() => 200));
    expect(replies.map((r) => r.body.status), JSON.stringify(replies.map((r) => r.body))).toEqual(ids.map(() => 'applied'));
    // Every delivery acknowledged is stored. (With postgres.js naming its own statements, \`commit\`
    // among them, a commit bound on another client's server connection ran something else: the
    // transaction stayed open and was rolled back later, after \`applied\` was answered.)
    const stored = await query(database.handle, sql`select count(*)::int as n from members where external_id like 'member-bouncer-%'`);
    expect(stored).toEqual([{ n: ids.length }]);
    for (const s of subs) {
      await eventually(() => ids.every((id) => s.events.some((e) => e.memberChanged.member.externalId === id)), 30_000, 'every push').catch((error: Error) => {
        const missing = ids.filter((id) => !s.events.some((e) => e.memberChanged.member.externalId === id));
        throw new Error(`${error.message}; missing ${missing.join(', ')}; PgBouncer said: ${bouncer!.log().slice(-1000)}`);
      });
      const heard = s.events.map((e) => e.memberChanged.member.externalId).filter((id) => ids.includes(id));
      expect(heard.sort()).toEqual([...ids].sort());
    }
    await Promise.all(subs.map((s) => s.close()));
    const reply = await fetch(`${services[1]!.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${adminKey}` },
      body: JSON.stringify({ query: '{ members(first: 100) { totalCount } }' }),
    });
    const body = (await reply.json()) as { data: { members: { totalCount: number } } };
    expect(body.data.members.totalCount).toBeGreaterThanOrEqual(ids.length);
    expect(bouncer!.log()).not.toMatch(/FATAL|ERROR/);
  });
});
