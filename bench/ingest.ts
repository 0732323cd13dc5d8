// Ingest throughput and latency: signed webhook events posted at a fixed concurrency for a
// fixed time against a running server, on the embedded database and on Postgres (and with
// BENCH_BASELINE_DIR=<another checkout> on that build too, for a ratio in one run); on Postgres,
// in the same run, pgbench replays one delivery's statements (bench/ingest-ceiling.sql) at the
// same concurrency on a fresh database: what Postgres can do for the same work, the ceiling
// the service is measured against. Figures from different runs or machines do not compare;
// the ratio within one run does.
//
//   npm run bench:ingest                                   # embedded PGlite only
//   BENCH_DATABASE_URL=postgres://... npm run bench:ingest # and Postgres, and pgbench: fresh
//                                                          # databases dsync_bench_<random> are
//                                                          # created there and dropped after
//   npm run bench:ingest -- --seconds 20 --concurrency 64 --only postgres
//   npm run bench:ingest -- --instances 2 --only postgres  # and two instances on one database,
//                                                          # the senders split between them
//
// The server runs as its own process (as in production), started by this script. The load
// generator is kept cheap so it does not take the server's core: bodies are signed before the
// clock starts, and one keep-alive connection per sender is reused. CPU is printed for every
// process involved: the service, Postgres (the backends of the benchmark's database and its
// server's own processes), pgbench and this load generator.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { openDatabase } from '../src/db/open.js';
import { resultRows } from '../src/db/result.js';
import { polisHeaders, stytchHeaders } from '../src/samples/sign.js';
import { cpuSnapshot, cpuUse, postgresProcesses, type CpuSnapshot } from './support/proc.js';
import { startBenchServer, type BenchServer } from './support/server.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '32' },
    only: { type: 'string' },
    // On Postgres, also this many instances on one database (the senders split between them).
    instances: { type: 'string', default: '1' },
    // Signed ahead per sender; a sender that runs out signs more as it goes (and says so).
    'events-per-sender': { type: 'string', default: '1500' },
  },
});
const SECONDS = Number(values.seconds);
const WARMUP = Number(values.warmup);
const CONCURRENCY = Number(values.concurrency);
const PER_SENDER = Number(values['events-per-sender']);
const ONLY = values.only;
const INSTANCES = Number(values.instances);
if (!Number.isInteger(INSTANCES) || INSTANCES < 1) throw new Error('--instances must be a whole number, 1 or more');
const TENANTS = 50;
const CEILING_SCRIPT = fileURLToPath(new URL('./ingest-ceiling.sql', import.meta.url));

const polisSecret = randomBytes(32).toString('hex');
const stytchSecret = `whsec_${randomBytes(32).toString('base64')}`;

/** Ingest settings passed on to the server, to compare them (docs/configuration.md). */
const TUNING = Object.fromEntries(
  ['INGEST_BATCH_MAX', 'INGEST_CONCURRENCY', 'DATABASE_PREPARED_STATEMENTS', 'OTEL_EXPORTER_OTLP_ENDPOINT']
    .filter((name) => process.env[name] !== undefined)
    .map((name) => [name, process.env[name]!]),
);

/** Another checkout (its node_modules in place) measured on Postgres in the same run, for a ratio. */
const BASELINE = process.env.BENCH_BASELINE_DIR || undefined;

const startServer = (env: Record<string, string>, root?: string): Promise<BenchServer> =>
  startBenchServer(
    {
      LOG_LEVEL: 'warn',
      NODE_ENV: 'production',
      POLIS_WEBHOOK_SECRET: polisSecret,
      STYTCH_WEBHOOK_SECRET: stytchSecret,
      ...TUNING,
      ...env,
    },
    root,
  );

// ---- the load -------------------------------------------------------------------------------

interface Signed {
  path: string;
  body: Buffer;
  headers: Record<string, string | number>;
  /** What the directory holds once this event is stored: a member's external id and name. */
  member: { id: string; name: string };
}

