// One sender cannot hold up the rest (issue 36): Polis batches of --batch events (1,000, the most
// WEBHOOK_MAX_EVENTS takes by default) are sent one after the other while Stytch deliveries
// arrive open loop at --rate a second, and the Stytch latency is compared with the same Stytch
// load and no batch, in the same run, on the embedded database and on Postgres. Then a member
// search of the longest text a filter takes (100 characters) against a three-character one, on
// the tenant the batches filled. Ratios within a run are the figures; absolute times are not.
//
//   npm run bench:fairness                                    # embedded PGlite only
//   BENCH_DATABASE_URL=postgres://... npm run bench:fairness  # and Postgres (a fresh database)
//   npm run bench:fairness -- --batch 1000 --rate 20 --seconds 20
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { generateApiKey } from '../src/auth/api-keys.js';
import { openDatabase } from '../src/db/open.js';
import { polisHeaders, stytchHeaders } from '../src/samples/sign.js';
import { percentile } from './support/http-load.js';
import { sendOpenLoop, type Request, type Sent } from './support/open-loop-sender.js';
import { cpuSnapshot, cpuUse, postgresProcesses } from './support/proc.js';
import { startBenchServer, type BenchServer } from './support/server.js';

const { values } = parseArgs({
  options: {
    batch: { type: 'string', default: '1000' },
    rate: { type: 'string', default: '20' },
    seconds: { type: 'string', default: '20' },
    only: { type: 'string' },
  },
});
const BATCH = Number(values.batch);
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const polisSecret = randomBytes(32).toString('hex');
const stytchSecret = `whsec_${randomBytes(32).toString('base64')}`;
const adminKey = generateApiKey();
const run = randomBytes(3).toString('hex');

function stytchRequests(url: string, phase: string): Request[] {
  return Array.from({ length: RATE * SECONDS }, (_, i) => {
    const id = `member-fair-${run}-${phase}-${i}`;
    const body = JSON.stringify({
      action: 'CREATE',
      event_id: `event-fair-${run}-${phase}-${i}`,
      id,
      object_type: 'member',
      project_id: 'project-bench',
      source: 'SCIM',
      timestamp: new Date(Date.now() + i).toISOString(),
      vertical: 'B2B',
      member: { member_id: id, organization_id: 'organization-fair', email_address: `${id}@fair.example`, name: `Fair ${i}`, status: 'active' },
    });
    // Signed as it is sent would be better; a few seconds' age is well inside the window.
    return { url: `${url}/webhooks/stytch`, headers: { 'content-type': 'application/json', ...stytchHeaders(stytchSecret, body, new Date()) }, body };
  });
}

function polisBatch(n: number): string {
  return JSON.stringify(
    Array.from({ length: BATCH }, (_, i) => ({
      event: 'user.created',
      tenant: 'fair',
      product: 'bench',
      directory_id: 'dir-fair',
      data: { id: `usr-fair-${run}-${n}-${i}`, email: `u${n}-${i}.${run}@fair.example`, first_name: 'Batch', last_name: `User ${n} ${i}`, active: true },
    })),
  );
}

interface Phase {
  latencies: number[];
  failed: number;
  serviceCpu: number | undefined;
  postgresCpu: number | undefined;
}

const latenciesOf = (sent: Sent[]) => sent.filter((s) => s.status === 200).map((s) => s.at - s.sentAt).sort((a, b) => a - b);

async function stytchPhase(server: BenchServer, pgPids: () => number[], phase: string, during?: () => Promise<void>): Promise<Phase & { batches: number[] }> {
  const requests = stytchRequests(server.url, phase);
  const pg = pgPids();
  const before = cpuSnapshot([server.pid, ...pg]);
  const startAt = Date.now() + 200;
  const batches: number[] = [];
  let sending = true;
  const bigSender = during
    ? (async () => {
        while (sending) {
          const t0 = performance.now();
          await during();
          batches.push(performance.now() - t0);
        }
      })()
    : Promise.resolve();
  const sent = await sendOpenLoop(requests, RATE, startAt);
  sending = false;
  const after = before && cpuSnapshot(before.pids);
  await bigSender;
  const use = cpuUse(before, after);
  return {
    latencies: latenciesOf(sent),
    failed: sent.filter((s) => s.status !== 200).length,
    serviceCpu: use?.process[0],
    postgresCpu: pg.length > 0 ? use?.process.slice(1).reduce((a, b) => a + b, 0) : undefined,
    batches,
  };
}

async function sendBatch(url: string, n: number): Promise<void> {
  const body = polisBatch(n);
  const reply = await fetch(`${url}/webhooks/polis`, { method: 'POST', headers: { 'content-type': 'application/json', ...polisHeaders(polisSecret, body, new Date()) }, body });
  const text = await reply.text();
  if (!reply.ok) throw new Error(`a Polis batch was answered ${reply.status}: ${text.slice(0, 300)}`);
}

