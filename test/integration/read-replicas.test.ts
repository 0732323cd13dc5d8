// Read replicas (DATABASE_READ_URLS, issue 35): a real streaming replica made here from a
// Postgres of the test's own (pg_basebackup -R, a second postmaster). Queries are served from it;
// with its replay paused while webhooks arrive, every subscriber still receives each change with
// its new values (read from the primary, since the replica has not replayed them), while a query
// still shows the replica's older state; once replay resumes, reads move back. A replica past
// DATABASE_READ_MAX_LAG_SECONDS is left out of queries; a replica stopped fails nothing.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import postgres from 'postgres';
import { generateApiKey } from '../../src/auth/api-keys.js';
import { backend, onPostgres } from '../support/backend.js';
import { stytchEvent } from '../support/directory.js';
import { eventually, subscribe } from '../support/live.js';
import { pgCtl, startOwnPostgres, type OwnPostgres } from '../support/own-postgres.js';
import { spawnService, type ServiceProcess } from '../support/process.js';
import { post, stytchRequest } from '../support/server.js';
import { newStytchSecret } from '../support/sign.js';

const stytchSecret = newStytchSecret();
const adminKey = generateApiKey();
const metricsToken = randomBytes(24).toString('hex');
const tag = randomBytes(4).toString('hex');
const organization = `organization-replica-${tag}`;

let primary: OwnPostgres;
let replica: OwnPostgres;
let onReplica: postgres.Sql;
/** Reads from the replica whatever its lag. */
let patient: ServiceProcess;
/** Leaves the replica out once it is a second behind. */
let strict: ServiceProcess;

let n = 0;
const member = (id: string, name: string) =>
  stytchRequest(
    stytchSecret,
    stytchEvent('member', n++ === 0 ? 'CREATE' : 'UPDATE', id, { member_id: id, organization_id: organization, email_address: `${id}@replica.example`, name, status: 'active' }),
  );

async function send(service: ServiceProcess, id: string, name: string): Promise<void> {
  const sent = member(id, name);
  const reply = await post(`${service.url}/webhooks/stytch`, sent.body, sent.headers);
  expect(reply.status, JSON.stringify(reply.body)).toBe(200);
}

async function nameOf(service: ServiceProcess, id: string): Promise<string | undefined> {
  const reply = await fetch(`${service.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${adminKey}` },
    body: JSON.stringify({ query: 'query ($id: String) { members(first: 1, filter: { externalId: $id }) { edges { node { name } } } }', variables: { id } }),
  });
  const body = (await reply.json()) as { data?: { members: { edges: { node: { name: string } }[] } }; errors?: unknown };
  expect(reply.status, JSON.stringify(body)).toBe(200);
  expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
  return body.data!.members.edges[0]?.node.name;
}