/** A realistic mix: Stytch members created and updated (60%), Polis users (30%), memberships. */
function signedEvent(run: string, sender: number, n: number): Signed {
  const now = new Date();
  const kind = n % 10;
  let path: string;
  let body: string;
  let headers: Record<string, string>;
  if (kind < 6) {
    const memberId = `member-bench-${run}-${sender}-${Math.floor(n / 2)}`;
    body = JSON.stringify({
      action: n % 2 === 0 ? 'CREATE' : 'UPDATE',
      event_id: `event-${sender}-${n}`,
      id: memberId,
      object_type: 'member',
      project_id: 'project-bench',
      source: 'SCIM',
      timestamp: new Date(now.getTime() + n).toISOString(),
      vertical: 'B2B',
      member: {
        member_id: memberId,
        organization_id: `organization-bench-${n % TENANTS}`,
        email_address: `${memberId}-${n}@bench.example`,
        name: `Member ${n}`,
        status: 'active',
        roles: [{ role_id: 'stytch_member', sources: [] }],
        trusted_metadata: {},
      },
    });
    path = '/webhooks/stytch';
    headers = stytchHeaders(stytchSecret, body, now);
  } else {
    const tenant = `tenant-bench-${n % 10}`;
    const user = {
      id: `usr-bench-${run}-${sender}-${n}`,
      first_name: 'Bench',
      last_name: String(n),
      email: `usr-${run}-${sender}-${n}@bench.example`,
      active: true,
      raw: { userName: `usr-${sender}-${n}@bench.example` },
    };
    const event =
      kind < 9
        ? { event: 'user.created', tenant, product: 'bench', directory_id: `dir-${tenant}`, data: user }
        : {
            event: 'group.user_added',
            tenant,
            product: 'bench',
            directory_id: `dir-${tenant}`,
            data: { ...user, group: { id: `grp-${tenant}-${n % 5}`, name: 'team', raw: {} } },
          };
    body = JSON.stringify(event);
    path = '/webhooks/polis';
    headers = polisHeaders(polisSecret, body, new Date(now.getTime() + sender));
  }
  const bytes = Buffer.from(body);
  const member =
    kind < 6
      ? { id: `member-bench-${run}-${sender}-${Math.floor(n / 2)}`, name: `Member ${n}` }
      : { id: `usr-bench-${run}-${sender}-${n}`, name: `Bench ${n}` };
  return { path, body: bytes, headers: { ...headers, 'content-length': bytes.length }, member };
}

interface LoadResult {
  ok: number;
  errors: Map<number | string, number>;
  latencies: number[];
  /** Events signed during the run because a sender used up its pre-signed ones. */
  signedLate: number;
  /**
   * Every member an acknowledged event (warm-up included) left, with its name: each sender
   * sends one after the other, so a member's last acknowledged event is its last.
   */
  acknowledged: Map<string, string>;
  cpu?: { service: number; postgres?: number; self: number; machine: number };
}

/**
 * Posts events from CONCURRENCY senders for WARMUP + SECONDS; measures the last SECONDS. With
 * several servers, sender i posts to server i mod n.
 */
async function load(servers: BenchServer[], postgresPids: () => number[]): Promise<LoadResult> {
  const run = randomBytes(3).toString('hex');
  const presigned = Array.from({ length: CONCURRENCY }, (_, sender) =>
    Array.from({ length: PER_SENDER }, (_, n) => signedEvent(run, sender, n)),
  );
  const urls = servers.map((server) => new URL(server.url));
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const acknowledged = new Map<string, string>();
  const post = (e: Signed, sender: number) =>
    new Promise<number | string>((resolve) => {
      const url = urls[sender % urls.length]!;
      const req = request(
        { host: url.hostname, port: url.port, path: e.path, method: 'POST', headers: e.headers, agent },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', (error) => resolve(error.message));
      req.end(e.body);
    });

  const latencies: number[] = [];
  const errors = new Map<number | string, number>();
  let ok = 0;
  let signedLate = 0;
  const start = performance.now();
  const measureFrom = start + WARMUP * 1000;
  const end = measureFrom + SECONDS * 1000;
  let before: CpuSnapshot | undefined;
  let pgCount = 0;
  const warm = setTimeout(() => {
    const pg = postgresPids();
    pgCount = pg.length;
    before = cpuSnapshot([...servers.map((server) => server.pid), ...pg]);
  }, WARMUP * 1000);
  await Promise.all(
    presigned.map(async (events, sender) => {
      for (let n = 0; performance.now() < end; n++) {
        let e = events[n];
        if (!e) {
          e = signedEvent(run, sender, n);
          signedLate++;
        }
        const t0 = performance.now();
        const status = await post(e, sender);
        const t1 = performance.now();
        if (status === 200) acknowledged.set(e.member.id, e.member.name);
        if (t0 < measureFrom || t1 > end) continue;
        if (status === 200) {
          ok++;
          latencies.push(t1 - t0);
        } else errors.set(status, (errors.get(status) ?? 0) + 1);
      }
    }),
  );
  const after = before && cpuSnapshot(before.pids);
  clearTimeout(warm);
  agent.destroy();
  const use = cpuUse(before, after);
  const n = servers.length;
  const pgUse = use?.process.slice(n, n + pgCount);
  return {
    ok,
    errors,
    latencies: latencies.sort((a, b) => a - b),
    signedLate,
    acknowledged,
    cpu: use && {
      service: use.process.slice(0, n).reduce((a, b) => a + b, 0),
      postgres: pgCount > 0 ? pgUse!.reduce((a, b) => a + b, 0) : undefined,
      self: use.self,
      machine: use.machine,
    },
  };
}

// ---- Postgres: fresh databases, its processes, pgbench ---------------------------------------

async function withFreshDatabase<T>(adminUrl: string, work: (url: string, name: string) => Promise<T>): Promise<T> {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  const name = `dsync_bench_${randomBytes(6).toString('hex')}`;
  try {
    await admin.unsafe(`create database ${name}`);
    try {
      const url = new URL(adminUrl);
      url.pathname = `/${name}`;
      // Migrated by the service's own migrations, as the service would.
      const handle = await openDatabase({ databaseUrl: url.toString() });
      await handle.close();
      return await work(url.toString(), name);
    } finally {
      await admin.unsafe(`drop database if exists ${name} with (force)`);
    }
  } finally {
    await admin.end({ timeout: 5 });
  }
}

function findPgbench(): string | undefined {
  const onPath = spawnSync('pgbench', ['--version'], { encoding: 'utf8' });
  if (onPath.status === 0) return 'pgbench';
  const dirs = existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of dirs) {
    const bin = `/usr/lib/postgresql/${v}/bin/pgbench`;
    if (existsSync(bin)) return bin;
  }
  return undefined;
}

