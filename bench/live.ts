// Live subscriptions: push latency to many subscribers across two instances, and the memory
// an instance holds per idle subscription. Postgres only (instances share a database).
//
//   BENCH_DATABASE_URL=postgres://... npm run bench:live   # a fresh database dsync_bench_<random>
//                                                          # is created there and dropped at the end
//
// (1) Two service processes on one fresh database. BENCH_SUBSCRIBERS (1000) graphql-ws
// clients, each on its own socket, half on each instance, all subscribed to memberChanged with
// the admin key and no tenantId. Warm-up events until every subscriber has received one; then
// BENCH_EVENTS (200) Stytch member webhooks at BENCH_RATE (50) per second, open loop,
// alternating between the instances, each a new member (so each is a change), sent from a
// worker thread so that their response times are not held up by this process's subscribers
// (support/open-loop-sender.ts). Latency of a
// (event, subscriber) pair = when the subscriber received the change − when the webhook's 2xx
// response arrived, both on this process's clock; negative when the push beats the response.
// Every pair must be delivered, once.
//
// (2) Memory: a fresh instance (the two above stopped), its RSS (VmRSS) settled, then
// BENCH_IDLE (10000) subscriptions held open and idle, in each layout of BENCH_IDLE_LAYOUTS
// (subscriptions per socket, "1,10": 10,000 sockets × 1 and 1,000 sockets × 10), a fresh
// instance per layout. One event is pushed to all of them first, to know they are all live.
//
// (3) The same load again on fresh databases: on this build with no subscribers (the webhooks'
// own latency), and with BENCH_BASELINE_DIR=<another checkout> on that build with and without
// subscribers, so each change is a ratio measured in one run.
//
// Knobs: BENCH_DRAIN_SECONDS (30, how long to wait for missing deliveries after the last
// webhook), BENCH_SETTLE_SECONDS (5, before reading RSS), BENCH_NODE_ARGS (server node flags),
// BENCH_RUN=tsx (run the sources through tsx rather than the build; see support/server.ts).
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import postgres from 'postgres';
import { generateApiKey } from '../src/auth/api-keys.js';
import { stytchTimestamp } from '../src/samples/events.js';
import { stytchHeaders } from '../src/samples/sign.js';
import { cpuSnapshot, cpuUse, openFds, rssBytes } from './support/proc.js';
import { BENCH_UNCAPPED, startBenchServer, type BenchServer } from './support/server.js';
import { localTime, sendOpenLoop } from './support/open-loop-sender.js';
import { openSocket, openSockets, type Socket } from './support/subscribers.js';

const env = process.env;
const int = (value: string | undefined, fallback: number) => (value === undefined || value === '' ? fallback : Number(value));
const SUBSCRIBERS = int(env.BENCH_SUBSCRIBERS, 1000);
const EVENTS = int(env.BENCH_EVENTS, 200);
const RATE = int(env.BENCH_RATE, 50);
const IDLE = int(env.BENCH_IDLE, 10_000);
const IDLE_LAYOUTS = (env.BENCH_IDLE_LAYOUTS ?? '1,10').split(',').map(Number).filter((n) => n > 0);
const DRAIN_MS = int(env.BENCH_DRAIN_SECONDS, 30) * 1000;
const SETTLE_MS = int(env.BENCH_SETTLE_SECONDS, 5) * 1000;
/** Another checkout (its node_modules in place) to run the same load against, in the same run. */
const BASELINE = env.BENCH_BASELINE_DIR || undefined;
/** Handshakes in flight while opening sockets. */
const OPEN_CONCURRENCY = 100;

