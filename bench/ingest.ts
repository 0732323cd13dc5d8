// Ingest throughput and latency: signed webhook events posted at a fixed concurrency for a
// fixed time against a running server, on the embedded database and on Postgres.
//
//   npm run bench:ingest                                   # embedded PGlite only
//   BENCH_DATABASE_URL=postgres://... npm run bench:ingest # and Postgres (use a throwaway db)
//   npm run bench:ingest -- --seconds 20 --concurrency 64
//
// The server runs as its own process (as in production), started by this script, so the
// load generator does not share its event loop.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { polisHeaders, stytchHeaders } from '../src/samples/sign.js';
import { startBenchServer, type BenchServer } from './support/server.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '32' },
  },
});
const SECONDS = Number(values.seconds);
const WARMUP = Number(values.warmup);
const CONCURRENCY = Number(values.concurrency);

const polisSecret = randomBytes(32).toString('hex');
const stytchSecret = `whsec_${randomBytes(32).toString('base64')}`;

const startServer = (env: Record<string, string>): Promise<BenchServer> =>
  startBenchServer({
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
    POLIS_WEBHOOK_SECRET: polisSecret,
    STYTCH_WEBHOOK_SECRET: stytchSecret,
    ...env,
  });

/** A realistic mix: Stytch members created and updated, Polis users, memberships. */
function nextEvent(worker: number, n: number): { source: 'polis' | 'stytch'; body: string; headers: Record<string, string> } {
  const now = new Date();
  const kind = n % 10;
  if (kind < 6) {
    const memberId = `member-bench-${worker}-${Math.floor(n / 2)}`;
    const body = JSON.stringify({
      action: n % 2 === 0 ? 'CREATE' : 'UPDATE',
      event_id: `event-${worker}-${n}`,
      id: memberId,
      object_type: 'member',
      project_id: 'project-bench',
      source: 'SCIM',
      timestamp: new Date(now.getTime() + n).toISOString(),
      vertical: 'B2B',
      member: {
        member_id: memberId,
        organization_id: `organization-bench-${n % 50}`,
        email_address: `${memberId}-${n}@bench.example`,
        name: `Member ${n}`,
        status: 'active',
        roles: [{ role_id: 'stytch_member', sources: [] }],
        trusted_metadata: {},
      },
    });
    return { source: 'stytch', body, headers: stytchHeaders(stytchSecret, body, now) };
  }
  const tenant = `tenant-bench-${n % 10}`;
  const user = {
    id: `usr-bench-${worker}-${n}`,
    first_name: 'Bench',
    last_name: String(n),
    email: `usr-${worker}-${n}@bench.example`,
    active: true,
    raw: { userName: `usr-${worker}-${n}@bench.example` },
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
  const body = JSON.stringify(event);
  return { source: 'polis', body, headers: polisHeaders(polisSecret, body, new Date(now.getTime() + worker)) };
}

interface Result {
  ok: number;
  errors: Map<number | string, number>;
  latencies: number[];
  seconds: number;
}

async function load(url: string): Promise<Result> {
  const latencies: number[] = [];
  const errors = new Map<number | string, number>();
  let ok = 0;
  const start = performance.now();
  const measureFrom = start + WARMUP * 1000;
  const end = measureFrom + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, worker) => {
      for (let n = 0; performance.now() < end; n++) {
        const e = nextEvent(worker, n);
        const t0 = performance.now();
        let status: number | string;
        try {
          const response = await fetch(`${url}/webhooks/${e.source}`, { method: 'POST', headers: e.headers, body: e.body });
          await response.arrayBuffer();
          status = response.status;
        } catch (error) {
          status = (error as Error).message;
        }
        const t1 = performance.now();
        if (t0 < measureFrom || t1 > end) continue;
        if (status === 200) {
          ok++;
          latencies.push(t1 - t0);
        } else errors.set(status, (errors.get(status) ?? 0) + 1);
      }
    }),
  );
  return { ok, errors, latencies: latencies.sort((a, b) => a - b), seconds: SECONDS };
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

function report(name: string, r: Result): string {
  const errors = [...r.errors].map(([k, v]) => `${k}×${v}`).join(', ') || 'none';
  return `| ${name} | ${(r.ok / r.seconds).toFixed(0)} | ${percentile(r.latencies, 50).toFixed(1)} | ${percentile(r.latencies, 99).toFixed(1)} | ${(r.latencies.at(-1) ?? NaN).toFixed(1)} | ${errors} |`;
}

async function main() {
  console.log(
    `ingest benchmark: ${CONCURRENCY} concurrent senders, ${WARMUP} s warm-up, ${SECONDS} s measured; ` +
      `${cpus().length} × ${cpus()[0]?.model.trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
  );
  const rows: string[] = [];
  const dataDir = await mkdtemp(join(tmpdir(), 'dsync-bench-'));
  try {
    const embedded = await startServer({ DATA_DIR: dataDir });
    rows.push(report('embedded PGlite (on disk)', await load(embedded.url)));
    await embedded.stop();
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
  const pgUrl = process.env.BENCH_DATABASE_URL;
  if (pgUrl) {
    const pg = await startServer({ DATABASE_URL: pgUrl, DATA_DIR: tmpdir() });
    rows.push(report('Postgres (postgres.js, pool 10)', await load(pg.url)));
    await pg.stop();
  } else {
    rows.push('| Postgres | skipped: set BENCH_DATABASE_URL | | | | |');
  }
  console.log(['', '| database | events/s | p50 ms | p99 ms | max ms | errors |', '|---|---|---|---|---|---|', ...rows].join('\n'));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