interface CeilingResult {
  tps: number;
  latencies: number[];
  failed: number;
  cpu?: { pgbench: number; postgres: number; machine: number };
}

/** pgbench on the script, on a fresh migrated database, at CONCURRENCY clients. */
async function ceiling(pgbench: string, url: string, name: string): Promise<CeilingResult> {
  const db = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await db.unsafe(`insert into tenants (provider, external_id, product, live_version, data_version)
      select 'STYTCH', 'organization-bench-' || i, '', '0', '0' from generate_series(0, ${TENANTS - 1}) as i`);
  } finally {
    await db.end({ timeout: 5 });
  }
  const logDir = await mkdtemp(join(tmpdir(), 'dsync-bench-pgbench-'));
  try {
    const threads = Math.max(1, Math.min(cpus().length, CONCURRENCY));
    // Extended protocol, unnamed statements: how the service's queries reach Postgres.
    const child = spawn(
      pgbench,
      ['-n', '-M', 'extended', '-c', String(CONCURRENCY), '-j', String(threads), '-T', String(WARMUP + SECONDS),
        '-f', CEILING_SCRIPT, '-l', '--log-prefix', join(logDir, 'tx'), url],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const startedAt = Date.now();
    let before: CpuSnapshot | undefined;
    const warm = setTimeout(() => (before = cpuSnapshot([child.pid ?? 0, ...postgresProcesses(name)])), WARMUP * 1000);
    let after: CpuSnapshot | undefined;
    const stopAt = setTimeout(() => (after = before && cpuSnapshot(before.pids)), (WARMUP + SECONDS) * 1000 - 50);
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    clearTimeout(warm);
    clearTimeout(stopAt);
    if (code !== 0) throw new Error(`pgbench exited with ${code}:\n${out}`);

    // Per transaction: client, number, latency (µs), script, end time (s, µs).
    const from = startedAt + WARMUP * 1000;
    const to = from + SECONDS * 1000;
    const latencies: number[] = [];
    let failed = 0;
    for (const file of await readdir(logDir)) {
      for (const line of (await readFile(join(logDir, file), 'utf8')).split('\n')) {
        const f = line.split(' ');
        if (f.length < 6) continue;
        const endMs = Number(f[4]) * 1000 + Number(f[5]) / 1000;
        if (endMs < from || endMs > to) continue;
        if (f[2] === 'failed' || f[2] === 'skipped') failed++;
        else latencies.push(Number(f[2]) / 1000);
      }
    }
    const use = cpuUse(before, after);
    return {
      tps: latencies.length / SECONDS,
      latencies: latencies.sort((a, b) => a - b),
      failed,
      cpu: use && { pgbench: use.process[0] ?? NaN, postgres: use.process.slice(1).reduce((a, b) => a + b, 0), machine: use.machine },
    };
  } finally {
    await rm(logDir, { recursive: true, force: true });
  }
}

// ---- the directory after the load ------------------------------------------------------------

/**
 * Whether the directory holds exactly what the acknowledged events make it: every member they
 * named, with the name of its last one, and no member they did not name. Nothing acknowledged
 * lost, nothing applied twice or out of order, whichever instance took it.
 */
