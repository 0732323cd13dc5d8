// The service's reads side by side with PostGraphile v4 on the same Postgres database, loaded
// alternately by the same load generator, so each figure is a ratio measured in one run.
//
//   BENCH_DATABASE_URL=postgres://... npm run bench:peer
//   BENCH_SECONDS=10 BENCH_ROUNDS=2 BENCH_CONCURRENCY=16 BENCH_SCALE=1 npm run bench:peer
//   npm run bench:peer -- --only "by id"      # one workload (BENCH_NODE_ARGS profiles the service)
//
// A fresh database (dsync_bench_<random>, dropped at the end) is migrated by our migrations and
// seeded as bench:query seeds it (100,000 members, 2,000 groups, 300,000 memberships in one
// tenant). Then the service and PostGraphile 4 (production flags: no GraphiQL, no query log,
// pool of 10 like ours; pg-simplify-inflector and pg-many-to-many so the same page can be asked
// for) run as their own processes over it. Before measuring, both are asked for the pages and
// members measured and must return the same members, in the same order, with the same groups.
//
// Workloads: the first page of 50 members with up to 10 groups each; the page after member
// 50,000; one member by id (the service's node(id), PostGraphile's member(id)). The service is
// loaded with the admin key and with a tenant key; PostGraphile has no keys, so it runs its one
// query, measured between the service's two runs: service (admin), PostGraphile, service
// (tenant), PostGraphile, for BENCH_ROUNDS rounds. Printed: requests/s, p50/p99, CPU ms per
// request of the server and of Postgres (the database's backends), and the ratios.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { generateApiKey } from '../src/auth/api-keys.js';
import { openDatabase } from '../src/db/open.js';
import { resultRows } from '../src/db/result.js';
import { rowCursor } from '../src/graphql/cursors.js';
import { toGlobalId } from '../src/graphql/ids.js';
import { percentile, runHttpLoad, type HttpLoadResult } from './support/http-load.js';
import { postgresProcesses } from './support/proc.js';
import { seed, type Seeded } from './support/seed-directory.js';
import { BENCH_UNCAPPED, startBenchServer, type BenchServer } from './support/server.js';

const env = process.env;
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: env.BENCH_SECONDS ?? '10' },
    warmup: { type: 'string', default: env.BENCH_WARMUP ?? '2' },
    concurrency: { type: 'string', default: env.BENCH_CONCURRENCY ?? '16' },
    scale: { type: 'string', default: env.BENCH_SCALE ?? '1' },
    rounds: { type: 'string', default: env.BENCH_ROUNDS ?? '2' },
    // Measure only the workloads whose name contains this (say "by id"), to profile one.
    only: { type: 'string' },
  },
});
const SECONDS = Number(values.seconds);
const WARMUP = Number(values.warmup);
const CONCURRENCY = Number(values.concurrency);
const SCALE = Number(values.scale);
const ROUNDS = Number(values.rounds);
const PAGE = 50;
const NESTED = 10;
const POOL = 10;

const adminKey = generateApiKey();

// ---- the two servers --------------------------------------------------------------------------

