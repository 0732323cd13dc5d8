// Read throughput and latency of the GraphQL API on a large tenant: 100,000 members, 2,000
// groups and 300,000 memberships (plus a small second tenant), seeded with SQL, queried at a
// fixed concurrency for a fixed time with an admin key and with a tenant key.
//
//   npm run bench:query                                   # embedded PGlite only
//   BENCH_DATABASE_URL=postgres://... npm run bench:query # and Postgres: a fresh database
//                                                          # dsync_bench_<random> is created
//                                                          # there and dropped at the end
//   BENCH_SECONDS=30 BENCH_CONCURRENCY=32 npm run bench:query
//
// Workloads: (a) pages of 50 members with up to 10 groups each, every worker walking forward
// from its own starting point and wrapping at the end, so deep pages are measured and not only
// the first; (b) node(id) of random members. Every answer is checked (page size, each
// member's group count, the node found); any failure is counted and reported.
//
// The server runs as its own process (as in production), started by this script, so the
// load generator does not share its event loop. BENCH_NODE_ARGS="--cpu-prof
// --cpu-prof-dir=prof" profiles it; BENCH_SCALE=0.1 seeds a tenth of the rows (a quick try);
// BENCH_KEEP=1 keeps the seeded databases for EXPLAIN ANALYZE (drop them yourself).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { createApiKey, generateApiKey } from '../src/auth/api-keys.js';
import { openDatabase, type Database } from '../src/db/open.js';
import { resultRows } from '../src/db/result.js';
import { rowCursor } from '../src/graphql/cursors.js';
import { toGlobalId } from '../src/graphql/ids.js';
import { BENCH_UNCAPPED, startBenchServer, type BenchServer } from './support/server.js';

const env = process.env;
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: env.BENCH_SECONDS ?? '15' },
    warmup: { type: 'string', default: env.BENCH_WARMUP ?? '2' },
    concurrency: { type: 'string', default: env.BENCH_CONCURRENCY ?? '16' },
    scale: { type: 'string', default: env.BENCH_SCALE ?? '1' },
  },
});
const SECONDS = Number(values.seconds);
const WARMUP = Number(values.warmup);
const CONCURRENCY = Number(values.concurrency);
const SCALE = Number(values.scale);
/** Keep the seeded databases (to EXPLAIN the server's queries on them); drop them yourself. */
const KEEP = Boolean(env.BENCH_KEEP);
const PAGE = 50;
const NESTED = 10;

const adminKey = generateApiKey();
const polisSecret = randomBytes(32).toString('hex');
const stytchSecret = `whsec_${randomBytes(32).toString('base64')}`;

// ---- seeding --------------------------------------------------------------------------------

interface TenantSpec {
  /** Prefix of every generated id and external id, unique per tenant. */
  key: string;
  provider: 'STYTCH' | 'POLIS';
  externalId: string;
  product: string;
  name: string;
  domain: string;
  members: number;
  groups: number;
}

const BIG: TenantSpec = {
  key: 'acme',
  provider: 'STYTCH',
  externalId: 'organization-live-6b5c0d1e-acme',
  product: '',
  name: 'Acme Corporation',
  domain: 'acme.example',
  members: Math.round(100_000 * SCALE),
  groups: Math.max(20, Math.round(2_000 * SCALE)),
};
const SMALL: TenantSpec = {
  key: 'globex',
  provider: 'POLIS',
  externalId: 'globex',
  product: 'bench',
  name: 'Globex',
  domain: 'globex.example',
  members: Math.round(2_000 * SCALE),
  groups: 50,
};

/**
 * How many groups member number m is in: none for about a fifth of them, 20 for one in a hundred
 * (more than the page of 10 shows), otherwise 1, 2, 4 or 7. Exactly 3 per member on average,
 * so 100,000 members have 300,000 memberships.
 */
const groupCount = (m: number) => (m % 100 === 0 ? 20 : ([0, 1, 2, 4, 7][m % 5] as number));
const groupCountSql = sql`(case when m % 100 = 0 then 20 else (array[0, 1, 2, 4, 7])[m % 5 + 1] end)`;

/** Member m is deleted (hidden from lists) for one in a hundred. */
const DELETED = sql`m % 100 = 37`;
const isDeleted = (m: number) => m % 100 === 37;

