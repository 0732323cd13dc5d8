// Several instances of the service on one Postgres, as behind a load balancer: migrations race
// at start, the same delivery reaching two instances is applied once, and concurrent changes
// to one object from different instances end with the newest.
import { sql } from 'drizzle-orm';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrationsFolder, openDatabase, type DatabaseHandle } from '../../src/db/open.js';
import { backend, createPostgresDatabase, onPostgres } from '../support/backend.js';
import { count, query } from '../support/db.js';
import { spawnService, type ServiceProcess } from '../support/process.js';
import { post, stytchRequest } from '../support/server.js';
import { newStytchSecret } from '../support/sign.js';

describe.runIf(onPostgres)(`two service processes on one Postgres (${backend})`, () => {
  const secret = newStytchSecret();
  let a: ServiceProcess;
  let b: ServiceProcess;
  let direct: DatabaseHandle;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    const created = await createPostgresDatabase();
    drop = created.drop;
    const env = { DATABASE_URL: created.url, STYTCH_WEBHOOK_SECRET: secret, POLIS_WEBHOOK_SECRET: 'p'.repeat(32), LOG_LEVEL: 'warn' };
    // Started together on an empty database: both try to migrate at once.
    [a, b] = await Promise.all([spawnService(env), spawnService(env)]);
    direct = await openDatabase({ databaseUrl: created.url, poolSize: 2 });
  });
  afterAll(async () => {
    const codes = await Promise.all([a?.stop(), b?.stop()]);
    expect(codes).toEqual([0, 0]);
    await direct?.close();
    await drop?.();
  });

  it('both started, and the schema was migrated once', async () => {
    const [migrations] = await query(direct, sql`select count(*)::int as n from drizzle.__drizzle_migrations`);
    // Once each: as many rows as migration files, not twice that.
    expect(migrations!.n).toBe(readMigrationFiles({ migrationsFolder }).length);
    for (const instance of [a, b]) expect((await fetch(`${instance.url}/readyz`)).status).toBe(200);
  });

  it('a delivery reaching both instances at once is applied by exactly one', async () => {
    const requests = Array.from({ length: 60 }, (_, i) =>
      stytchRequest(secret, {
        action: 'CREATE',
        id: `member-mp-${i}`,
        object_type: 'member',
        source: 'SCIM',
        timestamp: new Date(Date.now() - 1000 + i).toISOString(),
        vertical: 'B2B',
        member: { member_id: `member-mp-${i}`, organization_id: `org-mp-${i % 3}`, email_address: `m${i}@mp.example`, status: 'active' },
      }),
    );
    const replies = await Promise.all(
      requests.flatMap((r) => [a, b].map((instance) => post(`${instance.url}/webhooks/stytch`, r.body, r.headers))),
    );
    expect(replies.every((r) => r.status === 200)).toBe(true);
    expect(replies.filter((r) => r.body.status === 'applied')).toHaveLength(60);
    expect(replies.filter((r) => r.body.status === 'duplicate')).toHaveLength(60);
    expect(await count(direct, 'deliveries')).toBe(60);
    const applied = replies.reduce((sum, r) => sum + Number(r.body.applied), 0);
    expect(await count(direct, 'changes')).toBe(applied);
  });

  it('updates to one member spread over both instances end with the newest', async () => {
    const base = Date.now() - 5000;
    const requests = Array.from({ length: 40 }, (_, i) =>
      stytchRequest(secret, {
        action: 'UPDATE',
        id: 'member-mp-shared',
        object_type: 'member',
        source: 'DIRECT',
        timestamp: new Date(base + i).toISOString(),
        vertical: 'B2B',
        member: { member_id: 'member-mp-shared', organization_id: 'org-mp-0', email_address: `v${i}@mp.example`, status: 'active' },
      }),
    );
    // Newest first, alternating instances: most arrive after something newer is stored.
    const replies = await Promise.all(
      [...requests].reverse().map((r, i) => post(`${[a, b][i % 2]!.url}/webhooks/stytch`, r.body, r.headers)),
    );
    expect(replies.every((r) => r.status === 200)).toBe(true);
    const [member] = await query(direct, sql`select email from members where external_id = 'member-mp-shared'`);
    expect(member!.email).toBe('v39@mp.example');
  });
});
