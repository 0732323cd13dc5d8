// Reconciliation against the real Polis: its own controllers hold the truth and answer under its
// REST routes (support/polis-api.ts); its webhooks reach the service through a recorder that can
// drop them, as a webhook pointed at the wrong place would. After each reconciliation the
// directory must equal what Polis holds, field by field, and only what changed may reach the
// change feed.
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import type { Directory } from '../oracles/polis.js';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { openDatabase } from '../../src/db/open.js';
import { replayDeliveries } from '../../src/replay.js';
import { createSources } from '../../src/sources/index.js';
import { createDirectoryStore } from '../../src/directory/store.js';
import { ProviderError } from '../../src/reconcile/provider-http.js';
import { reconcileTenant, type ReconcileReport } from '../../src/reconcile/run.js';
import { startSchedule } from '../../src/reconcile/runs.js';
import { createPolisPuller } from '../../src/sources/polis/reconcile.js';
import { backend, onPostgres } from '../support/backend.js';
import { budget } from '../support/time.js';
import { query } from '../support/db.js';
import type { HttpRecorder } from '../support/http-recorder.js';
import { gql, gqlData, startTestServer, tenantKey, type TestServer } from '../support/server.js';
import { runScript } from '../support/process.js';
import { polisState, serviceState, type Scope } from './support/compare.js';
import { DIALECTS, type Person } from './support/dialects.js';
import { startPolisApi, type PolisApi } from './support/polis-api.js';
import { createDirectory, idpMetadata, newWebhookSecret, startPolisRig, type Polis, type PolisRig, type ScimRequest } from './support/polis.js';

const secret = newWebhookSecret();
const apiKey = randomBytes(16).toString('hex');
const entra = DIALECTS.find((d) => d.type === 'azure-scim-v2')!;
const acme: Scope = { tenant: 'acme-reconcile', product: 'portal' };
const tenant = { provider: 'POLIS' as const, externalId: acme.tenant, product: acme.product };
const redirect = { defaultRedirectUrl: 'https://app.example/sso/done', redirectUrl: '["https://app.example/*"]' };

let rig: PolisRig;
let server: TestServer;
let recorder: HttpRecorder;
let polis: Polis;
let api: PolisApi;
let directory: Directory;

beforeAll(async () => {
  api = await startPolisApi(() => polis, apiKey);
  rig = await startPolisRig({ env: { POLIS_WEBHOOK_SECRET: secret, POLIS_API_URL: api.url, POLIS_API_KEY: apiKey }, webhookSecret: secret });
  ({ server, recorder, polis } = rig);
});
afterAll(async () => {
  await api?.close();
  await rig?.close();
});

/** A small page size, so every list is read over several pages. */
const puller = (options: { key?: string; url?: string; attempts?: number } = {}) =>
  createPolisPuller({
    apiUrl: options.url ?? api.url,
    apiKey: options.key ?? apiKey,
    pageLimit: 2,
    http: { attempts: options.attempts ?? 3, sleep: async () => {}, timeoutMs: 10_000 },
  });

const reconcile = (options: { dryRun?: boolean; key?: string; url?: string; attempts?: number } = {}) =>
  reconcileTenant(server.database.db, createDirectoryStore(server.database.db), puller(options), tenant, { dryRun: options.dryRun ?? false });