/** The ordering key of an event at time `ts` (see src/directory/version.ts). */
const versionOf = (ts: ReturnType<typeof sql>) =>
  sql`lpad((floor(extract(epoch from ${ts}) * 1000)::bigint * 1000000)::text, 20, '0') || '.000000'`;

/** A deterministic uuid, so memberships can name their member and group without a join. */
const uuidOf = (key: string, kind: string, n: ReturnType<typeof sql>) => sql`md5(${`${key}-${kind}-`} || ${n})::uuid`;

async function seedTenant(db: Database, t: TenantSpec, base: string): Promise<string> {
  const tenantId = sql`md5(${`${t.key}-tenant`})::uuid`;
  const connectionId = sql`md5(${`${t.key}-connection`})::uuid`;
  const at = sql`${base}::timestamptz`;
  await db.execute(sql`
    insert into tenants (id, provider, external_id, product, name, slug, live_version, data_version, data_hash, raw, created_at, updated_at)
    values (${tenantId}, ${t.provider}, ${t.externalId}, ${t.product}, ${t.name}, ${t.key}, ${versionOf(at)}, ${versionOf(at)},
      md5(${t.externalId}), jsonb_build_object('organization_id', ${t.externalId}::text, 'organization_name', ${t.name}::text), ${at}, ${at})`);
  await db.execute(sql`
    insert into connections (id, provider, external_id, tenant_id, kind, status, name, live_version, data_version, data_hash, raw, created_at, updated_at)
    values (${connectionId}, ${t.provider}, ${`directory-${t.key}`}, ${tenantId}, 'DIRECTORY', 'ACTIVE', 'Okta SCIM',
      ${versionOf(at)}, ${versionOf(at)}, md5(${`directory-${t.key}`}), jsonb_build_object('type', 'okta-scim-v2'), ${at}, ${at})`);

  // Groups first (an hour after the tenant, one a second), then members two a second (so
  // pairs share a created_at and the id breaks the tie), then memberships after their member.
  await db.execute(sql`
    insert into groups (id, provider, external_id, tenant_id, connection_id, name, live_version, data_version, data_hash, raw, created_at, updated_at)
    select ${uuidOf(t.key, 'group', sql`g`)}, ${t.provider}, ${`scim-group-${t.key}-`} || g, ${tenantId}, ${connectionId},
      'Team ' || g, ${versionOf(sql`ts`)}, ${versionOf(sql`ts`)}, md5(${`${t.key}-group-data-`} || g),
      jsonb_build_object('id', ${`scim-group-${t.key}-`} || g, 'display_name', 'Team ' || g), ts, ts
    from (select g, ${at} + interval '1 hour' + g * interval '1 second' as ts from generate_series(0, ${t.groups - 1}::int) g) s`);

  await db.execute(sql`
    insert into members (id, provider, external_id, tenant_id, connection_id, email, name, first_name, last_name, status, roles,
      live_version, data_version, data_hash, deleted_at, raw, created_at, updated_at)
    select ${uuidOf(t.key, 'member', sql`m`)}, ${t.provider}, ext, ${tenantId}, ${connectionId},
      'user' || m || ${`@${t.domain}`}, 'First' || m || ' Last' || m, 'First' || m, 'Last' || m, status, roles,
      ${versionOf(sql`ts`)}, ${versionOf(sql`ts`)}, md5(ext || '-data'),
      case when ${DELETED} then ts + interval '30 days' end,
      jsonb_build_object('member_id', ext, 'email_address', 'user' || m || ${`@${t.domain}`}, 'name', 'First' || m || ' Last' || m,
        'status', lower(status), 'roles', to_jsonb(roles)),
      ts, ts
    from (
      select m, ${`member-live-${t.key}-`} || m as ext,
        ${at} + interval '1 day' + (m / 2) * interval '1 second' as ts,
        case when m % 50 = 1 then 'INACTIVE' when m % 50 = 2 then 'INVITED' else 'ACTIVE' end as status,
        case when m % 100 = 5 then array['stytch_member', 'stytch_admin'] else array['stytch_member'] end as roles
      from generate_series(0, ${t.members - 1}::int) m
    ) s`);

  await db.execute(sql`
    insert into memberships (id, provider, external_id, tenant_id, group_id, member_id, live_version, data_version, data_hash, raw, created_at, updated_at)
    select ${uuidOf(t.key, 'membership', sql`m || '-' || k`)}, ${t.provider}, ${`scim-membership-${t.key}-`} || m || '-' || k, ${tenantId},
      ${uuidOf(t.key, 'group', sql`((m * 7919 + k * 101) % ${t.groups}::int)`)}, ${uuidOf(t.key, 'member', sql`m`)},
      ${versionOf(sql`ts`)}, ${versionOf(sql`ts`)}, md5(${`${t.key}-membership-data-`} || m || '-' || k), '{}'::jsonb, ts, ts
    from (
      select m, k, ${at} + interval '1 day' + (m / 2) * interval '1 second' + (k + 1) * interval '1 minute' as ts
      from generate_series(0, ${t.members - 1}::int) m
      cross join lateral generate_series(0, ${groupCountSql} - 1) k
    ) s`);

  const [row] = resultRows<{ id: string }>(await db.execute(sql`select ${tenantId}::text as id`));
  return row!.id;
}

