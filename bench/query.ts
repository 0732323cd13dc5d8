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
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { generateApiKey } from '../src/auth/api-keys.js';
import { openDatabase } from '../src/db/open.js';
import { toGlobalId } from '../src/graphql/ids.js';
import { groupCount, isDeleted, seed as seedDirectory, bigTenant, type Seeded } from './support/seed-directory.js';
import { percentile, runHttpLoad, type HttpLoadResult } from './support/http-load.js';
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
const BIG = bigTenant(SCALE);
const seed = (db: Parameters<typeof seedDirectory>[0]) => seedDirectory(db, { scale: SCALE, concurrency: CONCURRENCY, page: PAGE });

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

/** Runs a workload against the server with one key, checking every answer. */
function load(server: BenchServer, apiKey: string, workload: Workload): Promise<HttpLoadResult> {
  return runHttpLoad({
    url: `${server.url}/graphql`,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
    body: workload.body,
    check: (worker, status, text) => {
      const json = JSON.parse(text) as GraphQLResponse;
      if (json.errors?.length) return `${status} ${json.errors[0]!.extensions?.code ?? ''} ${json.errors[0]!.message}`;
      if (status !== 200) return `HTTP ${status}`;
      return workload.check(worker, json.data);
    },
    concurrency: CONCURRENCY,
    warmupSeconds: WARMUP,
    seconds: SECONDS,
    pids: () => [server.pid],
  });
}

let totalErrors = 0;

function report(database: string, workload: string, key: string, r: HttpLoadResult): string {
  const errorCount = [...r.errors.values()].reduce((a, b) => a + b, 0);
  totalErrors += errorCount;
  const errors = errorCount === 0 ? 'none' : `**${[...r.errors].map(([k, v]) => `${v}× ${k}`).join('; ')}**`;
  const cpu = r.cpu ? `${(r.cpu.process[0] ?? NaN).toFixed(0)} / ${r.cpu.self.toFixed(0)} / ${r.cpu.machine.toFixed(0)}` : '-';
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
