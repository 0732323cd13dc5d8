// Graceful shutdown of a real service process. On SIGTERM, deliveries already under way (their
// headers in, their bodies still uploading) finish and are stored; deliveries that arrive after
// it are answered 503 with Retry-After or find no connection, and are not stored; open
// subscriptions are closed with 1001; the process says it shut down and exits 0, and everything
// it acknowledged is in the database. A repeated signal does not cut the drain short, a sender
// that never finishes its body is cut off by the 10 s drain (still exit 0, logged), and a
// WebSocket client that never answers the close meets the 25 s shutdown deadline (exit 1, logged).
import { once } from 'node:events';
import { rm } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { generateApiKey } from '../../src/auth/api-keys.js';
import { openDatabase, type DatabaseHandle } from '../../src/db/open.js';
import { backend, createPostgresDatabase, onPostgres } from '../support/backend.js';
import { query } from '../support/db.js';
import { findViolations } from '../support/invariants.js';
import { stytchEvent } from '../support/directory.js';
import { eventually, subscribe, wsUrl } from '../support/live.js';
import { seededDataDir, spawnService, type ServiceProcess } from '../support/process.js';
import { stytchRequest, type StytchRequest } from '../support/server.js';
import { newPolisSecret, newStytchSecret } from '../support/sign.js';
import { budget } from '../support/time.js';