interface Seeded {
  seedSeconds: number;
  counts: string;
  tenantId: string;
  tenantKey: string;
  /** Where each worker's walk through the member pages starts (null: the first page). */
  startCursors: (string | null)[];
  /** Global ids of the big tenant's members, for node(id). */
  memberIds: string[];
}

async function seed(db: Database): Promise<Seeded> {
  const t0 = performance.now();
  const tenantId = await seedTenant(db, BIG, '2025-03-01T09:00:00Z');
  await seedTenant(db, SMALL, '2025-06-01T09:00:00Z');
  await db.execute(sql`analyze`);
  const seedSeconds = (performance.now() - t0) / 1000;

  type Counts = Record<'members' | 'live' | 'groups' | 'memberships' | 'other_members' | 'other_memberships', number>;
  const [c] = resultRows<Counts>(
    await db.execute(sql`select
      (select count(*)::int from members where tenant_id = ${tenantId}) as members,
      (select count(*)::int from members where tenant_id = ${tenantId} and deleted_at is null) as live,
      (select count(*)::int from groups where tenant_id = ${tenantId}) as groups,
      (select count(*)::int from memberships where tenant_id = ${tenantId}) as memberships,
      (select count(*)::int from members where tenant_id <> ${tenantId}) as other_members,
      (select count(*)::int from memberships where tenant_id <> ${tenantId}) as other_memberships`),
  );
  const counts =
    `${c!.members} members (${c!.live} not deleted), ${c!.groups} groups, ${c!.memberships} memberships in the big tenant; ` +
    `${c!.other_members} members and ${c!.other_memberships} memberships in a second one`;

  const { key: tenantKey } = await createApiKey(db, { name: 'bench tenant key', tenantId });

  // Worker w starts after the (w/CONCURRENCY)th live member, on a page boundary.
  const pages = Math.ceil(c!.live / PAGE);
  const startCursors: (string | null)[] = [];
  for (let w = 0; w < CONCURRENCY; w++) {
    const offset = Math.floor((w * pages) / CONCURRENCY) * PAGE;
    if (offset === 0) {
      startCursors.push(null);
      continue;
    }
    const [p] = resultRows<{ id: string; ms: string }>(
      await db.execute(sql`
        select id::text as id, floor(extract(epoch from created_at) * 1000)::text as ms from members
        where tenant_id = ${tenantId} and deleted_at is null order by created_at, id offset ${offset - 1} limit 1`),
    );
    startCursors.push(rowCursor({ id: p!.id, ms: Number(p!.ms) }));
  }
  const memberIds = resultRows<{ id: string }>(
    await db.execute(sql`select id::text as id from members where tenant_id = ${tenantId}`),
  ).map((r) => toGlobalId('Member', r.id));
  return { seedSeconds, counts, tenantId, tenantKey, startCursors, memberIds };
}

// ---- the server -----------------------------------------------------------------------------

const startServer = (serverEnv: Record<string, string>): Promise<BenchServer> =>
  startBenchServer({
    LOG_LEVEL: env.BENCH_LOG_LEVEL ?? 'warn',
    NODE_ENV: 'production',
    ADMIN_API_KEY: adminKey,
    POLIS_WEBHOOK_SECRET: polisSecret,
    STYTCH_WEBHOOK_SECRET: stytchSecret,
    // One key stands for many clients here: the per-key caps would measure themselves.
    ...BENCH_UNCAPPED,
    ...serverEnv,
  });