async function searchMs(url: string, text: string, times = 15): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < times; i++) {
    const t0 = performance.now();
    const reply = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${adminKey}` },
      body: JSON.stringify({ query: 'query ($s: String) { members(first: 20, filter: { search: $s }) { edges { node { id name } } } }', variables: { s: text } }),
    });
    const body = (await reply.json()) as { errors?: unknown };
    if (!reply.ok || body.errors) throw new Error(`search answered ${reply.status}: ${JSON.stringify(body).slice(0, 300)}`);
    ms.push(performance.now() - t0);
  }
  return percentile(ms.sort((a, b) => a - b), 50);
}

const f = (v: number | undefined, d = 1) => (v === undefined || Number.isNaN(v) ? '–' : v.toFixed(d));
const pct = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '–' : `${v.toFixed(0)}%`);
const row = (backend: string, name: string, p: Phase, extra: string) =>
  `| ${backend} | ${name} | ${f(percentile(p.latencies, 50))} | ${f(percentile(p.latencies, 99))} | ${f(p.latencies.at(-1))} | ${p.failed} | ${pct(p.serviceCpu)} | ${pct(p.postgresCpu)} | ${extra} |`;

async function measure(backend: string, server: BenchServer, pgPids: () => number[], rows: string[], notes: string[]): Promise<void> {
  // Warm: the tenants and the code paths exist before anything is timed.
  await sendBatch(server.url, -1);
  const quiet = await stytchPhase(server, pgPids, 'quiet');
  let n = 0;
  const loaded = await stytchPhase(server, pgPids, 'loaded', () => sendBatch(server.url, n++));
  rows.push(row(backend, 'Stytch alone', quiet, '–'));
  const batchMs = loaded.batches.sort((a, b) => a - b);
  rows.push(row(backend, `Stytch beside ${BATCH}-event Polis batches`, loaded, `${loaded.batches.length} batches, each ${f(percentile(batchMs, 50), 0)} ms (p50), ${f(batchMs.at(-1), 0)} ms (max)`));
  notes.push(
    `${backend}: Stytch p99 beside the batches ${(percentile(loaded.latencies, 99) / percentile(quiet.latencies, 99)).toFixed(1)} × its p99 alone; ` +
      `worst ${f(loaded.latencies.at(-1), 0)} ms against a whole batch's ${f(percentile(batchMs, 50), 0)} ms`,
  );
  const short = await searchMs(server.url, 'fai');
  const long = await searchMs(server.url, `Batch User ${'9'.repeat(100)}`.slice(0, 100));
  notes.push(`${backend}: member search over ${(loaded.batches.length + 1) * BATCH} members of one tenant, p50 of 15: 3 characters ${f(short)} ms, 100 characters (the longest taken) ${f(long)} ms, ${(long / short).toFixed(1)} ×`);
}

async function main() {
  console.log(
    `fairness benchmark: Polis batches of ${BATCH} events one after the other, Stytch deliveries at ${RATE}/s for ${SECONDS} s; ` +
      `${cpus().length} × ${cpus()[0]?.model.trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
  );
  const env = { LOG_LEVEL: 'warn', NODE_ENV: 'production', POLIS_WEBHOOK_SECRET: polisSecret, STYTCH_WEBHOOK_SECRET: stytchSecret, ADMIN_API_KEY: adminKey };
  const rows: string[] = [];
  const notes: string[] = [];
  if (values.only !== 'postgres') {
    const dataDir = await mkdtemp(join(tmpdir(), 'dsync-bench-fair-'));
    const server = await startBenchServer({ ...env, DATA_DIR: dataDir });
    try {
      await measure('PGlite', server, () => [], rows, notes);
    } finally {
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  }
  const pgUrl = process.env.BENCH_DATABASE_URL;
  if (values.only !== 'pglite' && pgUrl) {
    const admin = postgres(pgUrl, { max: 1, onnotice: () => {} });
    const name = `dsync_bench_${randomBytes(6).toString('hex')}`;
    await admin.unsafe(`create database ${name}`);
    try {
      const url = new URL(pgUrl);
      url.pathname = `/${name}`;
      await (await openDatabase({ databaseUrl: url.toString() })).close();
      const server = await startBenchServer({ ...env, DATABASE_URL: url.toString(), DATA_DIR: tmpdir() });
      try {
        await measure('Postgres', server, () => postgresProcesses(name), rows, notes);
      } finally {
        await server.stop();
      }
    } finally {
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end({ timeout: 5 });
    }
  } else if (values.only !== 'pglite') {
    notes.push('Postgres: skipped, set BENCH_DATABASE_URL (a server where databases may be created)');
  }
  console.log(
    [
      '',
      '| database | Stytch deliveries | p50 ms | p99 ms | max ms | failed | service CPU | Postgres CPU | Polis batches |',
      '|---|---|---|---|---|---|---|---|---|',
      ...rows,
      '',
      ...notes,
      'CPU in % of one core over the Stytch phase.',
    ].join('\n'),
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