/** A port nothing listens on: one just handed out and given back. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

async function lastSeq(): Promise<number> {
  const [row] = await query(server.database, sql`select coalesce(max(seq), 0)::int as seq from changes`);
  return Number(row!.seq);
}

async function scim(request: ScimRequest): Promise<Record<string, unknown>> {
  const reply = await polis.scim(directory, request);
  expect(reply.status, JSON.stringify(reply.data)).toBeLessThan(300);
  return reply.data;
}

const person = (key: string, givenName: string): Person => ({
  key,
  givenName,
  familyName: 'Reconciled',
  email: `${givenName.toLowerCase()}@acme.example`,
});

async function expectSameAsPolis(step: string) {
  expect(await serviceState(server, [acme]), `after: ${step}`).toEqual(await polisState(polis, [acme]));
}

const total = (report: ReconcileReport, column: 'created' | 'updated' | 'ended' | 'unchanged' | 'newer') =>
  Object.values(report.counts).reduce((n, c) => n + c[column], 0);

const userIds: string[] = [];
const groupIds: string[] = [];

describe(`reconciliation with the real Polis (${backend})`, () => {
  it('brings back what dropped webhooks lost: users, groups and memberships', async () => {
    // The directory's creation reaches the service (so it knows the tenant); then every webhook is lost.
    directory = await createDirectory(polis, {
      ...acme,
      name: 'Acme Entra ID',
      type: entra.type,
      webhookUrl: `${recorder.url}/webhooks/polis`,
      webhookSecret: secret,
    });
    await polis.jackson.connectionAPIController.createSAMLConnection({
      ...acme,
      ...redirect,
      name: 'Acme Okta',
      rawMetadata: idpMetadata('https://idp.acme.example/saml'),
    });
    await expect.poll(async () => (await serviceState(server, [acme])).connections.length).toBe(2);

    recorder.dropping = true;
    for (const [i, name] of ['Ada', 'Grace', 'Linus', 'Barbara', 'Ken'].entries()) {
      userIds.push(String((await scim(entra.createUser(person(`p-${i}`, name)))).id));
    }
    for (const name of ['Engineering', 'Admins']) groupIds.push(String((await scim(entra.createGroup(name))).id));
    await scim(entra.addMembers(groupIds[0]!, userIds.slice(0, 4)));
    await scim(entra.addMembers(groupIds[1]!, [userIds[0]!, userIds[4]!]));
    recorder.dropping = false;
    expect((await serviceState(server, [acme])).members).toEqual([]);

    const before = await lastSeq();
    const report = await reconcile();
    await expectSameAsPolis('the first reconciliation');
    expect(report.counts.MEMBER.created).toBe(5);
    expect(report.counts.GROUP.created).toBe(2);
    expect(report.counts.MEMBERSHIP.created).toBe(6);
    expect(report.counts.CONNECTION.unchanged).toBe(2);
    expect(total(report, 'ended')).toBe(0);
    // One feed row per object that appeared: 5 members, 2 groups, 6 memberships.
    expect((await lastSeq()) - before).toBe(13);
  });

  it('a second run in a row changes nothing and pushes nothing', async () => {
    const before = await lastSeq();
    const report = await reconcile();
    expect(total(report, 'created') + total(report, 'updated') + total(report, 'ended')).toBe(0);
    expect(total(report, 'unchanged')).toBe(2 + 5 + 2 + 6);
    expect(await lastSeq()).toBe(before);
  });

  it('records each run\'s changes as reconcile:polis deliveries, which replay leaves alone', async () => {
    const [recorded] = await query(server.database, sql`select count(*)::int as n from deliveries where source = 'reconcile:polis'`);
    expect(Number(recorded!.n)).toBeGreaterThan(0);
    const report = await replayDeliveries(server.database.db, createDirectoryStore(server.database.db), createSources(loadConfig({ POLIS_WEBHOOK_SECRET: secret })), { status: 'all' }, { dryRun: true });
    expect(report.skipped).toEqual({});
    const [polisOnly] = await query(server.database, sql`select count(*)::int as n from deliveries where source not like 'reconcile:%'`);
    expect(report.matched).toBe(Number(polisOnly!.n));
  });

  it('a dry run says what would change and changes nothing', async () => {
    recorder.dropping = true;
    await scim(entra.patchNameAndEmail(userIds[1]!, 'Gracie', 'gracie@acme.example'));
    await scim(entra.removeMember(groupIds[0]!, userIds[3]!));
    recorder.dropping = false;
    const before = await lastSeq();
    const dry = await reconcile({ dryRun: true });
    expect(dry.counts.MEMBER.updated).toBe(1);
    expect(dry.counts.MEMBERSHIP.ended).toBe(1);
    expect(dry.deliveryIds).toEqual([]);
    expect(await lastSeq()).toBe(before);
    const stale = await serviceState(server, [acme]);
    expect(stale.members.find((m) => m.externalId === userIds[1])?.firstName).toBe('Grace');

    const report = await reconcile();
    expect(report.counts.MEMBER.updated).toBe(1);
    expect(report.counts.MEMBERSHIP.ended).toBe(1);
    await expectSameAsPolis('a missed update and a missed removal');
  });

  it('applies renames Polis sends no event for (a directory, an SSO connection)', async () => {
    await polis.jackson.directorySyncController.directories.update(directory.id, { name: 'Acme Entra ID (prod)' });
    const [connection] = await polis.jackson.connectionAPIController.getConnections({ ...acme });
    await polis.jackson.connectionAPIController.updateSAMLConnection({
      ...acme,
      clientID: connection!.clientID,
      clientSecret: connection!.clientSecret,
      name: 'Acme Okta (prod)',
    } as Parameters<Polis['jackson']['connectionAPIController']['updateSAMLConnection']>[0]);
    const names = async () => (await serviceState(server, [acme])).connections.map((c) => c.name).sort();
    expect(await names()).toEqual(['Acme Entra ID', 'Acme Okta']);
    const report = await reconcile();
    expect(report.counts.CONNECTION.updated).toBe(2);
    expect(await names()).toEqual(['Acme Entra ID (prod)', 'Acme Okta (prod)']);
    await expectSameAsPolis('silent renames');
  });

  it('an event newer than the pull wins over what the pull read', async () => {
    // While the pull reads the groups (after it has read the users), Ada is renamed and that
    // webhook arrives: the pull's copy of Ada is older than the event and must lose to it.
    let renamed = false;
    api.interfere = async (url) => {
      if (!renamed && url.pathname === '/api/v1/dsync/groups') {
        renamed = true;
        const seq = await lastSeq();
        await scim(entra.patchNameAndEmail(userIds[0]!, 'Augusta', 'augusta@acme.example'));
        await expect.poll(lastSeq).toBeGreaterThan(seq);
      }
      return undefined;
    };
    try {
      const report = await reconcile();
      expect(renamed).toBe(true);
      expect(report.counts.MEMBER.newer).toBe(1);
    } finally {
      api.interfere = undefined;
    }
    const ada = (await serviceState(server, [acme])).members.find((m) => m.externalId === userIds[0]);
    expect(ada?.firstName).toBe('Augusta');
    await expectSameAsPolis('a reconciliation racing a webhook');
  });

  it('ends what Polis silently lost: a deleted user and a deleted directory with all it provisioned', async () => {
    recorder.dropping = true;
    await scim(entra.deleteUser(userIds[2]!));
    recorder.dropping = false;
    const first = await reconcile();
    expect(first.counts.MEMBER.ended).toBe(1);
    await expectSameAsPolis('a user deleted without its webhook');

    recorder.dropping = true;
    const { error } = await polis.jackson.directorySyncController.directories.delete(directory.id);
    expect(error).toBeNull();
    recorder.dropping = false;
    const second = await reconcile();
    expect(second.counts.CONNECTION.ended).toBe(1);
    const left = await serviceState(server, [acme]);
    expect(left.members).toEqual([]);
    expect(left.groups).toEqual([]);
    expect(left.connections.map((c) => c.kind)).toEqual(['SAML']);
    await expectSameAsPolis('a directory deleted without its webhook');
  });

  it('refused credentials, an unreachable Polis and answers of the wrong shape fail the run with a clear reason and change nothing', async () => {
    // Something to lose if a failed run applied anything: a user created without its webhook.
    directory = await createDirectory(polis, { ...acme, name: 'Acme second', type: entra.type, webhookUrl: `${recorder.url}/webhooks/polis`, webhookSecret: secret });
    recorder.dropping = true;
    await scim(entra.createUser(person('p-9', 'Hedy')));
    recorder.dropping = false;
    const before = await lastSeq();
    const state = await serviceState(server, [acme]);

    const failure = async (run: Promise<unknown>): Promise<ProviderError> => {
      const error = await run.then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(ProviderError);
      return error as ProviderError;
    };
    const refused = await failure(reconcile({ key: 'not-the-key' }));
    expect(refused.kind).toBe('credentials');
    expect(refused.message).toMatch(/Polis GET \/api\/v1\/sso.*401, the API key was refused/);
    expect(refused.message).not.toContain(apiKey);

    const closed = await closedPort();
    const unreachable = await failure(reconcile({ url: `http://127.0.0.1:${closed}`, attempts: 2 }));
    expect(unreachable.kind).toBe('unreachable');
    expect(unreachable.message).toMatch(/ECONNREFUSED.*after 2 attempts.*reachable/);

    // A Polis that stops answering: each request gets its deadline, then the run fails. (The
    // deadline is the code's, not the test's; it only has to be long enough for the requests
    // that are answered, so it grows with a slow machine.)
    const deadline = budget(1500);
    let stalled = 0;
    const never = new Promise<undefined>(() => {});
    api.interfere = (url) => (url.pathname === '/api/v1/dsync/users' ? (stalled++, never) : undefined);
    const slow = await failure(
      reconcileTenant(server.database.db, createDirectoryStore(server.database.db), createPolisPuller({ apiUrl: api.url, apiKey, http: { attempts: 2, sleep: async () => {}, timeoutMs: deadline } }), tenant),
    );
    expect(slow.kind).toBe('unreachable');
    expect(slow.message).toMatch(new RegExp(`dsync/users.*no answer within ${deadline / 1000} s \\(after 2 attempts\\)`));
    expect(stalled).toBe(2);

    api.interfere = (url) => (url.pathname === '/api/v1/dsync/groups' ? { status: 200, body: '<html>maintenance</html>' } : undefined);
    const garbage = await failure(reconcile());
    expect(garbage.kind).toBe('garbage');
    expect(garbage.message).toMatch(/dsync\/groups.*not JSON/);

    api.interfere = (url) => (url.pathname === '/api/v1/dsync/users' ? { status: 200, body: '{"data":[{"name":"no id"}]}' } : undefined);
    const shape = await failure(reconcile());
    expect(shape.message).toMatch(/not the shape Polis documents.*data\[0\]\.id/);
    api.interfere = undefined;

    expect(await lastSeq()).toBe(before);
    expect(await serviceState(server, [acme])).toEqual(state);
  });

  it('waits out a 429 in the middle of paging and finishes', async () => {
    let limited = 0;
    api.interfere = (url) => {
      if (url.pathname === '/api/v1/dsync/users' && url.searchParams.get('pageOffset') === '0' && limited === 0) {
        limited++;
        return { status: 429, body: '{"error":{"message":"Too many requests"}}', headers: { 'retry-after': '0' } };
      }
      return undefined;
    };
    try {
      const report = await reconcile();
      expect(limited).toBe(1);
      expect(report.counts.MEMBER.created).toBe(1);
    } finally {
      api.interfere = undefined;
    }
    await expectSameAsPolis('a run that met a 429');
  });

  it('does not end an object the listing skipped but Polis still has', async () => {
    // Offset paging can skip an object when another is deleted between two pages: here the
    // second page of users comes back empty although Hedy is still there.
    const hedy = (await serviceState(server, [acme])).members.find((m) => m.email === 'hedy@acme.example');
    expect(hedy).toBeDefined();
    api.interfere = (url) =>
      url.pathname === '/api/v1/dsync/users' ? { status: 200, body: '{"data":[],"error":null}' } : undefined;
    try {
      const report = await reconcile();
      expect(report.stillThere).toBeGreaterThan(0);
      expect(report.counts.MEMBER.ended).toBe(0);
    } finally {
      api.interfere = undefined;
    }
    expect((await serviceState(server, [acme])).members.map((m) => m.externalId)).toContain(hedy!.externalId);
    await expectSameAsPolis('a listing that skipped a user');
  });
});

interface RunView {
  id: string;
  status: string;
  dryRun: boolean;
  trigger: string;
  counts: Record<string, Record<string, number>> | null;
  error: string | null;
  tenant: { externalId: string } | null;
}
const RUN_FIELDS = 'id status dryRun trigger counts error tenant { externalId }';
const START = `mutation ($t: ID!, $source: String!, $dry: Boolean) { reconcile(source: $source, tenantId: $t, dryRun: $dry) { ${RUN_FIELDS} } }`;

async function tenantGlobalId(): Promise<string> {
  const data = await gqlData<{ tenants: { edges: { node: { id: string; externalId: string } }[] } }>(
    server,
    '{ tenants(first: 100) { edges { node { id externalId } } } }',
  );
  return data.tenants.edges.find((e) => e.node.externalId === acme.tenant)!.node.id;
}

/** Waits until the run has ended (runs go on in the background). */
async function finished(on: Pick<TestServer, 'url' | 'adminKey'>, id: string): Promise<RunView> {
  const read = async () =>
    (await gqlData<{ reconcileRuns: RunView[] }>(on, `query ($id: ID) { reconcileRuns(id: $id) { ${RUN_FIELDS} } }`, { id })).reconcileRuns[0]!;
  // A read that meets a connection Postgres has just ended is answered "retry shortly": retried.
  let last: RunView | undefined;
  const status = () =>
    read().then(
      (r) => ((last = r), r.status),
      () => 'unanswered',
    );
  await expect.poll(status, { message: `run ${id} to end` }).not.toMatch(/^(running|unanswered)$/);
  return last!;
}