// ---- load -----------------------------------------------------------------------------------

interface GraphQLResponse {
  data?: unknown;
  errors?: { message: string; extensions?: { code?: string } }[];
}

/** One kind of request: what worker `w` sends next, and whether an answer is right. */
interface Workload {
  name: string;
  body(worker: number): string;
  /** Undefined when the answer is right; otherwise what is wrong with it. */
  check(worker: number, data: unknown): string | undefined;
}

const MEMBERS_QUERY = `query ($t: ID!, $after: String) {
  members(tenantId: $t, first: ${PAGE}, after: $after) {
    edges { cursor node { email groups(first: ${NESTED}) { edges { node { name } } } } }
    pageInfo { endCursor hasNextPage }
  }
}`;
const NODE_QUERY = 'query ($id: ID!) { node(id: $id) { id ... on Member { email status } } }';

interface MembersPage {
  members: {
    edges: { cursor: string; node: { email: string | null; groups: { edges: { node: { name: string | null } }[] } } }[];
    pageInfo: { endCursor: string | null; hasNextPage: boolean };
  };
}

function pageWalk(s: Seeded): Workload {
  const tenantGlobalId = toGlobalId('Tenant', s.tenantId);
  const cursors = [...s.startCursors];
  return {
    name: `members page (${PAGE} + ${NESTED} groups each), walking`,
    body: (w) => JSON.stringify({ query: MEMBERS_QUERY, variables: { t: tenantGlobalId, after: cursors[w] ?? null } }),
    check: (w, data) => {
      const { edges, pageInfo } = (data as MembersPage).members;
      if (edges.length !== PAGE && (pageInfo.hasNextPage || edges.length === 0)) return `page of ${edges.length} members`;
      for (const { node } of edges) {
        const m = /^user(\d+)@(.+)$/.exec(node.email ?? '');
        if (m?.[2] !== BIG.domain) return `unexpected member email ${node.email}`;
        if (isDeleted(Number(m[1]))) return 'a deleted member listed';
        const want = Math.min(NESTED, groupCount(Number(m[1])));
        if (node.groups.edges.length !== want) return `member with ${node.groups.edges.length} groups, expected ${want}`;
      }
      cursors[w] = pageInfo.hasNextPage ? pageInfo.endCursor : null;
      return undefined;
    },
  };
}

function nodeLookups(s: Seeded): Workload {
  const asked: string[] = [];
  return {
    name: 'node(id) of a random member',
    body: (w) => {
      asked[w] = s.memberIds[Math.floor(Math.random() * s.memberIds.length)]!;
      return JSON.stringify({ query: NODE_QUERY, variables: { id: asked[w] } });
    },
    check: (w, data) => {
      const node = (data as { node: { id: string; email?: string; status?: string } | null }).node;
      if (node === null) return 'node not found';
      if (node.id !== asked[w] || !node.email || !node.status) return 'wrong node';
      return undefined;
    },
  };
}

interface Result {
  ok: number;
  failed: number;
  errors: Map<string, number>;
  latencies: number[];
  seconds: number;
  cpu: CpuUse | undefined;
}

// ---- CPU use over the measured window (Linux /proc; elsewhere not shown) ----------------------

/** Seconds of CPU used, and elapsed seconds. */
interface CpuSnapshot {
  server: number;
  bench: number;
  machineBusy: number;
  machineTotal: number;
  at: number;
}
/** In % of one core, except machine: % of all cores busy (server, bench, database, anything else). */
interface CpuUse {
  server: number;
  bench: number;
  machine: number;
}
const TICKS = 100; // USER_HZ, 100 on every Linux that matters