const adminKey = generateApiKey();
const polisSecret = randomBytes(32).toString('hex');
const stytchSecret = `whsec_${randomBytes(32).toString('base64')}`;
const run = randomBytes(4).toString('hex');
const ORGANIZATION = `organization-live-bench-${run}`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const elapsed = (t0: number) => ((performance.now() - t0) / 1000).toFixed(1);
const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(0);
const kib = (bytes: number) => (bytes / 1024).toFixed(1);
const thousands = (n: number) => n.toLocaleString('en-US');
const ms = (n: number) => (Number.isNaN(n) ? '-' : Math.abs(n) >= 100 ? n.toFixed(0) : n.toFixed(1));
const percentile = (sorted: Float64Array | number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
const loud = (message: string) => console.error(`\n!!! ${message} !!!\n`);

let problems = 0;
function problem(message: string): void {
  problems++;
  loud(message);
}

// ---- webhooks -------------------------------------------------------------------------------

function stytchBody(objectType: 'organization' | 'member', id: string, object: Record<string, unknown>): string {
  return JSON.stringify({
    action: 'CREATE',
    event_id: `event-live-bench-${randomBytes(8).toString('hex')}`,
    id,
    object_type: objectType,
    project_id: 'project-live-bench',
    source: 'DIRECT',
    timestamp: stytchTimestamp(),
    vertical: 'B2B',
    [objectType]: object,
  });
}

const memberBody = (memberId: string, name: string) =>
  stytchBody('member', memberId, {
    member_id: memberId,
    organization_id: ORGANIZATION,
    email_address: `${memberId}@bench.example`,
    name,
    status: 'active',
    roles: [{ role_id: 'stytch_member', sources: [] }],
    trusted_metadata: {},
  });

interface Posted {
  status: number | string;
  /** performance.now() when the response (status and headers) arrived. */
  at: number;
}

async function post(server: BenchServer, body: string): Promise<Posted> {
  const headers = stytchHeaders(stytchSecret, body);
  try {
    const response = await fetch(`${server.url}/webhooks/stytch`, { method: 'POST', headers, body });
    const at = performance.now();
    const text = await response.text();
    return { status: response.ok ? response.status : `${response.status} ${text.slice(0, 200)}`, at };
  } catch (error) {
    return { status: (error as Error).message, at: performance.now() };
  }
}

async function postOk(server: BenchServer, body: string): Promise<void> {
  const r = await post(server, body);
  if (typeof r.status !== 'number') throw new Error(`webhook failed: ${r.status}`);
}

// ---- servers --------------------------------------------------------------------------------

async function startServer(databaseUrl: string, dataDir: string, root?: string): Promise<BenchServer> {
  return startBenchServer(
    {
    LOG_LEVEL: env.BENCH_LOG_LEVEL ?? 'warn',
    NODE_ENV: 'production',
    ADMIN_API_KEY: adminKey,
    POLIS_WEBHOOK_SECRET: polisSecret,
    STYTCH_WEBHOOK_SECRET: stytchSecret,
    DATABASE_URL: databaseUrl,
    DATA_DIR: dataDir,
    // One key stands for many clients here: the per-key caps would measure themselves.
    ...BENCH_UNCAPPED,
    // Traces on, to measure what they cost (a build without them ignores it).
    ...(env.OTEL_EXPORTER_OTLP_ENDPOINT ? { OTEL_EXPORTER_OTLP_ENDPOINT: env.OTEL_EXPORTER_OTLP_ENDPOINT } : {}),
    },
    root,
  );
}

/** What the server printed besides its start-up banner (LOG_LEVEL=warn: only trouble). */
function serverOutput(name: string, server: BenchServer): void {
  const lines = server
    .output()
    .replace(/^[\s\S]*?npm run trigger -- --list\n/, '')
    .split('\n')
    .filter((l) => l.trim() !== '');
  if (lines.length === 0) return;
  console.log(`${name} printed ${lines.length} line(s):\n${lines.slice(0, 40).join('\n')}${lines.length > 40 ? '\n…' : ''}`);
}

// ---- (1) latency ----------------------------------------------------------------------------

interface Subscriber {
  instance: number;
  /** Receipt time per measured event (NaN: not received). */
  receipts: Float64Array;
  warm: boolean;
  duplicates: number;
  /** Deliveries whose member name is not the one sent. */
  stale: number;
  unknown: number;
}

interface LatencyResult {
  delivered: number;
  expected: number;
  all: Float64Array;
  same: Float64Array;
  cross: Float64Array;
  /** Per event, the latency of its last subscriber. */
  lastPerEvent: Float64Array;
  /** Webhook response times (2xx arrival − request start). */
  response: Float64Array;
  /** Median latency of the (event, subscriber) pairs of each quarter of the events, in send order. */
  quarters: number[];
  sendSeconds: number;
  drainMs: number;
  cpu: string;
  /** Both instances' CPU time per push (per webhook when nobody subscribes), µs. */
  microsPerPush: number;
  /** Both instances' CPU time over the measured window, s. */
  cpuSeconds: number;
  loopDelay: { p99: number; max: number };
}

const sortedOf = (values: number[]) => Float64Array.from(values).sort();

async function latency(servers: [BenchServer, BenchServer], SUBSCRIBERS: number): Promise<LatencyResult> {
  const warmPrefix = `member-live-bench-${run}-warm-`;
  const memberIds = Array.from({ length: EVENTS }, (_, i) => `member-live-bench-${run}-${i}`);
  const names = memberIds.map((_, i) => `Member ${i} ${randomBytes(4).toString('hex')}`);
  const eventIndex = new Map(memberIds.map((id, i) => [id, i]));
  let delivered = 0;
  let warm = 0;

  const subscribers: Subscriber[] = Array.from({ length: SUBSCRIBERS }, (_, s) => ({
    instance: s % 2,
    receipts: new Float64Array(EVENTS).fill(NaN),
    warm: false,
    duplicates: 0,
    stale: 0,
    unknown: 0,
  }));

  const t0 = performance.now();
  const sockets = await openSockets(SUBSCRIBERS, OPEN_CONCURRENCY, (s) =>
    openSocket(servers[s % 2]!.url, adminKey, 1, () => (at, change) => {
      const sub = subscribers[s]!;
      const id = change.member.externalId;
      const i = eventIndex.get(id);
      if (i === undefined) {
        if (!id.startsWith(warmPrefix)) sub.unknown++;
        else if (!sub.warm) {
          sub.warm = true;
          warm++;
        }
        return;
      }
      if (!Number.isNaN(sub.receipts[i]!)) {
        sub.duplicates++;
        return;
      }
      sub.receipts[i] = at;
      delivered++;
      if (change.member.name !== names[i]) sub.stale++;
    }),
  );
  console.log(`latency: ${SUBSCRIBERS} sockets open and acknowledged (half on each instance) in ${elapsed(t0)} s`);

  try {
    // Warm-up: events until every subscriber has received one (a subscription is live once the
    // server ran its subscribe; graphql-ws has no acknowledgement for that).
    const tw = performance.now();
    let w = 0;
    while (warm < SUBSCRIBERS) {
      if (performance.now() - tw > 60_000) throw new Error(`after 60 s of warm-up only ${warm} of ${SUBSCRIBERS} subscribers received an event`);
      await postOk(servers[w % 2]!, memberBody(`${warmPrefix}${w}`, `Warm ${w} ${randomBytes(4).toString('hex')}`));
      w++;
      for (let k = 0; k < 20 && warm < SUBSCRIBERS; k++) await sleep(25);
    }
    await sleep(1000); // let the last warm-up deliveries finish
    console.log(`latency: all ${SUBSCRIBERS} subscribers live after ${w} warm-up event(s), ${elapsed(tw)} s`);

    // Measured: open loop, event i sent at start + i / RATE, whatever the earlier ones are doing.
    const sentAt = new Float64Array(EVENTS).fill(NaN);
    const ackAt = new Float64Array(EVENTS).fill(NaN);
    const failures = new Map<string, number>();
    const bodies = memberIds.map((id, i) => memberBody(id, names[i]!));
    const loop = monitorEventLoopDelay({ resolution: 5 });
    loop.enable();
    const cpuFrom = cpuSnapshot([servers[0].pid, servers[1].pid]);
    const requests = bodies.map((body, i) => ({ url: `${servers[i % 2]!.url}/webhooks/stytch`, headers: stytchHeaders(stytchSecret, body), body }));
    const start = performance.now() + 200;
    const sent = await sendOpenLoop(requests, RATE, performance.timeOrigin + start);
    sent.forEach((r, i) => {
      sentAt[i] = localTime(r.sentAt);
      if (typeof r.status === 'number') ackAt[i] = localTime(r.at);
      else failures.set(String(r.status), (failures.get(String(r.status)) ?? 0) + 1);
    });
    const sendSeconds = (Math.max(...sentAt) - start) / 1000;
    const acked = [...ackAt].filter((t) => !Number.isNaN(t)).length;
    const expected = EVENTS * SUBSCRIBERS;
    // Drain: until everything arrived, or nothing more did for DRAIN_MS.
    const drainFrom = performance.now();
    let last = delivered;
    let lastProgress = performance.now();
    while (delivered < expected && performance.now() - lastProgress < DRAIN_MS) {
      await sleep(20);
      if (delivered !== last) {
        last = delivered;
        lastProgress = performance.now();
      }
    }
    const drainMs = performance.now() - drainFrom;
    const cpuTo = cpuSnapshot([servers[0].pid, servers[1].pid]);
    loop.disable();

    if (failures.size > 0) {
      problem(`${EVENTS - acked} of ${EVENTS} webhooks failed: ${[...failures].map(([k, v]) => `${v}× ${k}`).join('; ')}`);
    }
    const all: number[] = [];
    const same: number[] = [];
    const cross: number[] = [];
    const lastPerEvent = new Array<number>(EVENTS).fill(-Infinity);
    const byQuarter: number[][] = [[], [], [], []];
    const missingPerInstance = [0, 0];
    const missingEvents = new Set<number>();
    for (const sub of subscribers) {
      for (let i = 0; i < EVENTS; i++) {
        const received = sub.receipts[i]!;
        if (Number.isNaN(received)) {
          missingPerInstance[sub.instance]!++;
          missingEvents.add(i);
          continue;
        }
        if (Number.isNaN(ackAt[i]!)) continue; // its webhook failed (reported above)
        const l = received - ackAt[i]!;
        all.push(l);
        (sub.instance === i % 2 ? same : cross).push(l);
        byQuarter[Math.min(3, Math.floor((4 * i) / EVENTS))]!.push(l);
        lastPerEvent[i] = Math.max(lastPerEvent[i]!, l);
      }
    }
    if (delivered < expected) {
      const example = [...missingEvents].slice(0, 10).join(', ');
      problem(
        `DELIVERED ${thousands(delivered)} OF ${thousands(expected)} (event, subscriber) pairs: ` +
          `${thousands(missingPerInstance[0]!)} missing on instance A's subscribers, ${thousands(missingPerInstance[1]!)} on B's; ` +
          `${missingEvents.size} events incomplete (e.g. event ${example}); nothing more arrived for ${DRAIN_MS / 1000} s`,
      );
    }
    const count = (key: 'duplicates' | 'stale' | 'unknown') => subscribers.reduce((a, s) => a + s[key], 0);
    if (count('duplicates')) problem(`${count('duplicates')} deliveries were duplicates`);
    if (count('stale')) problem(`${count('stale')} deliveries carried a member name other than the one sent`);
    if (count('unknown')) problem(`${count('unknown')} deliveries were about members this run did not send`);
    const socketTrouble = sockets.filter((s) => s.closedWith() !== null || s.errors.length > 0);
    if (socketTrouble.length > 0) {
      const first = socketTrouble[0]!;
      problem(
        `${socketTrouble.length} sockets closed or reported errors, e.g. ${JSON.stringify(first.closedWith())} ${first.errors.slice(0, 3).join('; ')}`,
      );
    }

    const cpu = cpuUse(cpuFrom, cpuTo);
    // CPU time both instances spent per push (webhook handling included), which contention
    // from other work on the machine does not inflate the way it does latency.
    const serverSeconds = cpuFrom && cpuTo ? cpuTo.process[0]! - cpuFrom.process[0]! + cpuTo.process[1]! - cpuFrom.process[1]! : NaN;
    const cpuText = cpu
      ? `instance A ${cpu.process[0]!.toFixed(0)}%, instance B ${cpu.process[1]!.toFixed(0)}%, this bench ${cpu.self.toFixed(0)}% ` +
        `(of one core), machine ${cpu.machine.toFixed(0)}% of ${cpus().length} cores busy; the instances used ` +
        `${serverSeconds.toFixed(1)} CPU s, ${((serverSeconds * 1e6) / Math.max(1, delivered)).toFixed(0)} µs per push`
      : 'not available';
    return {
      delivered,
      expected,
      all: sortedOf(all),
      same: sortedOf(same),
      cross: sortedOf(cross),
      lastPerEvent: sortedOf(lastPerEvent.filter((l) => l !== -Infinity)),
      quarters: byQuarter.map((q) => percentile(sortedOf(q), 50)),
      response: sortedOf([...ackAt].map((a, i) => a - sentAt[i]!).filter((x) => !Number.isNaN(x))),
      sendSeconds,
      drainMs,
      cpu: cpuText,
      microsPerPush: (serverSeconds * 1e6) / Math.max(1, SUBSCRIBERS === 0 ? acked : delivered),
      cpuSeconds: serverSeconds,
      loopDelay: { p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 },
    };
  } finally {
    await Promise.all(sockets.map((s) => s.dispose()));
  }
}

// ---- (2) memory -----------------------------------------------------------------------------

interface MemoryResult {
  sockets: number;
  perSocket: number;
  subscriptions: number;
  before: number;
  after: number;
  fdsAfter: number | undefined;
  openSeconds: number;
}

/** Median of three VmRSS readings 500 ms apart. */
async function settledRss(pid: number): Promise<number> {
  await sleep(SETTLE_MS);
  const readings: number[] = [];
  for (let k = 0; k < 3; k++) {
    if (k > 0) await sleep(500);
    const rss = rssBytes(pid);
    if (rss === undefined) throw new Error(`cannot read /proc/${pid}/status (Linux only)`);
    readings.push(rss);
  }
  return readings.sort((a, b) => a - b)[1]!;
}

/** Sends events to `server` until `done()`, at most one per 500 ms. */
async function pushUntil(server: BenchServer, prefix: string, done: () => boolean, what: string): Promise<number> {
  const t0 = performance.now();
  let n = 0;
  while (!done()) {
    if (performance.now() - t0 > 120_000) throw new Error(`after 120 s: ${what}`);
    await postOk(server, memberBody(`${prefix}${n}`, `Idle ${n} ${randomBytes(4).toString('hex')}`));
    n++;
    for (let k = 0; k < 20 && !done(); k++) await sleep(25);
  }
  return n;
}

async function memory(databaseUrl: string, dataDir: string, perSocket: number): Promise<MemoryResult> {
  const sockets = Math.ceil(IDLE / perSocket);
  const subscriptions = sockets * perSocket;
  const server = await startServer(databaseUrl, dataDir);
  const open: Socket[] = [];
  try {
    // Warm the code paths first (one subscription, one delivery), so the baseline is not the
    // cost of loading and compiling them.
    let probed = false;
    const probe = openSocket(server.url, adminKey, 1, () => () => (probed = true));
    await probe.connected;
    await pushUntil(server, `member-live-bench-${run}-probe-${perSocket}-`, () => probed, 'the probe subscription received nothing');
    await probe.dispose();
    const before = await settledRss(server.pid);

    const prefix = `member-live-bench-${run}-idle-${perSocket}-`;
    const live = new Uint8Array(subscriptions);
    let liveCount = 0;
    const t0 = performance.now();
    open.push(
      ...(await openSockets(sockets, OPEN_CONCURRENCY, (s) =>
        openSocket(server.url, adminKey, perSocket, (j) => (_at, change) => {
          const k = s * perSocket + j;
          if (change.member.externalId.startsWith(prefix) && live[k] === 0) {
            live[k] = 1;
            liveCount++;
          }
        }),
      )),
    );
    const openSeconds = (performance.now() - t0) / 1000;
    const pushes = await pushUntil(server, prefix, () => liveCount === subscriptions, `only ${liveCount} of ${subscriptions} subscriptions live`);
    const trouble = open.filter((s) => s.closedWith() !== null || s.errors.length > 0);
    if (trouble.length > 0) {
      problem(`memory (${perSocket}/socket): ${trouble.length} sockets closed or reported errors, e.g. ${JSON.stringify(trouble[0]!.closedWith())} ${trouble[0]!.errors.slice(0, 3).join('; ')}`);
    }
    console.log(
      `memory: ${thousands(sockets)} sockets × ${perSocket} = ${thousands(subscriptions)} subscriptions open in ${openSeconds.toFixed(1)} s, ` +
        `all live after ${pushes} event(s); settling ${SETTLE_MS / 1000} s`,
    );
    const after = await settledRss(server.pid);
    const fdsAfter = openFds(server.pid);
    return { sockets, perSocket, subscriptions, before, after, fdsAfter, openSeconds };
  } finally {
    await Promise.all(open.map((s) => s.dispose()));
    serverOutput(`memory instance (${perSocket}/socket)`, server);
    await server.stop();
  }
}

// ---- comparisons ----------------------------------------------------------------------------

interface Phase {
  label: string;
  subscribers: number;
  result: LatencyResult;
}

/** The same load on a fresh database of its own, from `root` (this checkout or a baseline). */
async function phase(admin: postgres.Sql, adminUrl: string, dataDir: string, label: string, subscribers: number, root?: string): Promise<Phase> {
  const name = `dsync_bench_${randomBytes(6).toString('hex')}`;
  await admin.unsafe(`create database ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  try {
    const a = await startServer(url.toString(), dataDir, root);
    const b = await startServer(url.toString(), dataDir, root);
    try {
      await postOk(a, stytchBody('organization', ORGANIZATION, { organization_id: ORGANIZATION, organization_name: 'Live bench' }));
      console.log(`${label}: ${subscribers} subscribers`);
      return { label, subscribers, result: await latency([a, b], subscribers) };
    } finally {
      serverOutput(`${label} A`, a);
      serverOutput(`${label} B`, b);
      await Promise.all([a.stop(), b.stop()]);
    }
  } finally {
    await admin.unsafe(`drop database if exists ${name} with (force)`);
  }
}

// ---- main -----------------------------------------------------------------------------------

async function main() {
  const adminUrl = env.BENCH_DATABASE_URL;
  if (!adminUrl) {
    console.error('bench:live needs Postgres (two instances share one database): set BENCH_DATABASE_URL=postgres://... (a throwaway database is created there)');
    process.exit(2);
  }
  const tStart = performance.now();
  const machine = `${cpus().length} × ${cpus()[0]?.model.trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
  console.log(
    `live benchmark: ${SUBSCRIBERS} subscribers over 2 instances, ${EVENTS} events at ${RATE}/s; ` +
      `idle memory with ${IDLE} subscriptions (${IDLE_LAYOUTS.join(', ')} per socket); ${machine}`,
  );

  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  const name = `dsync_bench_${randomBytes(6).toString('hex')}`;
  const dataDir = await mkdtemp(join(tmpdir(), 'dsync-bench-live-'));
  let pgVersion: string;
  let lat: LatencyResult | undefined;
  const phases: Phase[] = [];
  const mem: MemoryResult[] = [];
  try {
    const [v] = await admin<{ version: string; fsync: string }[]>`
      select split_part(version(), ' on ', 1) as version, current_setting('fsync') as fsync`;
    pgVersion = /PostgreSQL (\S+)/.exec(v!.version)?.[1] ?? '?';
    await admin.unsafe(`create database ${name}`);
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    const databaseUrl = url.toString();
    console.log(`Postgres: ${v!.version}, fsync ${v!.fsync}; database ${name}`);
    try {
      // One after the other: the first applies the migrations.
      const t0 = performance.now();
      const a = await startServer(databaseUrl, dataDir);
      const b = await startServer(databaseUrl, dataDir);
      console.log(`instances A (pid ${a.pid}, ${a.url}) and B (pid ${b.pid}, ${b.url}) started in ${elapsed(t0)} s`);
      try {
        await postOk(a, stytchBody('organization', ORGANIZATION, { organization_id: ORGANIZATION, organization_name: 'Live bench' }));
        lat = await latency([a, b], SUBSCRIBERS);
      } finally {
        serverOutput('instance A', a);
        serverOutput('instance B', b);
        await Promise.all([a.stop(), b.stop()]);
      }
      // The webhooks' own latency with nobody subscribed, and the same load on a baseline build.
      phases.push(await phase(admin, adminUrl, dataDir, 'this build, no subscribers', 0));
      if (BASELINE) {
        phases.push(await phase(admin, adminUrl, dataDir, `baseline ${BASELINE}`, SUBSCRIBERS, BASELINE));
        phases.push(await phase(admin, adminUrl, dataDir, `baseline ${BASELINE}, no subscribers`, 0, BASELINE));
      }
      for (const perSocket of IDLE_LAYOUTS) mem.push(await memory(databaseUrl, dataDir, perSocket));
    } finally {
      await admin.unsafe(`drop database if exists ${name} with (force)`);
    }
  } finally {
    await admin.end({ timeout: 5 });
    await rm(dataDir, { recursive: true, force: true });
  }

  // ---- report -------------------------------------------------------------------------------
  const lines: string[] = [];
  if (lat) {
    const row = (what: string, xs: Float64Array) =>
      `| ${what} | ${thousands(xs.length)} | ${ms(percentile(xs, 50))} | ${ms(percentile(xs, 90))} | ${ms(percentile(xs, 99))} | ${ms(xs.at(-1) ?? NaN)} |`;
    const ok = lat.delivered === lat.expected;
    lines.push(
      `Push latency (receipt at the subscriber − arrival of the webhook's 2xx), ${thousands(SUBSCRIBERS)} subscribers ` +
        `(one socket each, ${thousands(Math.ceil(SUBSCRIBERS / 2))} and ${thousands(Math.floor(SUBSCRIBERS / 2))} on the two instances), ${EVENTS} member webhooks at ${RATE}/s alternating between the instances ` +
        `(sent over ${lat.sendSeconds.toFixed(1)} s):`,
      '',
      '| pairs | count | p50 ms | p90 ms | p99 ms | max ms |',
      '|---|---|---|---|---|---|',
      row('all (event, subscriber)', lat.all),
      row('subscriber on the instance that took the webhook', lat.same),
      row('subscriber on the other instance', lat.cross),
      row('per event, its last subscriber', lat.lastPerEvent),
      row('(webhook response time, request → 2xx)', lat.response),
      '',
      `Delivered ${thousands(lat.delivered)} of ${thousands(lat.expected)} (event, subscriber) pairs${ok ? ', every one once' : ' — INCOMPLETE'}; ` +
        `${(lat.drainMs / 1000).toFixed(1)} s from the last 2xx to the last delivery. ` +
        `p50 by quarter of the events, in send order: ${lat.quarters.map(ms).join(', ')} ms.`,
      `CPU over the measured window: ${lat.cpu}. This bench's event-loop delay: p99 ${lat.loopDelay.p99.toFixed(1)} ms, ` +
        `max ${lat.loopDelay.max.toFixed(1)} ms (receipt times are late by up to that).`,
    );
  }
  if (lat && phases.length > 0) {
    const all = [{ label: 'this build', subscribers: SUBSCRIBERS, result: lat }, ...phases];
    const pct = (xs: Float64Array, p: number) => ms(percentile(xs, p));
    // A push's own cost: the CPU beyond what the same webhooks took with nobody subscribed
    // (on the same build, in this run), per push.
    const withoutSubscribers = (label: string) => phases.find((p) => p.label === `${label}, no subscribers`)?.result;
    const beyond = (label: string, r: LatencyResult) => {
      const idle = withoutSubscribers(label);
      return idle ? ((r.cpuSeconds - idle.cpuSeconds) * 1e6) / Math.max(1, r.delivered) : NaN;
    };
    lines.push(
      '',
      `The same load in the same run (each on a fresh database). CPU is both instances' over the measured window, per push (per webhook with no subscribers); "beyond the webhooks" subtracts the same build's CPU with no subscribers:`,
      '',
      '| build | subscribers | µs CPU per push | µs beyond the webhooks | webhooks failed | webhook p50 / p99 ms | push p50 / p99 ms |',
      '|---|---|---|---|---|---|---|',
      ...all.map(
        ({ label, subscribers, result: r }) =>
          `| ${label} | ${thousands(subscribers)} | ${r.microsPerPush.toFixed(subscribers === 0 ? 0 : 1)} | ${subscribers === 0 ? '-' : ms(beyond(label, r))} | ${EVENTS - r.response.length} | ` +
          `${pct(r.response, 50)} / ${pct(r.response, 99)} | ${subscribers === 0 ? '-' : `${pct(r.all, 50)} / ${pct(r.all, 99)}`} |`,
      ),
    );
    const base = phases.find((p) => p.label === `baseline ${BASELINE}`);
    if (base) {
      lines.push(
        '',
        `This build ÷ baseline: CPU per push ${(lat.microsPerPush / base.result.microsPerPush).toFixed(2)}, ` +
          `beyond the webhooks ${(beyond('this build', lat) / beyond(base.label, base.result)).toFixed(2)}.`,
      );
    }
    const idle = withoutSubscribers('this build');
    if (idle) {
      lines.push(
        `Webhook p99 with subscribers ÷ without, this build: ${(percentile(lat.response, 99) / percentile(idle.response, 99)).toFixed(1)}` +
          (base && withoutSubscribers(base.label)
            ? `; baseline: ${(percentile(base.result.response, 99) / percentile(withoutSubscribers(base.label)!.response, 99)).toFixed(1)}.`
            : '.'),
      );
    }
  }
  if (mem.length > 0) {
    lines.push(
      '',
      `Memory of one fresh instance (VmRSS, median of 3 readings after ${SETTLE_MS / 1000} s settling) before and while holding idle memberChanged subscriptions:`,
      '',
      '| layout | RSS before | RSS with them | per subscription |',
      '|---|---|---|---|',
      ...mem.map(
        (m) =>
          `| ${thousands(m.sockets)} sockets × ${m.perSocket} subscription${m.perSocket === 1 ? '' : 's'} | ${mib(m.before)} MiB | ` +
          `${mib(m.after)} MiB | ${kib((m.after - m.before) / m.subscriptions)} KiB |`,
      ),
    );
    for (const m of mem) {
      if (m.fdsAfter !== undefined) console.log(`(${m.sockets} sockets × ${m.perSocket}: the instance had ${m.fdsAfter} fds open; opening took ${m.openSeconds.toFixed(1)} s)`);
    }
  }
  lines.push(
    '',
    `Postgres ${pgVersion} on the same machine; ${machine}; the bench, both instances and Postgres share the cores. ` +
      `Run took ${elapsed(tStart)} s.`,
  );
  console.log(['', '---- for docs/performance.md ----', ...lines, '------------------------'].join('\n'));
  if (problems > 0) {
    loud(`${problems} problem(s) above: these figures are NOT a clean run`);
    process.exitCode = 1;
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