describe(`reconciliation from the API and the CLI (${backend})`, () => {
  it('the admin mutation starts a run in the background; reconcileRuns follows it to its end', async () => {
    recorder.dropping = true;
    await scim(entra.createUser(person('p-10', 'Margaret')));
    recorder.dropping = false;
    const t = await tenantGlobalId();
    const started = await gqlData<{ reconcile: RunView }>(server, START, { t, source: 'polis' });
    expect(started.reconcile).toMatchObject({ status: 'running', dryRun: false, counts: null, tenant: { externalId: acme.tenant } });
    expect(started.reconcile.trigger).toMatch(/^api: /);
    const run = await finished(server, started.reconcile.id);
    expect(run.status).toBe('succeeded');
    expect(run.counts?.MEMBER?.created).toBe(1);
    await expectSameAsPolis('a run started from the API');
  });

  it('a run left running by a process that stopped is marked failed by the next run of its tenant', async () => {
    const [left] = await query(
      server.database,
      sql`insert into reconcile_runs (source, tenant_external_id, product, status, trigger, started_at)
          values ('polis', ${acme.tenant}, ${acme.product}, 'running', 'cli', now() - interval '1 hour') returning id::text as id`,
    );
    const other = await query(
      server.database,
      sql`insert into reconcile_runs (source, tenant_external_id, product, status, trigger, started_at)
          values ('polis', 'someone-else', ${acme.product}, 'running', 'cli', now() - interval '1 hour') returning id::text as id`,
    );
    const started = await gqlData<{ reconcile: RunView }>(server, START, { t: await tenantGlobalId(), source: 'polis' });
    expect((await finished(server, started.reconcile.id)).status).toBe('succeeded');
    const abandoned = await finished(server, Buffer.from(`ReconcileRun:${String(left!.id)}`).toString('base64url'));
    expect(abandoned.status).toBe('failed');
    expect(abandoned.error).toMatch(/the process running it stopped before it finished/);
    // Another tenant's run is not this lock's business.
    const [untouched] = await query(server.database, sql`select status from reconcile_runs where id = ${String(other[0]!.id)}::uuid`);
    expect(untouched!.status).toBe('running');
    await query(server.database, sql`delete from reconcile_runs where id = ${String(other[0]!.id)}::uuid`);
  });

  it.skipIf(!onPostgres)('a run whose lock connection dies stops, is recorded failed, and the next run can start', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let paused = false;
    api.interfere = async (url) => {
      if (url.pathname === '/api/v1/dsync/users' && !paused) {
        paused = true;
        await held;
      }
      return undefined;
    };
    try {
      const t = await tenantGlobalId();
      const started = (await gqlData<{ reconcile: RunView }>(server, START, { t, source: 'polis' })).reconcile;
      await expect.poll(() => paused, { message: 'the run to be reading users' }).toBe(true);
      // Postgres ends the session that holds the run's advisory lock, as a failover or an
      // idle-session killer would: the lock goes with it, and another process could take it.
      const killed = await query(
        server.database,
        sql`select pg_terminate_backend(pid) as ok from pg_locks where locktype = 'advisory' and granted and database = (select oid from pg_database where datname = current_database())`,
      );
      expect(killed.length).toBe(1);
      const failed = await finished(server, started.id);
      expect(failed.status).toBe('failed');
      expect(failed.error).toMatch(/lost the lock .*the database connection holding it closed/);
      release();
      api.interfere = undefined;
      // The pool may hand the next statement the connection Postgres just ended before it has
      // noticed: that is a 503 (retry), as the API promises, never a wrong answer. Retried so.
      let next: RunView | undefined;
      await expect
        .poll(async () => {
          const reply = await gql(server, START, { t, source: 'polis' });
          if (reply.status === 503) return false;
          expect(reply.errors).toBeUndefined();
          next = (reply.data as { reconcile: RunView }).reconcile;
          return true;
        }, { message: 'the next run to start' })
        .toBe(true);
      expect((await finished(server, next!.id)).status).toBe('succeeded');
    } finally {
      release();
      api.interfere = undefined;
    }
  });

  it('refuses tenant keys, a source the tenant is not from, and unknown tenants, with clear errors', async () => {
    const t = await tenantGlobalId();
    const [row] = await query(server.database, sql`select id from tenants where external_id = ${acme.tenant}`);
    const key = await tenantKey(server, String(row!.id), 'acme frontend');
    const forbidden = await gql(server, START, { t, source: 'polis' }, key);
    expect(forbidden.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const runsForbidden = await gql(server, `{ reconcileRuns { id } }`, {}, key);
    expect(runsForbidden.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    const wrongSource = await gql(server, START, { t, source: 'stytch' });
    expect(wrongSource.errors?.[0]).toMatchObject({ message: 'the tenant comes from polis, not stytch', extensions: { code: 'BAD_USER_INPUT', argument: 'source' } });
    const unknown = await gql(server, START, { t: Buffer.from('Tenant:00000000-0000-4000-8000-000000000000').toString('base64url'), source: 'polis' });
    expect(unknown.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const notATenant = await gql(server, START, { t: 'nope', source: 'polis' });
    expect(notATenant.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'tenantId' });
  });

  it('two instances asked at once run it once: the second run is skipped and reads nothing', async () => {
    const handle = server.databaseUrl ? await openDatabase({ databaseUrl: server.databaseUrl, poolSize: 3 }) : server.database;
    const second = await startTestServer({
      env: { POLIS_WEBHOOK_SECRET: secret, POLIS_API_URL: api.url, POLIS_API_KEY: apiKey },
      database: { handle, url: server.databaseUrl, dispose: async () => (handle === server.database ? undefined : handle.close()) },
    });
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let reads = 0;
    api.interfere = async (url) => {
      if (url.pathname === '/api/v1/sso' && url.searchParams.get('tenant') === acme.tenant) {
        reads++;
        if (reads === 1) await held;
      }
      return undefined;
    };
    try {
      const t = await tenantGlobalId();
      const first = (await gqlData<{ reconcile: RunView }>(server, START, { t, source: 'polis' })).reconcile;
      await expect.poll(() => reads, { message: 'the first run to be reading' }).toBe(1);
      const other = (await gqlData<{ reconcile: RunView }>(second, START, { t, source: 'polis' })).reconcile;
      const skipped = await finished(second, other.id);
      expect(skipped).toMatchObject({ status: 'skipped', counts: null });
      expect(skipped.error).toMatch(/another run of this tenant was in progress/);
      expect(reads).toBe(1);
      release();
      expect((await finished(server, first.id)).status).toBe('succeeded');
    } finally {
      release();
      api.interfere = undefined;
      await second.close();
    }
  });

  it.skipIf(!onPostgres)('npm run reconcile as its own process, beside the running service', async () => {
    recorder.dropping = true;
    await scim(entra.createUser(person('p-11', 'Frances')));
    recorder.dropping = false;
    const env = { DATABASE_URL: server.databaseUrl!, POLIS_API_URL: api.url, POLIS_API_KEY: apiKey };

    const dry = await runScript('src/cli/reconcile.ts', ['polis', '--tenant', acme.tenant, '--dry-run'], env);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(`polis tenant ${acme.tenant}, product ${acme.product}: would change (dry run, nothing applied)`);
    expect(dry.stdout).toMatch(/members\s+1\s+0\s+0\s+\d+\s+0/);

    const real = await runScript('src/cli/reconcile.ts', ['polis', '--tenant', acme.tenant, '--product', acme.product], env);
    expect(real.code, real.stderr).toBe(0);
    // The id it prints is the one GraphQL takes, as reconcileRuns(id:) and as node(id:).
    const printed = /reconciled in [\d.]+ s \(run ([A-Za-z0-9_-]+)\)/.exec(real.stdout)?.[1];
    expect(printed).toBeDefined();
    const byId = await gqlData<{ reconcileRuns: RunView[]; node: { __typename: string; status: string } }>(
      server,
      `query ($id: ID!) { reconcileRuns(id: $id) { ${RUN_FIELDS} } node(id: $id) { __typename ... on ReconcileRun { status } } }`,
      { id: printed },
    );
    expect(byId.reconcileRuns).toHaveLength(1);
    expect(byId.reconcileRuns[0]).toMatchObject({ id: printed, status: 'succeeded', trigger: 'cli' });
    expect(byId.node).toEqual({ __typename: 'ReconcileRun', status: 'succeeded' });
    expect(real.stdout).toMatch(/members\s+1\s+0\s+0\s+\d+\s+0/);
    expect(real.stderr).toContain('reading users of directory');
    await expectSameAsPolis('a run from the CLI');
    const [run] = await query(server.database, sql`select trigger, status from reconcile_runs order by started_at desc limit 1`);
    expect(run).toEqual({ trigger: 'cli', status: 'succeeded' });

    const refused = await runScript('src/cli/reconcile.ts', ['polis'], { ...env, POLIS_API_KEY: 'wrong' });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/failed, nothing of it was changed: Polis GET \/api\/v1\/sso.*401, the API key was refused/);

    const unconfigured = await runScript('src/cli/reconcile.ts', ['polis'], { DATABASE_URL: server.databaseUrl! });
    expect(unconfigured.code).toBe(1);
    expect(unconfigured.stderr).toContain('polis is not configured: set POLIS_API_URL and POLIS_API_KEY');
    const usage = await runScript('src/cli/reconcile.ts', ['okta'], env);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/unknown provider okta: polis, stytch or workos\n\nUsage:/);
  });
});

describe(`reconciliation on a schedule (${backend})`, () => {
  it('reconciles every known tenant of the provider each interval, and stops when told', async () => {
    recorder.dropping = true;
    await scim(entra.createUser(person('p-12', 'Katherine')));
    recorder.dropping = false;
    const logs: string[] = [];
    const log = { info: (o: object, m: string) => void logs.push(`${m} ${JSON.stringify(o)}`), warn: (o: object, m: string) => void logs.push(`WARN ${m}`) };
    const deps = { database: server.database, store: createDirectoryStore(server.database.db) };
    const schedule = startSchedule(deps, [puller()], 100, log);
    try {
      await expect.poll(() => logs.some((l) => l.startsWith('scheduled reconciliation finished') && l.includes(acme.tenant)), { message: 'a scheduled run' }).toBe(true);
    } finally {
      await schedule.stop();
    }
    expect(logs.filter((l) => l.startsWith('WARN'))).toEqual([]);
    const runs = await query(server.database, sql`select status, trigger from reconcile_runs where trigger = 'schedule'`);
    expect(runs.length).toBeGreaterThan(0);
    expect(runs.every((r) => r.status === 'succeeded')).toBe(true);
    await expectSameAsPolis('a scheduled run');
  });
});