function cpuSnapshot(serverPid: number): CpuSnapshot | undefined {
  try {
    const stat = readFileSync(`/proc/${serverPid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields[11], [12]: utime, stime
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    const [user, nice, system, idle, iowait, irq, softirq, steal] = cpu as [number, number, number, number, number, number, number, number];
    const usage = process.cpuUsage();
    return {
      server: (Number(fields[11]) + Number(fields[12])) / TICKS,
      bench: (usage.user + usage.system) / 1e6,
      machineBusy: (user + nice + system + irq + softirq + steal) / TICKS,
      machineTotal: (user + nice + system + idle + iowait + irq + softirq + steal) / TICKS,
      at: performance.now() / 1000,
    };
  } catch {
    return undefined;
  }
}

function cpuUse(a: CpuSnapshot | undefined, b: CpuSnapshot | undefined): CpuUse | undefined {
  if (!a || !b) return undefined;
  const seconds = b.at - a.at;
  return {
    server: (100 * (b.server - a.server)) / seconds,
    bench: (100 * (b.bench - a.bench)) / seconds,
    machine: (100 * (b.machineBusy - a.machineBusy)) / (b.machineTotal - a.machineTotal),
  };
}

async function load(server: BenchServer, apiKey: string, workload: Workload): Promise<Result> {
  const { url } = server;
  const latencies: number[] = [];
  const errors = new Map<string, number>();
  let ok = 0;
  let failed = 0;
  const start = performance.now();
  const measureFrom = start + WARMUP * 1000;
  const end = measureFrom + SECONDS * 1000;
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` };
  let cpuFrom: CpuSnapshot | undefined;
  let cpuTo: CpuSnapshot | undefined;
  const timers = [
    setTimeout(() => (cpuFrom = cpuSnapshot(server.pid)), WARMUP * 1000),
    setTimeout(() => (cpuTo = cpuSnapshot(server.pid)), (WARMUP + SECONDS) * 1000),
  ];
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, worker) => {
      while (performance.now() < end) {
        const body = workload.body(worker);
        const t0 = performance.now();
        let problem: string | undefined;
        try {
          // Node's fetch (undici) keeps connections alive and reuses them.
          const response = await fetch(`${url}/graphql`, { method: 'POST', headers, body });
          const json = (await response.json()) as GraphQLResponse;
          if (json.errors?.length) problem = `${response.status} ${json.errors[0]!.extensions?.code ?? ''} ${json.errors[0]!.message}`;
          else if (response.status !== 200) problem = `HTTP ${response.status}`;
          else problem = workload.check(worker, json.data);
        } catch (error) {
          problem = (error as Error).message;
        }
        const t1 = performance.now();
        if (t0 < measureFrom || t1 > end) {
          // Outside the window, but never silently wrong.
          if (problem !== undefined) errors.set(`(warm-up) ${problem}`, (errors.get(`(warm-up) ${problem}`) ?? 0) + 1);
          continue;
        }
        if (problem === undefined) {
          ok++;
          latencies.push(t1 - t0);
        } else {
          failed++;
          errors.set(problem, (errors.get(problem) ?? 0) + 1);
        }
      }
    }),
  );
  timers.forEach(clearTimeout);
  cpuTo ??= cpuSnapshot(server.pid); // the last requests can end before the timer fires
  return { ok, failed, errors, latencies: latencies.sort((a, b) => a - b), seconds: SECONDS, cpu: cpuUse(cpuFrom, cpuTo) };
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

let totalErrors = 0;

function report(database: string, workload: string, key: string, r: Result): string {
  const errorCount = [...r.errors.values()].reduce((a, b) => a + b, 0);
  totalErrors += errorCount;
  const errors = errorCount === 0 ? 'none' : `**${[...r.errors].map(([k, v]) => `${v}× ${k}`).join('; ')}**`;
  const cpu = r.cpu ? `${r.cpu.server.toFixed(0)} / ${r.cpu.bench.toFixed(0)} / ${r.cpu.machine.toFixed(0)}` : '-';
  return `| ${database} | ${workload} | ${key} | ${(r.ok / r.seconds).toFixed(0)} | ${percentile(r.latencies, 50).toFixed(1)} | ${percentile(r.latencies, 99).toFixed(1)} | ${(r.latencies.at(-1) ?? NaN).toFixed(1)} | ${cpu} | ${errors} |`;
}

/** Every workload with both keys against one running server. */
async function measure(database: string, server: BenchServer, s: Seeded): Promise<string[]> {
  const rows: string[] = [];
  for (const make of [pageWalk, nodeLookups]) {
    for (const [keyName, key] of [
      ['admin (ADMIN_API_KEY)', adminKey],
      ['tenant (api_keys row)', s.tenantKey],
    ] as const) {
      const workload = make(s);
      const row = report(database, workload.name, keyName, await load(server, key, workload));
      console.log(row);
      rows.push(row);
    }
  }
  return rows;
}