/** A series' value from the service's /metrics (0 when absent). */
async function metric(service: ServiceProcess, name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`${service.url}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` } })).text();
  const want = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',');
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${want}}`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

describe.skipIf(!onPostgres || !pgCtl)(`read replicas (${backend})`, () => {
  beforeAll(async () => {
    primary = await startOwnPostgres();
    replica = await startOwnPostgres({ replicaOf: primary });
    onReplica = postgres(replica.url, { max: 1, onnotice: () => {} });
    const env = (lag: number) => ({
      DATABASE_URL: primary.url,
      DATABASE_READ_URLS: replica.url,
      DATABASE_READ_MAX_LAG_SECONDS: String(lag),
      STYTCH_WEBHOOK_SECRET: stytchSecret,
      ADMIN_API_KEY: adminKey,
      METRICS_TOKEN: metricsToken,
      LOG_LEVEL: 'info',
    });
    patient = await spawnService(env(86_400));
    strict = await spawnService(env(1));
  });
  afterAll(async () => {
    await Promise.all([patient, strict].map((s) => s?.stop()));
    await onReplica?.end();
    await replica?.dispose();
    await primary?.dispose();
  });

  const id = `member-replica-${tag}`;

  it('serves queries from the replica once it has replayed the change', async () => {
    await send(patient, id, 'First');
    await eventually(async () => (await nameOf(patient, id)) === 'First', 30_000, 'the member to be readable');
    expect(await metric(patient, 'directory_db_replica_up', { replica: '0' })).toBe(1);
    expect(await metric(patient, 'directory_db_reads_total', { read: 'query', target: 'replica' })).toBeGreaterThan(0);
    expect(patient.output()).toMatch(/read replica serving reads/);
  });

  it('with replay paused, every subscriber gets the new values from the primary while queries show the replica\'s state', async () => {
    const subs = [patient, strict].map((s) =>
      subscribe<{ memberChanged: { member: { externalId: string; name: string } } }>(s.url, adminKey, 'subscription { memberChanged { member { externalId name } } }'),
    );
    // Live once each has heard a change (a name sent again is unchanged: nothing is pushed).
    let warm = 0;
    await eventually(
      async () => {
        await send(patient, id, `Warm ${warm++}`);
        return subs.every((s) => s.events.length > 0);
      },
      60_000,
      'every subscriber to be live',
    );
    await send(patient, id, 'First');
    await eventually(async () => (await nameOf(patient, id)) === 'First', 30_000, 'the replica to catch up');
    const behindBefore = await metric(patient, 'directory_db_replica_fallbacks_total', { reason: 'behind' });

    await onReplica`select pg_wal_replay_pause()`;
    const names = ['Second', 'Third', 'Fourth'];
    for (const name of names) await send(patient, id, name);
    for (const s of subs) {
      await eventually(() => s.events.some((e) => e.memberChanged.member.name === 'Fourth'), 30_000, 'the last push');
      // Each push carries its change's values (or newer), never the replica's older state.
      // A payload is the member as read when pushed: its own change's name or a later one.
      const heard = s.events.filter((e) => e.memberChanged.member.externalId === id).map((e) => e.memberChanged.member.name).slice(-3);
      expect(heard.map((name, i) => names.indexOf(name) >= i), JSON.stringify(heard)).toEqual([true, true, true]);
    }
    expect(await metric(patient, 'directory_db_replica_fallbacks_total', { reason: 'behind' })).toBeGreaterThan(behindBefore);
    // The replica still has the old name, and the patient instance still reads it there.
    expect(await nameOf(patient, id)).toBe('First');
    // The strict one leaves a replica that is more than a second behind out of its queries.
    await eventually(async () => (await nameOf(strict, id)) === 'Fourth', 30_000, 'the strict instance to read the primary');
    expect(strict.output()).toMatch(/read replica behind DATABASE_READ_MAX_LAG_SECONDS/);

    await onReplica`select pg_wal_replay_resume()`;
    await eventually(async () => (await nameOf(patient, id)) === 'Fourth', 30_000, 'the replica to replay');
    const fromReplica = await metric(strict, 'directory_db_reads_total', { read: 'query', target: 'replica' });
    await eventually(
      async () => (await nameOf(strict, id)) === 'Fourth' && (await metric(strict, 'directory_db_reads_total', { read: 'query', target: 'replica' })) > fromReplica,
      30_000,
      'the strict instance to read the replica again',
    );
    await Promise.all(subs.map((s) => s.close()));
  });

  it('a replica stopped fails nothing: queries, webhooks and pushes go on through the primary, and reads move back once it returns', async () => {
    const sub = subscribe<{ memberChanged: { member: { externalId: string; name: string } } }>(patient.url, adminKey, 'subscription { memberChanged { member { externalId name } } }');
    let warm = 0;
    await eventually(
      async () => {
        await send(patient, id, `Warm again ${warm++}`);
        return sub.events.length > 0;
      },
      60_000,
      'the subscriber to be live',
    );
    await onReplica.end();
    await replica.stop();
    // Queries asked while the service still thinks it up are answered too (run again on the primary).
    for (const name of ['Fifth', 'Sixth']) {
      await send(patient, id, name);
      expect(await nameOf(patient, id)).toBe(name);
    }
    await eventually(() => sub.events.some((e) => e.memberChanged.member.name === 'Sixth'), 30_000, 'the push while the replica is down');
    await eventually(async () => (await metric(patient, 'directory_db_replica_up', { replica: '0' })) === 0, 30_000, 'the replica to be seen down');
    expect(patient.output()).toMatch(/read replica down/);

    await replica.start();
    await eventually(async () => (await metric(patient, 'directory_db_replica_up', { replica: '0' })) === 1, 60_000, 'the replica to be seen back');
    const fromReplica = await metric(patient, 'directory_db_reads_total', { read: 'query', target: 'replica' });
    await eventually(async () => (await nameOf(patient, id)) === 'Sixth', 30_000, 'the replica to catch up');
    expect(await metric(patient, 'directory_db_reads_total', { read: 'query', target: 'replica' })).toBeGreaterThan(fromReplica);
    await sub.close();
  });
});
