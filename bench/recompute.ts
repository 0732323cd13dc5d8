// Recomputing a big tenant's app values (issue 33): a tenant of 100,000 members, 2,000 groups and
// 300,000 memberships on Postgres gets new role rules, and the service works out every member's
// appRole, appRoles and attributes again in the background, feeding those that moved as member
// UPDATED. Meanwhile webhooks arrive open loop at a fixed rate (half for the big tenant, half for
// another), and their latency is compared with the same load in the same run with nothing being
// recomputed: the ratio is the figure, since absolute times differ from one run to the next.
//
//   BENCH_DATABASE_URL=postgres://... npm run bench:recompute   # a fresh dsync_bench_<random>
//   npm run bench:recompute -- --rate 100 --scale 0.2            # 20,000 members
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { generateApiKey } from '../src/auth/api-keys.js';
import { openDatabase } from '../src/db/open.js';
import { resultRows } from '../src/db/result.js';
import { toGlobalId } from '../src/graphql/ids.js';
import { stytchHeaders } from '../src/samples/sign.js';
import { percentile } from './support/http-load.js';
import { localTime, sendOpenLoop, type Request } from './support/open-loop-sender.js';
import { cpuSnapshot, cpuUse, postgresProcesses } from './support/proc.js';
import { bigTenant, seed } from './support/seed-directory.js';
import { startBenchServer } from './support/server.js';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '100' },
    scale: { type: 'string', default: '1' },
    rules: { type: 'string', default: '200' },
  },
});
const RATE = Number(values.rate);
const SCALE = Number(values.scale);
const RULES = Number(values.rules);
const DATABASE_URL = process.env.BENCH_DATABASE_URL;
const stytchSecret = `whsec_${randomBytes(32).toString('base64')}`;
const adminKey = generateApiKey();

/** Member updates, open loop: even ones for the big tenant's members, odd ones create members of another organization. */
function webhooks(url: string, count: number, run: string): Request[] {
  const big = bigTenant(SCALE);
  return Array.from({ length: count }, (_, i) => {
    const ours = i % 2 === 0;
    const m = (i * 7919) % big.members;
    const memberId = ours ? `member-live-${big.key}-${m}` : `member-recompute-${run}-${i}`;
    const body = JSON.stringify({
      action: ours ? 'UPDATE' : 'CREATE',
      event_id: `event-${run}-${i}`,
      id: memberId,
      object_type: 'member',
      project_id: 'project-bench',
      source: 'SCIM',
      timestamp: new Date(Date.now() + i).toISOString(),
      vertical: 'B2B',
      member: {
        member_id: memberId,
        organization_id: ours ? big.externalId : 'organization-recompute-other',
        email_address: ours ? `user${m}@${big.domain}` : `${memberId}@other.example`,
        name: `Renamed ${run} ${i}`,
        status: 'active',
        roles: [{ role_id: 'stytch_member', sources: [] }],
      },
    });
    return { url: `${url}/webhooks/stytch`, headers: stytchHeaders(stytchSecret, body), body };
  });
}

interface Window {
  p50: number;
  p99: number;
  max: number;
  ok: number;
  failed: number;
}

function summarize(latencies: number[], failed: number): Window {
  const sorted = [...latencies].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? 0, ok: sorted.length, failed };
}