interface Running {
  service: ServiceProcess;
  /**
   * The service's own process. tsx, which runs it, relays a signal and SIGKILLs a child that
   * has not confirmed it within 30 ms, which a child busy with a burst may not have: signals go
   * straight to the service, as a container runtime sends them to `node dist/main.js`.
   */
  pid: number;
  stytchSecret: string;
  adminKey: string;
  /** The exit code, once the process has exited. */
  exited: Promise<number | null>;
  /** The service's database, opened directly (for PGlite, only once the service has exited). */
  openDatabase(): Promise<DatabaseHandle>;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Backing {
  env: Record<string, string>;
  open(): Promise<DatabaseHandle>;
  dispose(): Promise<void>;
}
let backing: Backing | undefined;
afterAll(async () => {
  await backing?.dispose();
});

/**
 * The database the file's processes run on, one after another: a PGlite directory is created
 * once, as its first start is by far the slowest. Every test tags its own deliveries.
 */
async function backingDatabase(): Promise<Backing> {
  if (backing) return backing;
  if (onPostgres) {
    const created = await createPostgresDatabase();
    backing = {
      env: { DATABASE_URL: created.url },
      open: () => openDatabase({ databaseUrl: created.url, poolSize: 2 }),
      dispose: created.drop,
    };
  } else {
    const dir = await seededDataDir('dsync-shutdown-');
    backing = {
      env: { DATA_DIR: dir },
      open: () => openDatabase({ pgliteDir: join(dir, 'pglite') }),
      dispose: () => rm(dir, { recursive: true, force: true }),
    };
  }
  return backing;
}

async function start(): Promise<Running> {
  const stytchSecret = newStytchSecret();
  const adminKey = generateApiKey();
  const database = await backingDatabase();
  // debug: the test reads the service's own account of each request (an arrival is logged at
  // debug) and of its shutdown.
  const env: Record<string, string> = {
    ...database.env,
    STYTCH_WEBHOOK_SECRET: stytchSecret,
    POLIS_WEBHOOK_SECRET: newPolisSecret(),
    ADMIN_API_KEY: adminKey,
    LOG_LEVEL: 'debug',
  };
  const service = await spawnService(env);
  const exited = new Promise<number | null>((resolve) => service.child.once('exit', (code) => resolve(code)));
  // Every log line carries the pid (pino writes them apart from the banner, maybe after it).
  const pidOf = () => Number(/"pid":(\d+)/.exec(service.output())?.[1] ?? 0);
  await eventually(() => pidOf() > 0, 20_000, 'a log line with the pid');
  const pid = pidOf();
  cleanups.push(async () => {
    if (service.child.exitCode !== null || service.child.signalCode !== null) return;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
    service.child.kill('SIGKILL');
    await exited;
  });
  return { service, pid, stytchSecret, adminKey, exited, openDatabase: database.open };
}

interface LogLine {
  level: number;
  msg: string;
  req?: { method?: string; url?: string; remotePort?: number };
  [key: string]: unknown;
}

/** The service's JSON log lines so far (the banner and any partial last line left out). */
function logLines(service: ServiceProcess): LogLine[] {
  const lines = service.output().split('\n').slice(0, -1);
  const parsed: LogLine[] = [];
  for (const line of lines) {
    if (!line.startsWith('{')) continue;
    try {
      parsed.push(JSON.parse(line) as LogLine);
    } catch {
      // not a log line
    }
  }
  return parsed;
}

const logged = (service: ServiceProcess, msg: string) => logLines(service).filter((l) => l.msg.includes(msg));

async function waitForLog(service: ServiceProcess, msg: string, n = 1): Promise<LogLine[]> {
  await eventually(() => logged(service, msg).length >= n, 20_000, `${n} log line(s) "${msg}":\n${service.output()}`);
  return logged(service, msg);
}

/** Webhook requests whose headers the service has received (it logs each as it routes it). */
const arrived = (service: ServiceProcess) =>
  logLines(service).filter((l) => l.msg === 'incoming request' && l.req?.url?.startsWith('/webhooks/'));
/** The client ports those requests came from. */
const arrivedPorts = (service: ServiceProcess) => new Set(arrived(service).map((l) => l.req?.remotePort));

async function waitForExit(running: Running, timeoutMs = 60_000): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the service did not exit:\n${running.service.output()}`)), budget(timeoutMs));
  });
  try {
    return await Promise.race([running.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// A fresh name every time: an event identical to what is stored changes nothing.
function memberDelivery(secret: string, tag: string, i: number): StytchRequest {
  const id = `member-shutdown-${tag}-${i}`;
  return stytchRequest(
    secret,
    stytchEvent('member', 'CREATE', id, {
      member_id: id,
      organization_id: `org-shutdown-${tag}`,
      email_address: `${id}@shutdown.example`,
      status: 'active',
      name: `Name ${randomBytes(3).toString('hex')}`,
    }),
  );
}

type Outcome =
  | { status: number; retryAfter: string | undefined; connection: string | undefined; body: string }
  | { error: string };

const acknowledged = (o: Outcome) => 'status' in o && o.status >= 200 && o.status < 300;
/** Answered 503 with Retry-After, or never answered at all: either way the sender retries. */
const turnedAway = (o: Outcome) => ('status' in o ? o.status === 503 && o.retryAfter === '5' : true);

const errorCode = (error: unknown): string => {
  const e = error as { code?: string; cause?: { code?: string }; message?: string };
  return e.code ?? e.cause?.code ?? e.message ?? String(error);
};

async function deliver(url: string, request: StytchRequest): Promise<Outcome> {
  try {
    const response = await fetch(`${url}/webhooks/stytch`, { method: 'POST', headers: request.headers, body: request.body });
    const body = await response.text();
    return {
      status: response.status,
      retryAfter: response.headers.get('retry-after') ?? undefined,
      connection: response.headers.get('connection') ?? undefined,
      body,
    };
  } catch (error) {
    return { error: errorCode(error) };
  }
}

interface Upload {
  request: StytchRequest;
  /** The client's port, which the service logs as remotePort once the headers are in. */
  port: Promise<number>;
  /** Sends the rest of the body. */
  finish(): void;
  outcome: Promise<Outcome>;
  /** Resolves when the connection closes (the client would keep it alive). */
  connectionClosed: Promise<void>;
}

/** A delivery on a keep-alive connection of its own, whose body is sent only half. */
function startUpload(url: string, request: StytchRequest): Upload {
  const target = new URL(url);
  const body = Buffer.from(request.body);
  const half = body.length >> 1;
  const req = http.request({
    host: target.hostname,
    port: target.port,
    path: '/webhooks/stytch',
    method: 'POST',
    agent: new http.Agent({ keepAlive: true }),
    headers: { ...request.headers, 'content-length': String(body.length) },
  });
  const port = new Promise<number>((resolve) =>
    req.once('socket', (socket) => socket.once('connect', () => resolve(socket.localPort!))),
  );
  const connectionClosed = new Promise<void>((resolve) => req.once('socket', (socket) => socket.once('close', () => resolve())));
  const outcome = new Promise<Outcome>((resolve) => {
    req.once('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.once('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          retryAfter: res.headers['retry-after'],
          connection: res.headers.connection,
          body: Buffer.concat(chunks).toString(),
        }),
      );
    });
    req.once('error', (error) => resolve({ error: errorCode(error) }));
  });
  req.write(body.subarray(0, half));
  return { request, port, outcome, connectionClosed, finish: () => req.end(body.subarray(half)) };
}

interface PartialHeaders {
  /** Sends the rest of the headers and the body. */
  finish(): void;
  outcome: Promise<Outcome>;
}

/** A delivery on a raw connection that has sent only its request line and Host header. */
async function startHeaders(url: string, request: StytchRequest): Promise<PartialHeaders> {
  const target = new URL(url);
  const socket = net.connect(Number(target.port), target.hostname);
  await once(socket, 'connect');
  let received = '';
  let failure: string | undefined;
  socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
  socket.on('error', (error) => (failure = errorCode(error)));
  const outcome = once(socket, 'close').then((): Outcome => {
    const [head = '', body = ''] = received.split('\r\n\r\n');
    const [statusLine, ...headerLines] = head.split('\r\n');
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine ?? '')?.[1]);
    if (!status) return { error: failure ?? 'closed without an answer' };
    const headers = new Map(headerLines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
    return { status, retryAfter: headers.get('retry-after'), connection: headers.get('connection'), body };
  });
  socket.write(`POST /webhooks/stytch HTTP/1.1\r\nHost: ${target.host}\r\n`);
  const rest = { ...request.headers, 'content-length': String(Buffer.byteLength(request.body)) };
  return {
    finish: () => socket.write(`${Object.entries(rest).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n${request.body}`),
    outcome,
  };
}

/** The stored delivery keys, once the database is checked to hold nothing half-applied. */
async function storedKeys(running: Running): Promise<Set<string>> {
  const database = await running.openDatabase();
  try {
    expect(await findViolations(database)).toEqual([]);
    const rows = await query(database, sql`select key from delivery_keys`);
    return new Set(rows.map((r) => String(r.key)));
  } finally {
    await database.close();
  }
}

const keyOf = (request: StytchRequest) => `svix:${request.id}`;

const MEMBER_CHANGED = 'subscription { memberChanged { cursor member { externalId } } }';

describe(`graceful shutdown on SIGTERM (${backend})`, () => {
  it('finishes deliveries under way, turns new ones away, closes subscriptions with 1001 and exits 0', async () => {
    const running = await start();
    const { service, stytchSecret, pid } = running;
    const tag = randomBytes(4).toString('hex');
    let n = 0;
    const next = () => memberDelivery(stytchSecret, tag, n++);
    const acked: StytchRequest[] = [];

    // Subscribers, provably live: each has heard a change sent after it subscribed.
    const subscribers = [0, 1].map(() => subscribe(service.url, running.adminKey, MEMBER_CHANGED));
    await eventually(
      async () => {
        if (subscribers.every((s) => s.events.length > 0)) return true;
        const request = next();
        const outcome = await deliver(service.url, request);
        expect(outcome).toMatchObject({ status: 200 });
        acked.push(request);
        return false;
      },
      20_000,
      'every subscriber to hear a change',
    );

    // A connection whose request has sent only its first line when the signal comes. Opened
    // before the uploads below, so the service has read those bytes once it logs them.
    const lateHeaders = next();
    const partial = await startHeaders(service.url, lateHeaders);

    // Deliveries under way: their headers are in (the service logged them), their bodies half sent.
    const uploads = Array.from({ length: 5 }, () => startUpload(service.url, next()));
    const uploadPorts = await Promise.all(uploads.map((u) => u.port));
    await eventually(() => uploadPorts.every((p) => arrivedPorts(service).has(p)), 20_000, 'the uploads\' headers to arrive');

    // And a burst of ordinary deliveries, some of them arriving as the signal does.
    const arrivedBefore = arrived(service).length;
    const burst = Array.from({ length: 30 }, () => next());
    const burstOutcomes = Promise.all(burst.map((r) => deliver(service.url, r)));
    await eventually(() => arrived(service).length > arrivedBefore, 20_000, 'the burst to start arriving');

    process.kill(pid, 'SIGTERM');
    await waitForLog(service, 'shutting down');

    // A second signal, of either kind, is noted and does not cut the drain short.
    process.kill(pid, 'SIGINT');
    process.kill(pid, 'SIGTERM');
    await waitForLog(service, 'already shutting down', 2);
    expect(service.child.exitCode, 'still running after the repeated signals').toBeNull();

    // A delivery sent after the service said it is shutting down: refused or 503, not stored.
    const afterSignal = next();
    const afterOutcome = await deliver(service.url, afterSignal);
    expect(turnedAway(afterOutcome), `after the signal: ${JSON.stringify(afterOutcome)}`).toBe(true);

    // The connection that was open, its headers completed only now: 503, Retry-After, closed.
    partial.finish();
    const partialOutcome = await partial.outcome;
    expect(partialOutcome, 'headers completed after the signal').toMatchObject({ status: 503, retryAfter: '5', connection: 'close' });
    expect(JSON.parse((partialOutcome as { body: string }).body)).toHaveProperty('error');

    // One upload finishes: stored and answered, and its keep-alive connection is closed at
    // once, while the others still hold the shutdown open (were it left open, only the drain's
    // cut-off would close it, and that would cut off the others too).
    const [first, ...rest] = uploads;
    first!.finish();
    expect(await first!.outcome, 'an upload under way at the signal').toMatchObject({ status: 200 });
    await first!.connectionClosed;
    expect(service.child.exitCode, 'still draining').toBeNull();

    for (const upload of rest) upload.finish();
    for (const upload of uploads) {
      const outcome = await upload.outcome;
      expect(outcome, 'an upload under way at the signal').toMatchObject({ status: 200 });
      expect(JSON.parse((outcome as { body: string }).body)).toMatchObject({ status: 'applied' });
      acked.push(upload.request);
    }

    const burstResults = await burstOutcomes;
    for (const [i, outcome] of burstResults.entries()) {
      expect(acknowledged(outcome) || turnedAway(outcome), `burst delivery: ${JSON.stringify(outcome)}`).toBe(true);
      if (acknowledged(outcome)) acked.push(burst[i]!);
    }

    expect(await waitForExit(running), service.output()).toBe(0);
    const shutdown = logLines(service).filter((l) => l.msg === 'shutting down: finishing in-flight deliveries' || l.msg === 'shut down');
    expect(shutdown.map((l) => [l.msg, l.signal])).toEqual([
      ['shutting down: finishing in-flight deliveries', 'SIGTERM'],
      ['shut down', 'SIGTERM'],
    ]);
    expect(logged(service, 'cut off'), 'nothing was cut off').toEqual([]);

    for (const subscriber of subscribers) expect((await subscriber.closed).code).toBe(1001);

    const keys = await storedKeys(running);
    const missing = acked.filter((r) => !keys.has(keyOf(r)));
    expect(missing, 'acknowledged but not stored').toEqual([]);
    const turnedAwayRequests = [afterSignal, lateHeaders, ...burst.filter((_, i) => !acknowledged(burstResults[i]!))];
    expect(turnedAwayRequests.filter((r) => keys.has(keyOf(r))), 'turned away but stored').toEqual([]);
  });

  it('cuts off a sender that never finishes its body 10 s into the drain, stores nothing of it, and still exits 0', async () => {
    const running = await start();
    const { service, stytchSecret, pid } = running;
    const tag = randomBytes(4).toString('hex');
    const stored = memberDelivery(stytchSecret, tag, 0);
    expect(await deliver(service.url, stored)).toMatchObject({ status: 200 });

    const stuck = startUpload(service.url, memberDelivery(stytchSecret, tag, 1));
    const port = await stuck.port;
    await eventually(() => arrivedPorts(service).has(port), 20_000, 'the upload\'s headers to arrive');

    process.kill(pid, 'SIGTERM');
    // Never finished: Apollo's drain closes every connection still open after 10 s. No 408
    // either: Node's requestTimeout (30 s) has not come.
    expect(await stuck.outcome).toEqual({ error: expect.any(String) });
    expect(await waitForExit(running), service.output()).toBe(0);
    expect(logged(service, 'cut off').map((l) => l.requests), service.output()).toEqual([1]);
    expect(logged(service, 'shut down')).toHaveLength(1);

    const keys = await storedKeys(running);
    expect(keys.has(keyOf(stored)), 'the acknowledged delivery is stored').toBe(true);
    expect(keys.has(keyOf(stuck.request)), 'the unfinished delivery is not').toBe(false);
  }, budget(120_000));

  it('drops a WebSocket client that never answers the close after 5 s and exits 0, with what it acknowledged stored', async () => {
    const running = await start();
    const { service, stytchSecret, pid } = running;
    const tag = randomBytes(4).toString('hex');
    const requests = Array.from({ length: 5 }, (_, i) => memberDelivery(stytchSecret, tag, i));
    for (const r of requests) expect(await deliver(service.url, r)).toMatchObject({ status: 200 });

    // A graphql-ws client that is connected, then stops reading its socket altogether: it never
    // sees the 1001 close frame, so never answers it; ws alone would wait 30 s (its own close
    // timeout) for the answer, past the shutdown's 25 s deadline.
    const silent = new WebSocket(wsUrl(service.url), 'graphql-transport-ws');
    silent.on('error', () => {});
    cleanups.push(async () => silent.terminate());
    const acked = new Promise<void>((resolve) =>
      silent.on('message', (data) => {
        if ((JSON.parse(String(data)) as { type: string }).type === 'connection_ack') resolve();
      }),
    );
    await once(silent, 'open');
    silent.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${running.adminKey}` } }));
    await acked;
    const tcp = (silent as unknown as { _socket: { pause(): void } })._socket;
    tcp.pause();

    process.kill(pid, 'SIGTERM');
    expect(await waitForExit(running), service.output()).toBe(0);
    expect(logged(service, 'shutdown did not finish in time')).toEqual([]);
    expect(logged(service, 'shut down')).toMatchObject([{ signal: 'SIGTERM' }]);

    const keys = await storedKeys(running);
    expect(requests.filter((r) => !keys.has(keyOf(r))), 'acknowledged but not stored').toEqual([]);
  }, budget(120_000));
});
