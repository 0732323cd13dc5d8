// The service's reads side by side with PostGraphile 4 and PostGraphile 5 on the same Postgres
// database, loaded alternately by the same load generator, so each figure is a ratio measured in
// one run. All three servers run on Node 22 (the Docker image's; PostGraphile 5 needs it): on an
// older Node this script fetches Node 22 from the npm registry and runs itself again on it.
//
//   BENCH_DATABASE_URL=postgres://... npm run bench:peer
//   BENCH_SECONDS=10 BENCH_ROUNDS=2 BENCH_CONCURRENCY=16 BENCH_SCALE=1 npm run bench:peer
//   npm run bench:peer -- --only "by id"      # one workload (BENCH_NODE_ARGS profiles the service)
//
// A fresh database (dsync_bench_<random>, dropped at the end) is migrated by our migrations and
// seeded as bench:query seeds it (100,000 members, 2,000 groups, 300,000 memberships in one
// tenant). Then the service and both PostGraphiles (production settings: no GraphiQL, no query
// log, pool of 10 like ours; simplify-inflection and many-to-many so the same page can be asked
// for) run as their own processes over it, each PostGraphile from a package of its own
// (bench/peer: v4, bench/peer5: v5, installed from their lockfiles on first use). Before
// measuring, all three are asked for the pages and members measured and must return the same
// members, in the same order, with the same groups.
//
// Workloads: the first page of 50 members with up to 10 groups each; the page after member
// 50,000; one member by id (the service's node(id), PostGraphile's member lookup). Each round
// runs, per workload: the service with the admin key, PostGraphile 4, PostGraphile 5, the service
// with a tenant key. Printed: requests/s, p50/p99, CPU ms per request of the server and of
// Postgres (the database's backends), and the service's ratios to each peer.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
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
import { onNode22 } from './support/node22.js';
import { postgresProcesses } from './support/proc.js';
import { seed, type Seeded } from './support/seed-directory.js';
import { BENCH_UNCAPPED, startBenchServer, type BenchServer } from './support/server.js';

onNode22(fileURLToPath(import.meta.url));

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

// ---- the peers --------------------------------------------------------------------------------

type PeerName = 'PostGraphile 4' | 'PostGraphile 5';

interface Peer {
  name: PeerName;
  version: string;
  url: string;
  pid: number;
  /** The page query in this peer's spelling; its member-to-group field found by introspection. */
  page(groupsField: string): string;
  /** orderBy for (created_at, id). */
  order: string;
  /** One member by its uuid, with the same fields the service's node(id) is asked for. */
  node: string;
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

/** Each PostGraphile is a package of its own (see their package.json for why), installed from its lockfile the first time. */
function peerPackage(folder: string, probe: string) {
  const dir = fileURLToPath(new URL(`./${folder}/`, import.meta.url));
  if (!existsSync(join(dir, 'node_modules', probe))) {
    console.log(`installing ${probe} into bench/${folder} (once)…`);
    const npm = spawnSync('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: dir, stdio: 'inherit' });
    if (npm.status !== 0) throw new Error(`npm ci in ${dir} failed (${npm.status ?? npm.signal})`);
  }
  const require = createRequire(join(dir, 'package.json'));
  // Read from the file: v5's exports do not include its package.json.
  const { version } = JSON.parse(readFileSync(join(dir, 'node_modules', 'postgraphile', 'package.json'), 'utf8')) as { version: string };
  return { dir, require, version };
}

/** Runs a peer's process until it answers `{ __typename }` (it builds its schema from the database first). */
async function runPeer(args: string[], cwd: string, childEnv: Record<string, string>, url: (out: string) => string | undefined) {
  const child = spawn(process.execPath, args, { cwd, env: { PATH: env.PATH ?? '', HOME: env.HOME ?? '', NODE_ENV: 'production', ...childEnv } });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}:\n${out}`))));
  const ready = (async () => {
    for (;;) {
      const at = url(out);
      if (at) {
        try {
          const r = await fetch(at, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' });
          if (r.ok) return at;
        } catch {
          // not listening yet
        }
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  const at = await Promise.race([ready, exited]);
  return {
    url: at,
    pid: child.pid ?? 0,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** The page in PostGraphile's spelling; `order` names the (created_at, id) order in its inflection. */
const pageOf = (order: string) => (groupsField: string) => `query ($t: UUID!, $after: Cursor) {
  members(first: ${PAGE}, after: $after, condition: { tenantId: $t, deletedAt: null }, orderBy: ${order}) {
    edges { cursor node { email ${groupsField}(first: ${NESTED}, orderBy: ${order}) { edges { node { name } } } } }
    pageInfo { endCursor hasNextPage }
  }
}`;

async function startPostGraphile4(databaseUrl: string): Promise<Peer> {
  const pkg = peerPackage('peer', 'postgraphile');
  const port = await freePort();
  const running = await runPeer(
    [
      pkg.require.resolve('postgraphile/cli.js'),
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
    pkg.dir,
    {},
    () => `http://127.0.0.1:${port}/graphql`,
  );
  return {
    ...running,
    name: 'PostGraphile 4',
    version: pkg.version,
    order: '[CREATED_AT_ASC, ID_ASC]',
    page: pageOf('[CREATED_AT_ASC, ID_ASC]'),
    node: 'query ($id: UUID!) { member(id: $id) { id email status } }',
  };
}