async function directoryCheck(db: postgres.Sql, acknowledged: Map<string, string>): Promise<string> {
  const rows = await db.unsafe<{ external_id: string; name: string }[]>(`select external_id, coalesce(name, '') as name from members`);
  const stored = new Map(rows.map((r) => [r.external_id, r.name]));
  const missing = [...acknowledged.keys()].filter((id) => !stored.has(id));
  const wrong = [...acknowledged].filter(([id, name]) => stored.has(id) && stored.get(id) !== name);
  const extra = [...stored.keys()].filter((id) => !acknowledged.has(id));
  const ok = missing.length === 0 && wrong.length === 0;
  const outcome = ok ? 'the directory is what the acknowledged events make it' : 'THE DIRECTORY DIFFERS';
  return (
    `${outcome} (${acknowledged.size} members acknowledged, ${stored.size} stored; ${missing.length} missing, ${wrong.length} with another name` +
    `, ${extra.length} stored that no acknowledged event named${extra.length ? ': their events were answered late (503) and committed after' : ''})`
  );
}

// ---- batch sizes ----------------------------------------------------------------------------

/**
 * Deliveries per ingest transaction, read from the stored rows: rows written by one
 * transaction share its id (xmin), so no counter in the service is needed.
 */
const BATCH_SQL = `
  select count(*)::int as deliveries, count(distinct xmin::text)::int as transactions,
    coalesce(max(n), 0)::int as largest,
    coalesce(percentile_disc(0.5) within group (order by n), 0)::int as median
  from (select xmin, count(*) over (partition by xmin::text) as n from deliveries) as d`;

interface BatchStats {
  deliveries: number;
  transactions: number;
  largest: number;
  median: number;
}

const describeBatches = (b: BatchStats) =>
  `${b.deliveries} deliveries in ${b.transactions} transactions: ${(b.deliveries / Math.max(1, b.transactions)).toFixed(1)} a transaction on average, ` +
  `largest ${b.largest}, a delivery's batch median ${b.median}`;

// ---- report ---------------------------------------------------------------------------------

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
const pct = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '–' : `${v.toFixed(0)}%`);
/** CPU ms per event from % of a core and events per second. */
const perEvent = (cpuPct: number | undefined, rate: number) =>
  cpuPct === undefined || Number.isNaN(cpuPct) || rate === 0 ? '–' : ((cpuPct * 10) / rate).toFixed(2);

function serviceRow(name: string, r: LoadResult): string {
  const rate = r.ok / SECONDS;
  const errors = [...r.errors].map(([k, v]) => `${k}×${v}`).join(', ') || 'none';
  return `| ${name} | ${rate.toFixed(0)} | ${percentile(r.latencies, 50).toFixed(1)} | ${percentile(r.latencies, 99).toFixed(1)} | ` +
    `${pct(r.cpu?.service)} (${perEvent(r.cpu?.service, rate)}) | ${pct(r.cpu?.postgres)} (${perEvent(r.cpu?.postgres, rate)}) | ` +
    `${pct(r.cpu?.self)} load generator | ${pct(r.cpu?.machine)} | ${errors}${r.signedLate ? `; ${r.signedLate} signed during the run` : ''} |`;
}

function ceilingRow(r: CeilingResult): string {
  return `| pgbench, one delivery's statements, no feed lock | ${r.tps.toFixed(0)} | ${percentile(r.latencies, 50).toFixed(1)} | ` +
    `${percentile(r.latencies, 99).toFixed(1)} | – | ${pct(r.cpu?.postgres)} (${perEvent(r.cpu?.postgres, r.tps)}) | ` +
    `${pct(r.cpu?.pgbench)} pgbench | ${pct(r.cpu?.machine)} | ${r.failed ? `${r.failed} failed` : 'none'} |`;
}