interface Peer {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** PostGraphile lives in bench/peer, a package of its own (see its package.json for why). */
const PEER_DIR = fileURLToPath(new URL('./peer/', import.meta.url));
const peerRequire = createRequire(join(PEER_DIR, 'package.json'));

/** Installs the peer from its lockfile the first time. */
function installPeer(): void {
  if (existsSync(join(PEER_DIR, 'node_modules', 'postgraphile'))) return;
  console.log('installing PostGraphile into bench/peer (once)…');
  const npm = spawnSync('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: PEER_DIR, stdio: 'inherit' });
  if (npm.status !== 0) throw new Error(`npm ci in ${PEER_DIR} failed (${npm.status ?? npm.signal})`);
}

async function startPostGraphile(databaseUrl: string): Promise<Peer> {
  installPeer();
  const cli = peerRequire.resolve('postgraphile/cli.js');
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      cli,
      '--connection', databaseUrl,
      '--schema', 'public',
      '--host', '127.0.0.1',
      '--port', String(port),
      '--max-pool-size', String(POOL),
      '--append-plugins', '@graphile-contrib/pg-simplify-inflector,@graphile-contrib/pg-many-to-many',
      '--disable-query-log',
      '--disable-graphiql',
      '--no-setof-functions-contain-nulls',
      '--legacy-relations', 'omit',
    ],
    { env: { PATH: env.PATH ?? '', HOME: env.HOME ?? '', NODE_ENV: 'production' } },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`PostGraphile exited with ${code}:\n${out}`))),
  );
  const url = `http://127.0.0.1:${port}/graphql`;
  // Ready once it answers a query (it builds its schema from the database first).
  const ready = (async () => {
    for (;;) {
      try {
        const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' });
        if (r.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  await Promise.race([ready, exited]);
  return {
    url,
    pid: child.pid ?? 0,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

async function ask<T>(url: string, query: string, variables: Record<string, unknown>, key?: string): Promise<T> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const json = (await response.json()) as { data?: T; errors?: { message: string }[] };
  if (json.errors?.length || !json.data) throw new Error(`${url}: ${json.errors?.[0]?.message ?? response.status}`);
  return json.data;
}

// ---- the same requests to both ----------------------------------------------------------------

const SERVICE_PAGE = `query ($t: ID!, $after: String) {
  members(tenantId: $t, first: ${PAGE}, after: $after) {
    edges { cursor node { email groups(first: ${NESTED}) { edges { node { name } } } } }
    pageInfo { endCursor hasNextPage }
  }
}`;
const SERVICE_NODE = 'query ($id: ID!) { node(id: $id) { id ... on Member { email status } } }';

/** PostGraphile's own spelling of the page: its member-to-group field is found by introspection. */
const peerPage = (groupsField: string) => `query ($t: UUID!, $after: Cursor) {
  members(first: ${PAGE}, after: $after, condition: { tenantId: $t, deletedAt: null }, orderBy: [CREATED_AT_ASC, ID_ASC]) {
    edges { cursor node { email ${groupsField}(first: ${NESTED}, orderBy: [CREATED_AT_ASC, ID_ASC]) { edges { node { name } } } } }
    pageInfo { endCursor hasNextPage }
  }
}`;
const PEER_NODE = 'query ($id: UUID!) { member(id: $id) { id email status } }';

interface PageData {
  members: {
    edges: { node: { email: string | null } & Record<string, { edges: { node: { name: string | null } }[] } | string | null> }[];
  };
}

/** The members of a page and each one's groups, as both servers must list them. */
function pageShape(data: PageData, groupsField: string): string[] {
  return data.members.edges.map(({ node }) => {
    const groups = node[groupsField] as { edges: { node: { name: string | null } }[] };
    return `${node.email}: ${groups.edges.map((e) => e.node.name).join(', ')}`;
  });
}

async function groupsFieldOf(peerUrl: string): Promise<string> {
  const data = await ask<{ __type: { fields: { name: string; type: { name: string | null; ofType: { name: string | null } | null } }[] } }>(
    peerUrl,
    '{ __type(name: "Member") { fields { name type { name ofType { name } } } } }',
    {},
  );
  const field = data.__type.fields.find((f) => /^MemberGroups.*ManyToManyConnection$/.test(f.type.name ?? f.type.ofType?.name ?? ''));
  if (!field) throw new Error('PostGraphile has no many-to-many field from members to groups (is pg-many-to-many loaded?)');
  return field.name;
}

interface Workload {
  name: string;
  service(worker: number): string;
  peer(worker: number): string;
  /** Undefined when the answer is right. */
  check(text: string): string | undefined;
}

const pageCheck = (firstEmail: string) => (text: string) => {
  if (!text.includes(`"email":"${firstEmail}"`)) return 'page without its first member';
  if (text.includes('"errors"')) return text.slice(0, 200);
  return undefined;
};

async function workloads(service: BenchServer, peer: Peer, seeded: Seeded, databaseUrl: string): Promise<Workload[]> {
  const groupsField = await groupsFieldOf(peer.url);
  const tenant = toGlobalId('Tenant', seeded.tenantId);

  // The deep page starts after the 50,000th listed member (or half way at a smaller scale).
  const db = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  const [{ live }] = (await db`select count(*)::int as live from members where tenant_id = ${seeded.tenantId} and deleted_at is null`) as unknown as [{ live: number }];
  const depth = Math.min(50_000, Math.floor(live / 2));
  const [at] = await db<{ id: string; ms: string }[]>`
    select id::text as id, floor(extract(epoch from created_at) * 1000)::text as ms from members
    where tenant_id = ${seeded.tenantId} and deleted_at is null order by created_at, id offset ${depth - 1} limit 1`;
  const memberIds = (await db<{ id: string }[]>`select id::text as id from members where tenant_id = ${seeded.tenantId} and deleted_at is null`).map((r) => r.id);
  await db.end();
  const serviceDeep = rowCursor({ id: at!.id, ms: Number(at!.ms) });
  const peerCursorData = await ask<{ members: { edges: { cursor: string }[] } }>(
    peer.url,
    `query ($t: UUID!) { members(first: 1, offset: ${depth - 1}, condition: { tenantId: $t, deletedAt: null }, orderBy: [CREATED_AT_ASC, ID_ASC]) { edges { cursor } } }`,
    { t: seeded.tenantId },
  );
  const peerDeep = peerCursorData.members.edges[0]!.cursor;

  // Both must return the same members, in the same order, with the same groups.
  const pages: Workload[] = [];
  for (const [name, serviceAfter, peerAfter] of [
    ['first members page, 50 × up to 10 groups', null, null],
    [`members page after member ${depth.toLocaleString('en')}`, serviceDeep, peerDeep],
  ] as const) {
    const ours = pageShape(
      await ask<PageData>(`${service.url}/graphql`, SERVICE_PAGE, { t: tenant, after: serviceAfter }, adminKey),
      'groups',
    );
    const theirs = pageShape(await ask<PageData>(peer.url, peerPage(groupsField), { t: seeded.tenantId, after: peerAfter }), groupsField);
    if (ours.length !== PAGE || JSON.stringify(ours) !== JSON.stringify(theirs)) {
      throw new Error(`the two servers disagree on "${name}":\nservice:     ${ours.slice(0, 3).join(' | ')}\nPostGraphile: ${theirs.slice(0, 3).join(' | ')}`);
    }
    const firstEmail = ours[0]!.split(':')[0]!;
    pages.push({
      name,
      service: () => JSON.stringify({ query: SERVICE_PAGE, variables: { t: tenant, after: serviceAfter } }),
      peer: () => JSON.stringify({ query: peerPage(groupsField), variables: { t: seeded.tenantId, after: peerAfter } }),
      check: pageCheck(firstEmail),
    });
  }
  for (const id of memberIds.slice(0, 20)) {
    const ours = await ask<{ node: { email: string; status: string } }>(`${service.url}/graphql`, SERVICE_NODE, { id: toGlobalId('Member', id) }, adminKey);
    const theirs = await ask<{ member: { email: string; status: string } }>(peer.url, PEER_NODE, { id });
    if (ours.node.email !== theirs.member.email || ours.node.status !== theirs.member.status) {
      throw new Error(`the two servers disagree on member ${id}`);
    }
  }
  const pick = () => memberIds[Math.floor(Math.random() * memberIds.length)]!;
  return [
    ...pages,
    {
      name: 'one member by id',
      service: () => JSON.stringify({ query: SERVICE_NODE, variables: { id: toGlobalId('Member', pick()) } }),
      peer: () => JSON.stringify({ query: PEER_NODE, variables: { id: pick() } }),
      check: (text) => (text.includes('"email":"user') ? undefined : text.slice(0, 200)),
    },
  ];
}

// ---- measuring --------------------------------------------------------------------------------

interface Run {
  workload: string;
  server: 'service (admin key)' | 'service (tenant key)' | 'PostGraphile';
  result: HttpLoadResult;
}

async function measure(
  service: BenchServer,
  peer: Peer,
  seeded: Seeded,
  database: string,
  list: Workload[],
): Promise<Run[]> {
  const runs: Run[] = [];
  const pg = () => postgresProcesses(database);
  const one = async (w: Workload, server: Run['server']): Promise<void> => {
    const isPeer = server === 'PostGraphile';
    const key = server === 'service (admin key)' ? adminKey : seeded.tenantKey;
    const result = await runHttpLoad({
      url: isPeer ? peer.url : `${service.url}/graphql`,
      headers: { 'content-type': 'application/json', ...(isPeer ? {} : { authorization: `Bearer ${key}` }) },
      body: isPeer ? w.peer : w.service,
      check: (_worker, status, text) => (status === 200 ? w.check(text) : `HTTP ${status} ${text.slice(0, 120)}`),
      concurrency: CONCURRENCY,
      warmupSeconds: WARMUP,
      seconds: SECONDS,
      pids: () => [isPeer ? peer.pid : service.pid, ...pg()],
    });
    runs.push({ workload: w.name, server, result });
    console.log(row(runs.at(-1)!));
  };
  for (const w of list) {
    for (let round = 0; round < ROUNDS; round++) {
      await one(w, 'service (admin key)');
      await one(w, 'PostGraphile');
      await one(w, 'service (tenant key)');
      await one(w, 'PostGraphile');
    }
  }
  return runs;
}

const rate = (r: HttpLoadResult) => r.ok / r.seconds;
/** CPU ms per request: the server's, then Postgres's (every other process measured). */
function cpuPerRequest(r: HttpLoadResult): [number, number] {
  if (!r.cpu || r.ok === 0) return [NaN, NaN];
  const perSecond = rate(r);
  const [server, ...db] = r.cpu.process;
  return [(10 * (server ?? NaN)) / perSecond, (10 * db.reduce((a, b) => a + b, 0)) / perSecond];
}

function row(r: Run): string {
  const errors = r.result.failed === 0 ? 'none' : `**${[...r.result.errors].map(([k, v]) => `${v}× ${k}`).join('; ')}**`;
  const [server, db] = cpuPerRequest(r.result);
  return (
    `| ${r.workload} | ${r.server} | ${rate(r.result).toFixed(0)} | ${percentile(r.result.latencies, 50).toFixed(1)} | ` +
    `${percentile(r.result.latencies, 99).toFixed(1)} | ${server.toFixed(2)} | ${db.toFixed(2)} | ${r.result.cpu?.machine.toFixed(0) ?? '-'}% | ${errors} |`
  );
}

/** Per workload and key: the service against the PostGraphile runs of the same rounds. */
function ratios(runs: Run[]): string[] {
  const out = [
    '| workload | key | service req/s ÷ PostGraphile | service CPU ms/req ÷ PostGraphile | service p99 ÷ PostGraphile |',
    '|---|---|---|---|---|',
  ];
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  for (const workload of [...new Set(runs.map((r) => r.workload))]) {
    const peer = runs.filter((r) => r.workload === workload && r.server === 'PostGraphile').map((r) => r.result);
    for (const server of ['service (admin key)', 'service (tenant key)'] as const) {
      const ours = runs.filter((r) => r.workload === workload && r.server === server).map((r) => r.result);
      const reqs = mean(ours.map(rate)) / mean(peer.map(rate));
      const cpu = mean(ours.map((r) => cpuPerRequest(r)[0])) / mean(peer.map((r) => cpuPerRequest(r)[0]));
      const p99 = mean(ours.map((r) => percentile(r.latencies, 99))) / mean(peer.map((r) => percentile(r.latencies, 99)));
      out.push(`| ${workload} | ${server.replace('service ', '')} | **${reqs.toFixed(2)}** | ${cpu.toFixed(2)} | ${p99.toFixed(2)} |`);
    }
  }
  return out;
}

// ---- main -------------------------------------------------------------------------------------

async function main() {
  const adminUrl = env.BENCH_DATABASE_URL;
  if (!adminUrl) {
    console.error('bench:peer needs BENCH_DATABASE_URL=postgres://... (a server where it may create and drop a database)');
    process.exit(2);
  }
  console.log(
    `peer query benchmark: ${CONCURRENCY} concurrent clients, ${WARMUP} s warm-up, ${SECONDS} s measured per run, ` +
      `${ROUNDS} rounds; ${cpus().length} × ${cpus()[0]?.model.trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}` +
      (SCALE === 1 ? '' : `; BENCH_SCALE ${SCALE}`),
  );
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  const name = `dsync_bench_${randomBytes(6).toString('hex')}`;
  const dataDir = await mkdtemp(join(tmpdir(), 'dsync-bench-peer-'));
  let service: BenchServer | undefined;
  let peer: Peer | undefined;
  try {
    const [v] = await admin<{ version: string }[]>`select split_part(version(), ' on ', 1) as version`;
    await admin.unsafe(`create database ${name}`);
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    const handle = await openDatabase({ databaseUrl: url.toString() });
    let seeded: Seeded;
    try {
      seeded = await seed(handle.db, { scale: SCALE, concurrency: 1, page: PAGE });
      const [c] = resultRows<{ n: number }>(await handle.db.execute(sql`select count(*)::int as n from members`));
      console.log(`${v!.version}; seeded ${c!.n} members in ${seeded.seedSeconds.toFixed(1)} s`);
    } finally {
      await handle.close();
    }
    service = await startBenchServer({
      LOG_LEVEL: 'warn',
      NODE_ENV: 'production',
      DATABASE_URL: url.toString(),
      DATA_DIR: dataDir,
      ADMIN_API_KEY: adminKey,
      POLIS_WEBHOOK_SECRET: randomBytes(32).toString('hex'),
      // One key stands for many clients here: the per-key caps would measure themselves.
      ...BENCH_UNCAPPED,
      // The key cache is off by default (see docs/configuration.md); measured with it on.
      API_KEY_CACHE_SECONDS: env.BENCH_API_KEY_CACHE_SECONDS ?? '60',
    });
    peer = await startPostGraphile(url.toString());
    const list = await workloads(service, peer, seeded, url.toString());
    console.log('both servers return the same members, order and groups for the pages and members measured\n');
    const header = [
      '| workload | server | requests/s | p50 ms | p99 ms | server CPU ms/req | Postgres CPU ms/req | machine busy | errors |',
      '|---|---|---|---|---|---|---|---|---|',
    ];
    console.log(header.join('\n'));
    const chosen = values.only ? list.filter((w) => w.name.includes(values.only!)) : list;
    if (chosen.length === 0) throw new Error(`no workload matches --only ${values.only}: ${list.map((w) => w.name).join('; ')}`);
    const runs = await measure(service, peer, seeded, name, chosen);
    console.log(['', ...header, ...runs.map(row), '', ...ratios(runs)].join('\n'));
    console.log(
      `\nPostGraphile ${(peerRequire('postgraphile/package.json') as { version: string }).version} (pool ${POOL}), ` +
        `the service (postgres.js, pool ${POOL}); Postgres CPU: the benchmark database's backends and its server's own processes.`,
    );
    if (runs.some((r) => r.result.failed > 0)) {
      console.error('\n!!! requests failed or returned wrong answers: these figures are NOT valid (see the errors column) !!!');
      process.exitCode = 1;
    }
  } finally {
    await service?.stop();
    await peer?.stop();
    await admin.unsafe(`drop database if exists ${name} with (force)`).catch(() => {});
    await admin.end({ timeout: 5 });
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