async function startPostGraphile5(databaseUrl: string): Promise<Peer> {
  const pkg = peerPackage('peer5', 'postgraphile');
  const running = await runPeer(['serve.mjs'], pkg.dir, { DATABASE_URL: databaseUrl, HOST: '127.0.0.1', PORT: '0', POOL: String(POOL) }, (out) =>
    /listening on (http:\/\/\S+)/.exec(out)?.[1],
  );
  return {
    ...running,
    name: 'PostGraphile 5',
    version: pkg.version,
    // v5 names the primary key rowId.
    order: '[CREATED_AT_ASC, ROW_ID_ASC]',
    page: pageOf('[CREATED_AT_ASC, ROW_ID_ASC]'),
    // v5 names the primary key rowId and `id` is its node id, computed as the service's is.
    node: 'query ($id: UUID!) { member(rowId: $id) { id email status } }',
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

// ---- the same requests to all three -------------------------------------------------------------

const SERVICE_PAGE = `query ($t: ID!, $after: String) {
  members(tenantId: $t, first: ${PAGE}, after: $after) {
    edges { cursor node { email groups(first: ${NESTED}) { edges { node { name } } } } }
    pageInfo { endCursor hasNextPage }
  }
}`;
const SERVICE_NODE = 'query ($id: ID!) { node(id: $id) { id ... on Member { email status } } }';

interface PageData {
  members: {
    edges: { node: { email: string | null } & Record<string, { edges: { node: { name: string | null } }[] } | string | null> }[];
  };
}

/** The members of a page and each one's groups, as every server must list them. */
function pageShape(data: PageData, groupsField: string): string[] {
  return data.members.edges.map(({ node }) => {
    const groups = node[groupsField] as { edges: { node: { name: string | null } }[] };
    return `${node.email}: ${groups.edges.map((e) => e.node.name).join(', ')}`;
  });
}

async function groupsFieldOf(peer: Peer): Promise<string> {
  const data = await ask<{ __type: { fields: { name: string; type: { name: string | null; ofType: { name: string | null } | null } }[] } }>(
    peer.url,
    '{ __type(name: "Member") { fields { name type { name ofType { name } } } } }',
    {},
  );
  const field = data.__type.fields.find((f) => /^MemberGroups.*ManyToManyConnection$/.test(f.type.name ?? f.type.ofType?.name ?? ''));
  if (!field) throw new Error(`${peer.name} has no many-to-many field from members to groups (is its many-to-many plugin loaded?)`);
  return field.name;
}

type ServerName = 'service (admin key)' | 'service (tenant key)' | PeerName;

interface Workload {
  name: string;
  /** The body each server is sent (worker: the load generator's worker number). */
  body: Record<ServerName, (worker: number) => string>;
  /** Undefined when the answer is right. */
  check(text: string): string | undefined;
}

/** Every server's answers compared in a spelling-free form: JSON with a space or without. */
const compact = (text: string) => text.replace(/\s+/g, '');

const pageCheck = (firstEmail: string) => (text: string) => {
  if (!compact(text).includes(`"email":"${firstEmail}"`)) return 'page without its first member';
  if (text.includes('"errors"')) return text.slice(0, 200);
  return undefined;
};

async function workloads(service: BenchServer, peers: Peer[], seeded: Seeded, databaseUrl: string): Promise<Workload[]> {
  const fields = new Map(await Promise.all(peers.map(async (p) => [p.name, await groupsFieldOf(p)] as const)));
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
  const peerDeep = new Map<PeerName, string>();
  for (const peer of peers) {
    const data = await ask<{ members: { edges: { cursor: string }[] } }>(
      peer.url,
      `query ($t: UUID!) { members(first: 1, offset: ${depth - 1}, condition: { tenantId: $t, deletedAt: null }, orderBy: ${peer.order}) { edges { cursor } } }`,
      { t: seeded.tenantId },
    );
    peerDeep.set(peer.name, data.members.edges[0]!.cursor);
  }

  const bodies = (service: (w: number) => string, peer: (p: Peer) => (w: number) => string) =>
    Object.fromEntries([
      ['service (admin key)', service],
      ['service (tenant key)', service],
      ...peers.map((p) => [p.name, peer(p)]),
    ]) as Record<ServerName, (worker: number) => string>;

  // All must return the same members, in the same order, with the same groups.
  const list: Workload[] = [];
  for (const [name, deep] of [
    ['first members page, 50 × up to 10 groups', false],
    [`members page after member ${depth.toLocaleString('en')}`, true],
  ] as const) {
    const serviceAfter = deep ? serviceDeep : null;
    const ours = pageShape(await ask<PageData>(`${service.url}/graphql`, SERVICE_PAGE, { t: tenant, after: serviceAfter }, adminKey), 'groups');
    if (ours.length !== PAGE) throw new Error(`the service listed ${ours.length} members on "${name}", not ${PAGE}`);
    for (const peer of peers) {
      const field = fields.get(peer.name)!;
      const theirs = pageShape(await ask<PageData>(peer.url, peer.page(field), { t: seeded.tenantId, after: deep ? peerDeep.get(peer.name) : null }), field);
      if (JSON.stringify(ours) !== JSON.stringify(theirs)) {
        throw new Error(`the service and ${peer.name} disagree on "${name}":\nservice: ${ours.slice(0, 3).join(' | ')}\n${peer.name}: ${theirs.slice(0, 3).join(' | ')}`);
      }
    }
    list.push({
      name,
      body: bodies(
        () => JSON.stringify({ query: SERVICE_PAGE, variables: { t: tenant, after: serviceAfter } }),
        (p) => () => JSON.stringify({ query: p.page(fields.get(p.name)!), variables: { t: seeded.tenantId, after: deep ? peerDeep.get(p.name) : null } }),
      ),
      check: pageCheck(ours[0]!.split(':')[0]!),
    });
  }
  for (const id of memberIds.slice(0, 20)) {
    const ours = await ask<{ node: { email: string; status: string } }>(`${service.url}/graphql`, SERVICE_NODE, { id: toGlobalId('Member', id) }, adminKey);
    for (const peer of peers) {
      const theirs = await ask<{ member: { email: string; status: string } }>(peer.url, peer.node, { id });
      if (ours.node.email !== theirs.member.email || ours.node.status !== theirs.member.status) {
        throw new Error(`the service and ${peer.name} disagree on member ${id}`);
      }
    }
  }
  const pick = () => memberIds[Math.floor(Math.random() * memberIds.length)]!;
  list.push({
    name: 'one member by id',
    body: bodies(
      () => JSON.stringify({ query: SERVICE_NODE, variables: { id: toGlobalId('Member', pick()) } }),
      (p) => () => JSON.stringify({ query: p.node, variables: { id: pick() } }),
    ),
    check: (text) => (compact(text).includes('"email":"user') ? undefined : text.slice(0, 200)),
  });
  return list;
}

// ---- measuring --------------------------------------------------------------------------------

interface Run {
  workload: string;
  server: ServerName;
  result: HttpLoadResult;
}

async function measure(service: BenchServer, peers: Peer[], seeded: Seeded, database: string, list: Workload[]): Promise<Run[]> {
  const runs: Run[] = [];
  const pg = () => postgresProcesses(database);
  const one = async (w: Workload, server: ServerName): Promise<void> => {
    const peer = peers.find((p) => p.name === server);
    const key = server === 'service (admin key)' ? adminKey : seeded.tenantKey;
    const result = await runHttpLoad({
      url: peer ? peer.url : `${service.url}/graphql`,
      headers: { 'content-type': 'application/json', ...(peer ? {} : { authorization: `Bearer ${key}` }) },
      body: w.body[server],
      check: (_worker, status, text) => (status === 200 ? w.check(text) : `HTTP ${status} ${text.slice(0, 120)}`),
      concurrency: CONCURRENCY,
      warmupSeconds: WARMUP,
      seconds: SECONDS,
      pids: () => [peer ? peer.pid : service.pid, ...pg()],
    });
    runs.push({ workload: w.name, server, result });
    console.log(row(runs.at(-1)!));
  };
  for (const w of list) {
    for (let round = 0; round < ROUNDS; round++) {
      await one(w, 'service (admin key)');
      for (const peer of peers) await one(w, peer.name);
      await one(w, 'service (tenant key)');
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

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Per workload and key: the service against each peer's runs of the same rounds. */
function ratios(runs: Run[], peers: Peer[]): string[] {
  const short = (p: Peer) => p.name.replace('PostGraphile ', 'v');
  const out = [
    `| workload | key | ${peers.map((p) => `req/s ÷ ${short(p)}`).join(' | ')} | ${peers.map((p) => `CPU/req ÷ ${short(p)}`).join(' | ')} | ${peers.map((p) => `p99 ÷ ${short(p)}`).join(' | ')} |`,
    `|---|---|${peers.map(() => '---|').join('').repeat(3)}`,
  ];
  for (const workload of [...new Set(runs.map((r) => r.workload))]) {
    const of = (server: ServerName) => runs.filter((r) => r.workload === workload && r.server === server).map((r) => r.result);
    for (const server of ['service (admin key)', 'service (tenant key)'] as const) {
      const ours = of(server);
      const versus = (f: (r: HttpLoadResult) => number) => peers.map((p) => mean(ours.map(f)) / mean(of(p.name).map(f)));
      const reqs = versus(rate).map((x) => `**${x.toFixed(2)}**`);
      const cpu = versus((r) => cpuPerRequest(r)[0]).map((x) => x.toFixed(2));
      const p99 = versus((r) => percentile(r.latencies, 99)).map((x) => x.toFixed(2));
      out.push(`| ${workload} | ${server.replace('service ', '')} | ${[...reqs, ...cpu, ...p99].join(' | ')} |`);
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
      `${ROUNDS} rounds; ${cpus().length} × ${cpus()[0]?.model.trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version} for all three servers` +
      (SCALE === 1 ? '' : `; BENCH_SCALE ${SCALE}`),
  );
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  const name = `dsync_bench_${randomBytes(6).toString('hex')}`;
  const dataDir = await mkdtemp(join(tmpdir(), 'dsync-bench-peer-'));
  let service: BenchServer | undefined;
  const peers: Peer[] = [];
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
      ...(env.BENCH_READ_PATH ? { GRAPHQL_READ_PATH: env.BENCH_READ_PATH } : {}),
    });
    peers.push(await startPostGraphile4(url.toString()), await startPostGraphile5(url.toString()));
    const list = await workloads(service, peers, seeded, url.toString());
    console.log('the service and both PostGraphiles return the same members, order and groups for the pages and members measured\n');
    const header = [
      '| workload | server | requests/s | p50 ms | p99 ms | server CPU ms/req | Postgres CPU ms/req | machine busy | errors |',
      '|---|---|---|---|---|---|---|---|---|',
    ];
    console.log(header.join('\n'));
    const chosen = values.only ? list.filter((w) => w.name.includes(values.only!)) : list;
    if (chosen.length === 0) throw new Error(`no workload matches --only ${values.only}: ${list.map((w) => w.name).join('; ')}`);
    const runs = await measure(service, peers, seeded, name, chosen);
    console.log(['', ...header, ...runs.map(row), '', ...ratios(runs, peers)].join('\n'));
    console.log(
      `\n${peers.map((p) => `${p.name} ${p.version}`).join(', ')} (pool ${POOL} each), the service (postgres.js, pool ${POOL}, ` +
        `GRAPHQL_READ_PATH=${env.BENCH_READ_PATH ?? 'sql'}), all on Node ${process.version}; Postgres CPU: the benchmark database's backends and its server's own processes.`,
    );
    if (runs.some((r) => r.result.failed > 0)) {
      console.error('\n!!! requests failed or returned wrong answers: these figures are NOT valid (see the errors column) !!!');
      process.exitCode = 1;
    }
  } finally {
    await service?.stop();
    for (const peer of peers) await peer.stop();
    await admin.unsafe(`drop database if exists ${name} with (force)`).catch(() => {});
    await admin.end({ timeout: 5 });
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