async function main() {
  console.log(
    `ingest benchmark: ${CONCURRENCY} concurrent senders, ${WARMUP} s warm-up, ${SECONDS} s measured; ` +
      `${cpus().length} × ${cpus()[0]?.model.trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}` +
      (Object.keys(TUNING).length > 0 ? `; server with ${Object.entries(TUNING).map(([k, v]) => `${k}=${v}`).join(' ')}` : ''),
  );
  const rows: string[] = [];
  const notes: string[] = [];
  if (ONLY !== 'postgres') {
    const dataDir = await mkdtemp(join(tmpdir(), 'dsync-bench-'));
    try {
      const embedded = await startServer({ DATA_DIR: dataDir });
      try {
        rows.push(serviceRow('service on embedded PGlite (on disk)', await load([embedded], () => [])));
      } finally {
        await embedded.stop();
      }
      const handle = await openDatabase({ pgliteDir: join(dataDir, 'pglite') });
      try {
        const [stats] = resultRows<BatchStats>(await handle.db.execute(sql.raw(BATCH_SQL)));
        notes.push(`PGlite batches: ${describeBatches(stats!)}`);
      } finally {
        await handle.close();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }
  const pgUrl = process.env.BENCH_DATABASE_URL;
  if (ONLY !== 'pglite' && pgUrl) {
    const probe = postgres(pgUrl, { max: 1, onnotice: () => {} });
    const [v] = await probe<{ version: string; fsync: string; sync: string }[]>`
      select split_part(version(), ' on ', 1) as version, current_setting('fsync') as fsync,
        current_setting('synchronous_commit') as sync`;
    await probe.end({ timeout: 5 });
    notes.push(`Postgres: ${v!.version}, fsync ${v!.fsync}, synchronous_commit ${v!.sync}; the service uses postgres.js, pool 10`);

    const pgbench = findPgbench();
    let ceilingResult: CeilingResult | undefined;
    if (pgbench) {
      ceilingResult = await withFreshDatabase(pgUrl, (url, name) => ceiling(pgbench, url, name));
      rows.push(ceilingRow(ceilingResult));
    } else {
      notes.push('pgbench not found: no ceiling measured (Debian: apt-get install -y postgresql-client)');
    }
    const onPostgres = (root?: string, instances = 1) => withFreshDatabase(pgUrl, async (url, name) => {
      const servers = await Promise.all(Array.from({ length: instances }, () => startServer({ DATABASE_URL: url, DATA_DIR: tmpdir() }, root)));
      let result: LoadResult;
      try {
        result = await load(servers, () => postgresProcesses(name));
      } finally {
        await Promise.all(servers.map((server) => server.stop()));
      }
      const db = postgres(url, { max: 1, onnotice: () => {} });
      try {
        const [stats] = await db.unsafe<BatchStats[]>(BATCH_SQL);
        notes.push(`Postgres batches${instances > 1 ? ` (${instances} instances)` : ''}: ${describeBatches(stats!)}`);
        notes.push(`${instances > 1 ? `${instances} instances` : 'one instance'}: ${await directoryCheck(db, result.acknowledged)}`);
      } finally {
        await db.end({ timeout: 5 });
      }
      return result;
    });
    const service = await onPostgres();
    rows.push(serviceRow('service on Postgres', service));
    if (INSTANCES > 1) {
      const several = await onPostgres(undefined, INSTANCES);
      rows.push(serviceRow(`${INSTANCES} instances on one Postgres`, several));
      notes.push(
        `${INSTANCES} instances against one, same run: events/s ${(several.ok / service.ok).toFixed(2)} ×, ` +
          `p99 ${(percentile(several.latencies, 99) / percentile(service.latencies, 99)).toFixed(2)} ×. ` +
          `The instances share ${cpus().length} cores with Postgres and this load generator, so another instance adds work only where a core is idle; ` +
          `and each instance's group commit carries fewer deliveries (the batches above).`,
      );
    }
    if (BASELINE) {
      const baseline = await onPostgres(BASELINE);
      rows.push(serviceRow(`baseline ${BASELINE} on Postgres`, baseline));
      notes.push(
        `ratio to the baseline: events/s ${(service.ok / baseline.ok).toFixed(2)} × its; ` +
          `p99 ${(percentile(service.latencies, 99) / percentile(baseline.latencies, 99)).toFixed(2)} × its p99`,
      );
    }
    if (ceilingResult) {
      const rate = service.ok / SECONDS;
      notes.push(
        `ratio to the ceiling: events/s ${(rate / ceilingResult.tps).toFixed(2)} × pgbench's tx/s; ` +
          `p99 ${(percentile(service.latencies, 99) / percentile(ceilingResult.latencies, 99)).toFixed(2)} × pgbench's p99`,
      );
    }
  } else if (ONLY !== 'pglite') {
    notes.push('Postgres: skipped, set BENCH_DATABASE_URL (a server where databases may be created)');
  }
  console.log(
    [
      '',
      '| run | events/s | p50 ms | p99 ms | service CPU (ms/event) | Postgres CPU (ms/event) | client CPU | machine busy | errors |',
      '|---|---|---|---|---|---|---|---|---|',
      ...rows,
      '',
      ...notes,
      'CPU in % of one core over the measured seconds; Postgres: the benchmark database\'s backends and its server\'s own processes.',
    ].join('\n'),
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
