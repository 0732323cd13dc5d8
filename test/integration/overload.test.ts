// A delivery that cannot be stored in time while the database is fine is answered 503
// "overloaded", not "database unavailable", and the log says which (outage.test.ts and
// database-outage.test.ts hold the other side: a database that is gone is named as such).
// The backlog is made real without timing: another session holds the change feed's lock, so
// the delivery's transaction waits on it with the database answering everything else.
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backend, onPostgres } from '../support/backend.js';
import { stytchEvent } from '../support/directory.js';
import { post, startTestServer, stytchRequest, type TestServer } from '../support/server.js';

// src/directory/feed.ts's lock: every ingest that applies something takes it before commit.
const FEED_LOCK = 7_255_810_002;

describe.runIf(onPostgres)(`a service too slow to store, with the database up (${backend})`, () => {
  let server: TestServer;
  const logs: string[] = [];
  beforeAll(async () => {
    server = await startTestServer({ storeTimeoutMs: 300, logs, env: { LOG_LEVEL: 'warn' } });
  });
  afterAll(() => server?.close());

  it('answers 503 overloaded with Retry-After, logs it as such, and stores the delivery once after all', async () => {
    const holder = postgres(server.databaseUrl!, { max: 1, onnotice: () => {} });
    const member = `member-test-overload-${Date.now()}`;
    const request = stytchRequest(server.stytchSecret, stytchEvent('member', 'CREATE', member, { member_id: member, organization_id: 'organization-test-overload', status: 'active' }));
    try {
      await holder`select pg_advisory_lock(${FEED_LOCK})`;
      const response = await fetch(`${server.url}/webhooks/stytch`, { method: 'POST', body: request.body, headers: request.headers });
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('5');
      const { error } = (await response.json()) as { error: string };
      expect(error).toMatch(/^overloaded: the delivery could not be stored within 300 ms \(the database is up\); retry later$/);
      expect(error).not.toMatch(/database unavailable/);
      const lines = logs.map((l) => JSON.parse(l) as { msg: string; level: number });
      expect(lines.some((l) => /^service overloaded/.test(l.msg) && l.level === 40)).toBe(true);
      expect(lines.some((l) => /database unavailable/.test(l.msg))).toBe(false);
    } finally {
      await holder`select pg_advisory_unlock(${FEED_LOCK})`;
      await holder.end();
    }
    // The transaction that waited commits once the lock is free: the sender's retry is a duplicate.
    await expect
      .poll(async () => (await post(`${server.url}/webhooks/stytch`, request.body, request.headers)).body.status)
      .toBe('duplicate');
  });
});