// ---- backends -------------------------------------------------------------------------------

const elapsed = (t0: number) => ((performance.now() - t0) / 1000).toFixed(1);

async function embedded(): Promise<string[]> {
  const dataDir = await mkdtemp(join(tmpdir(), 'dsync-bench-query-'));
  try {
    const t0 = performance.now();
    const handle = await openDatabase({ pgliteDir: join(dataDir, 'pglite') });
    let seeded: Seeded;
    try {
      console.log(`PGlite: migrated in ${elapsed(t0)} s; seeding…`);
      seeded = await seed(handle.db);
    } finally {
      await handle.close();
    }
    console.log(`PGlite: ${handle.description}, in the server process (one connection)`);
    console.log(`PGlite: seeded ${seeded.counts} in ${seeded.seedSeconds.toFixed(1)} s (inserts and analyze)`);
    const server = await startServer({ DATA_DIR: dataDir });
    try {
      return await measure('embedded PGlite (on disk)', server, seeded);
    } finally {
      await server.stop();
    }
  } finally {
    if (KEEP) console.log(`PGlite: BENCH_KEEP set, data kept in ${dataDir}`);
    else await rm(dataDir, { recursive: true, force: true });
  }
}

async function onPostgres(adminUrl: string): Promise<string[]> {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  const name = `dsync_bench_${randomBytes(6).toString('hex')}`;
  const dataDir = await mkdtemp(join(tmpdir(), 'dsync-bench-query-'));
  try {
    const [v] = await admin<{ version: string; fsync: string; shared_buffers: string }[]>`
      select split_part(version(), ' on ', 1) as version, current_setting('fsync') as fsync,
        current_setting('shared_buffers') as shared_buffers`;
    await admin.unsafe(`create database ${name}`);
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    const version = /PostgreSQL (\S+)/.exec(v!.version)?.[1] ?? '?';
    console.log(`Postgres: ${v!.version}, fsync ${v!.fsync}, shared_buffers ${v!.shared_buffers}; the server uses postgres.js, pool 10`);
    try {
      const t0 = performance.now();
      const handle = await openDatabase({ databaseUrl: url.toString() });
      let seeded: Seeded;
      try {
        console.log(`Postgres: created database ${name}, migrated in ${elapsed(t0)} s; seeding…`);
        seeded = await seed(handle.db);
      } finally {
        await handle.close();
      }
      console.log(`Postgres: seeded ${seeded.counts} in ${seeded.seedSeconds.toFixed(1)} s (inserts and analyze)`);
      const server = await startServer({ DATABASE_URL: url.toString(), DATA_DIR: dataDir });
      try {
        return await measure(`Postgres ${version}`, server, seeded);
      } finally {
        await server.stop();
      }
    } finally {
      if (KEEP) console.log(`Postgres: BENCH_KEEP set, database kept: ${url.toString()}`);
      else await admin.unsafe(`drop database if exists ${name} with (force)`);
    }
  } finally {
    await admin.end({ timeout: 5 });
    await rm(dataDir, { recursive: true, force: true });
  }
}

async function main() {
  console.log(
    `query benchmark: ${CONCURRENCY} concurrent clients, ${WARMUP} s warm-up, ${SECONDS} s measured per workload; ` +
      `${cpus().length} × ${cpus()[0]?.model.trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}` +
      (SCALE === 1 ? '' : `; BENCH_SCALE ${SCALE}`),
  );
  const header = [
    '| database | workload | key | requests/s | p50 ms | p99 ms | max ms | CPU % server / bench / machine | errors |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  console.log(header.join('\n'));
  const rows = await embedded();
  const pgUrl = env.BENCH_DATABASE_URL;
  if (pgUrl) rows.push(...(await onPostgres(pgUrl)));
  else rows.push('| Postgres | skipped: set BENCH_DATABASE_URL | | | | | | | |');
  console.log(['', ...header, ...rows].join('\n'));
  console.log(
    '\nCPU: the server process and this load generator in % of one core; machine: % of all cores busy ' +
      `(of ${cpus().length}; includes the database and anything else running).`,
  );
  if (totalErrors > 0) {
    console.error(`\n!!! ${totalErrors} requests failed or returned wrong answers: these figures are NOT valid (see the errors column) !!!`);
    process.exitCode = 1;
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