async function main(): Promise<void> {
  if (!DATABASE_URL) {
    console.error('bench:recompute needs BENCH_DATABASE_URL (a Postgres it may create a database on)');
    process.exit(2);
  }
  console.log(
    `recompute benchmark: ${cpus().length} × ${cpus()[0]?.model.trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}; ` +
      `webhooks open loop at ${RATE}/s; ${RULES} role rules and a default role`,
  );
  const admin = postgres(DATABASE_URL, { max: 1, onnotice: () => {} });
  const name = `dsync_bench_${randomBytes(6).toString('hex')}`;
  const dataDir = await mkdtemp(join(tmpdir(), 'dsync-bench-recompute-'));
  await admin.unsafe(`create database ${name}`);
  const url = new URL(DATABASE_URL);
  url.pathname = `/${name}`;
  const handle = await openDatabase({ databaseUrl: url.toString() });
  try {
    const seeded = await seed(handle.db, { scale: SCALE, concurrency: 1, page: 50 });
    console.log(`seeded ${seeded.counts} in ${seeded.seedSeconds.toFixed(1)} s`);
    const server = await startBenchServer({
      LOG_LEVEL: 'warn',
      NODE_ENV: 'production',
      DATABASE_URL: url.toString(),
      DATA_DIR: dataDir,
      STYTCH_WEBHOOK_SECRET: stytchSecret,
      ADMIN_API_KEY: adminKey,
    });
    const pg = () => postgresProcesses(name);
    const pending = async () => resultRows<{ n: number }>(await handle.db.execute(sql`select count(*)::int as n from app_recomputes`))[0]!.n > 0;
    const setRules = async (rules: { group: string; role: string; priority: number }[], defaultRole: string | null) => {
      const response = await fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${adminKey}` },
        body: JSON.stringify({
          query: 'mutation ($t: ID!, $r: [RoleRuleInput!]!, $d: String) { setRoleRules(tenantId: $t, rules: $r, defaultRole: $d) { id } }',
          variables: { t: toGlobalId('Tenant', seeded.tenantId), r: rules, d: defaultRole },
        }),
      });
      const reply = (await response.json()) as { errors?: unknown };
      if (reply.errors) throw new Error(`setRoleRules: ${JSON.stringify(reply.errors)}`);
    };
    /** Waits until nothing is left to recompute; returns the seconds it took from `from`, and the CPU used. */
    const recomputed = async (from: number) => {
      const before = cpuSnapshot([server.pid, ...pg()]);
      while (await pending()) await new Promise((r) => setTimeout(r, 50));
      const seconds = (performance.now() - from) / 1000;
      return { seconds, cpu: cpuUse(before, cpuSnapshot(before?.pids ?? [])) };
    };
    const fed = async () =>
      resultRows<{ n: number }>(await handle.db.execute(sql`select count(*)::int as n from changes where delivery_id is null and tenant_id = ${seeded.tenantId}::uuid`))[0]!.n;
    try {
      // The seeded members have no hashes yet (seeded by SQL, as members from before the upgrade):
      // the upgrade's pass sets them, feeding nothing (the migration asks for it; here, the bench).
      let t0 = performance.now();
      await handle.db.execute(sql`insert into app_recomputes (tenant_id, cause) values (${seeded.tenantId}::uuid, 'upgrade')`);
      const first = await recomputed(t0);
      console.log(`first hashes: ${first.seconds.toFixed(1)} s, ${(await fed())} fed (expected 0)`);

      const window = async (label: string, seconds: number, during?: () => Promise<void>) => {
        const requests = webhooks(server.url, Math.round(RATE * seconds), randomBytes(3).toString('hex'));
        const startAt = performance.timeOrigin + performance.now() + 500;
        const sending = sendOpenLoop(requests, RATE, startAt);
        await new Promise((r) => setTimeout(r, 500));
        const from = performance.now();
        const cpuFrom = cpuSnapshot([server.pid, ...pg()]);
        const busy = during ? await during().then(() => performance.now()) : undefined;
        const sent = await sending;
        const cpu = cpuUse(cpuFrom, cpuSnapshot(cpuFrom?.pids ?? []));
        // Only the webhooks sent while the recompute ran count for the busy window.
        const inWindow = sent.filter((s) => busy === undefined || localTime(s.sentAt) <= busy);
        const ok = inWindow.filter((s) => s.status === 200).map((s) => s.at - s.sentAt);
        const w = summarize(ok, inWindow.length - ok.length);
        console.log(
          `${label}: ${w.ok} webhooks answered 200 (${w.failed} not), p50 ${w.p50.toFixed(1)} ms, p99 ${w.p99.toFixed(1)} ms, max ${w.max.toFixed(0)} ms; ` +
            `CPU service ${cpu?.process[0]?.toFixed(0) ?? '?'}%, Postgres ${cpu ? cpu.process.slice(1).reduce((a, b) => a + b, 0).toFixed(0) : '?'}%, machine ${cpu?.machine.toFixed(0) ?? '?'}%` +
            (busy !== undefined ? `; recompute ${((busy - from) / 1000).toFixed(1)} s` : ''),
        );
        return w;
      };

      const quiet = await window('quiet (nothing recomputed)', Math.max(10, first.seconds));
      const rules = Array.from({ length: RULES }, (_, g) => ({ group: `Team ${g}`, role: `role-${g % 5}`, priority: g }));
      const fedBefore = await fed();
      t0 = performance.now();
      const busy = await window('while recomputing', Math.max(10, first.seconds * 3), async () => {
        await setRules(rules, 'member');
        const done = await recomputed(t0);
        const moved = (await fed()) - fedBefore;
        console.log(
          `recompute after new rules: ${done.seconds.toFixed(1)} s for ${seeded.memberIds.length} members ` +
            `(${Math.round(seeded.memberIds.length / done.seconds)} members/s), ${moved} moved and fed as UPDATED`,
        );
      });
      console.log(`ratio while recomputing ÷ quiet: p50 ${(busy.p50 / quiet.p50).toFixed(2)}, p99 ${(busy.p99 / quiet.p99).toFixed(2)}`);
    } finally {
      await server.stop();
    }
  } finally {
    await handle.close();
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.end({ timeout: 5 });
    await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
