// Postgres itself stopped under load and started again, under real service processes on a
// cluster of the test's own. While it is down no webhook is acknowledged (503 with Retry-After,
// so the sender retries), readiness fails while liveness holds, GraphQL answers a plain
// SERVICE_UNAVAILABLE that tells nothing of the database, and a WebSocket whose key needs the
// database to be checked is closed with 1013. Once it is back the same processes recover on
// their own: every acknowledged delivery is stored exactly once, and every subscriber hears
// every change exactly once in feed order, whether its socket stayed open through the outage,
// was opened during it, or was lost and resumed from its last cursor.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, generateApiKey } from '../../src/auth/api-keys.js';
import { openDatabase, type DatabaseHandle } from '../../src/db/open.js';
import { backend, onPostgres } from '../support/backend.js';
import { query } from '../support/db.js';
import { findViolations } from '../support/invariants.js';
import { stytchEvent } from '../support/directory.js';
import { connect, cursorSeq, eventually, subscribe, warmUp, type Closed, type LiveSubscription } from '../support/live.js';
import { pgCtl, startOwnPostgres, type OwnPostgres } from '../support/own-postgres.js';
import { spawnService, type ServiceProcess } from '../support/process.js';
import { gqlData, stytchRequest } from '../support/server.js';
import { newStytchSecret, newSvixId } from '../support/sign.js';
import { budget } from '../support/time.js';

interface Target {
  name: string;
  url: string;
  adminKey: string;
}

interface MemberChanged {
  memberChanged: { cursor: string; action: string; member: { externalId: string } };
}
type Live = LiveSubscription<MemberChanged>;

// No tenantId: an admin hears every tenant's member changes, so nothing can be filtered away.
const MEMBER_CHANGED = `subscription ($after: String) {
  memberChanged(after: $after) { cursor action member { externalId } }
}`;

const FEED = `query ($after: String) {
  changes(first: 100, after: $after) {
    edges { cursor node { entity node { ... on Member { externalId } } } }
    pageInfo { hasNextPage }
  }
}`;

// What a client's screen would ask for: resolvers, loaders and a nested list all reach the
// database, and none of it may leak when the database is gone.
const DIRECTORY = `query Directory {
  members(first: 5) { totalCount edges { node { externalId email tenant { name } } } }
  changes(first: 1) { edges { cursor } }
}`;

const UNAVAILABLE_MESSAGE = 'the database is unavailable; retry shortly';

/** Where the test stands; each request records it when sent and when answered. */
type Phase = 'up' | 'stopping' | 'down' | 'starting' | 'recovering' | 'ready';

interface WebhookAttempt {
  target: string;
  sent: Phase;
  answered: Phase;
  status: number;
  retryAfter: string | null;
  text: string;
}

interface GraphQLAnswer {
  target: string;
  key: 'env' | 'stored';
  sent: Phase;
  answered: Phase;
  status: number;
  contentType: string | null;
  text: string;
}

const tag = () => randomBytes(4).toString('hex');

const memberEvent = (org: string, id: string) =>
  stytchEvent('member', 'CREATE', id, {
    member_id: id,
    organization_id: org,
    email_address: `${id}@outage.example`,
    status: 'active',
    name: `Name ${randomBytes(3).toString('hex')}`,
  });

/** What must never reach a client: the driver's and the server's words, SQL, where the database is. */
function leaks(text: string, pgPort: string): string[] {
  const patterns = [
    /\bselect\b|\binsert\b|\bfrom "|Failed query/i,
    /postgres(ql)?:\/\//i,
    /E(CONN\w+|PIPE|TIMEDOUT)|CONNECT(ION)?_\w+/,
    /terminating connection|shutting down|starting up|administrator command|Connection terminated/i,
    /127\.0\.0\.1|localhost/,
    /\bat \S+ \(|\.ts:\d+|node_modules/,
    new RegExp(`\\b${pgPort}\\b`),
  ];
  return patterns.filter((p) => p.test(text)).map((p) => `leaks ${p}: ${text.slice(0, 300)}`);
}

interface DirectoryBody {
  data?: { members?: { totalCount?: unknown; edges?: { node: { tenant: unknown } }[] } } | null;
  errors?: unknown;
}

/**
 * What is wrong with a GraphQL answer. `data`: the directory, no error. `unavailable`: HTTP 503,
 * no data, and only plain SERVICE_UNAVAILABLE errors. `either`: one of those, or (the database
 * going or coming back mid-request) partial data, 200, whose errors are all plain
 * SERVICE_UNAVAILABLE. Never anything that tells of the database's insides.
 */
function answerProblems(a: GraphQLAnswer, pgPort: string, want: 'data' | 'unavailable' | 'either'): string[] {
  const where = `${a.target}/${a.key} sent ${a.sent}, HTTP ${a.status}`;
  const problems = leaks(a.text, pgPort).map((l) => `${where}: ${l}`);
  if (!/^application\/(graphql-response\+)?json/.test(a.contentType ?? '')) problems.push(`${where}: content type ${a.contentType}`);
  let body: DirectoryBody;
  try {
    body = JSON.parse(a.text) as DirectoryBody;
  } catch {
    return [...problems, `${where}: not JSON: ${a.text.slice(0, 200)}`];
  }
  const complete =
    body.errors === undefined &&
    typeof body.data?.members?.totalCount === 'number' &&
    (body.data.members.edges ?? []).every((e) => e.node.tenant !== null);
  const unavailable = a.status === 503 && (body.data ?? null) === null && errorsProblems(where, body.errors).length === 0;
  const partial = a.status === 200 && (body.data ?? null) !== null && errorsProblems(where, body.errors).length === 0;
  const ok = a.status === 200 && complete;
  const fine = want === 'data' ? ok : want === 'unavailable' ? unavailable : ok || unavailable || partial;
  if (!fine) problems.push(`${where}, wanted ${want}: ${a.text.slice(0, 600)}`);
  return problems;
}

/** GraphQL errors that should each be a plain SERVICE_UNAVAILABLE and nothing more. */
function errorsProblems(where: string, errors: unknown): string[] {
  if (!Array.isArray(errors) || errors.length === 0) return [`${where}: no errors`];
  return (errors as { message?: unknown; extensions?: unknown }[]).flatMap((e) => [
    // Only the code: no stack trace, no `detail`, no `exception`.
    ...(JSON.stringify(e.extensions) === JSON.stringify({ code: 'SERVICE_UNAVAILABLE' })
      ? []
      : [`${where}: extensions ${JSON.stringify(e.extensions)}`]),
    ...(e.message === UNAVAILABLE_MESSAGE ? [] : [`${where}: message ${JSON.stringify(e.message)}`]),
  ]);
}

/** What is wrong with a webhook refusal: it must be a 503 that tells the sender to come back. */
function refusalProblems(a: WebhookAttempt, pgPort: string): string[] {
  const where = `${a.target} sent ${a.sent}`;
  const problems: string[] = [];
  if (a.status !== 503) problems.push(`${where}: HTTP ${a.status}: ${a.text.slice(0, 300)}`);
  if (a.retryAfter !== '5') problems.push(`${where}: Retry-After ${a.retryAfter}`);
  let body: unknown;
  try {
    body = JSON.parse(a.text);
  } catch {
    body = undefined;
  }
  const error = (body as { error?: unknown } | undefined)?.error;
  if (typeof error !== 'string' || !/database unavailable/.test(error)) {
    problems.push(`${where}: not the JSON error expected: ${a.text.slice(0, 200)}`);
  }
  return [...problems, ...leaks(a.text, pgPort).map((l) => `${where}: ${l}`)];
}

/** Resolves with the close, or fails if the server left the socket hanging. */
async function closedWithin(closed: Promise<Closed>, ms: number): Promise<Closed> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the socket was neither accepted nor closed within ${budget(ms)} ms`)), budget(ms));
  });
  try {
    return await Promise.race([closed, hung]);
  } finally {
    clearTimeout(timer);
  }
}

/** The member-feed entries after a cursor, read through `changes` a page of 100 at a time. */
async function memberFeedAfter(target: Target, after: string): Promise<{ cursor: string; externalId: string | undefined }[]> {
  const out: { cursor: string; externalId: string | undefined }[] = [];
  let cursor = after;
  for (;;) {
    const page = await gqlData<{
      changes: {
        edges: { cursor: string; node: { entity: string; node: { externalId?: string } | null } }[];
        pageInfo: { hasNextPage: boolean };
      };
    }>(target, FEED, { after: cursor });
    for (const edge of page.changes.edges) {
      // What memberChanged carries: members, and memberships (none are made here).
      if (edge.node.entity === 'MEMBER' || edge.node.entity === 'MEMBERSHIP') {
        out.push({ cursor: edge.cursor, externalId: edge.node.node?.externalId });
      }
    }
    if (!page.changes.pageInfo.hasNextPage || page.changes.edges.length === 0) return out;
    cursor = page.changes.edges[page.changes.edges.length - 1]!.cursor;
  }
}

const heard = (s: Live) => s.events.map((e) => e.memberChanged);

/** What a subscriber heard after the fence (all of it for one that started from the fence). */
function afterFence(s: Live, fence: string): MemberChanged['memberChanged'][] {
  const events = heard(s);
  const i = events.findIndex((e) => e.cursor === fence);
  return i < 0 ? events : events.slice(i + 1);
}

if (onPostgres && !pgCtl) {
  console.log('Postgres outage test skipped: TEST_PG_CTL is unset (the path of pg_ctl, to run a throwaway cluster)');
}

describe.runIf(onPostgres && pgCtl !== undefined)(`Postgres stopped and started under load (${backend})`, () => {
  const stytchSecret = newStytchSecret();
  const adminKey = generateApiKey();
  const org = `organization-outage-${tag()}`;
  let pg: OwnPostgres;
  let pgPort: string;
  let direct: DatabaseHandle;
  /** An admin key stored in the database, so checking it needs the database. */
  let storedKey: string;
  let a: ServiceProcess;
  let b: ServiceProcess;
  let A: Target;
  let B: Target;

  beforeAll(async () => {
    // A cluster of its own: stopping the shared one would break every other test file.
    pg = await startOwnPostgres();
    pgPort = new URL(pg.url).port;
    direct = await openDatabase({ databaseUrl: pg.url, poolSize: 2 });
    storedKey = (await createApiKey(direct.db, { name: 'outage test' })).key;
    const env = {
      DATABASE_URL: pg.url,
      STYTCH_WEBHOOK_SECRET: stytchSecret,
      POLIS_WEBHOOK_SECRET: 'p'.repeat(32),
      ADMIN_API_KEY: adminKey,
      LOG_LEVEL: 'warn',
    };
    // Two instances behind one database, as in production: each must recover on its own.
    [a, b] = await Promise.all([spawnService(env), spawnService(env)]);
    A = { name: 'A', url: a.url, adminKey };
    B = { name: 'B', url: b.url, adminKey };
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await direct?.close();
    await pg?.dispose();
  });

  it('refuses cleanly while Postgres is down and recovers every delivery and change once it is back', async () => {
    let phase: Phase = 'up';
    const attempts: WebhookAttempt[] = [];
    const answers: GraphQLAnswer[] = [];
    const acked: { member: string; svixId: string; status: unknown }[] = [];
    let stopLoad = false;
    // A failed test must not leave senders retrying against services that are being stopped.
    let aborted = false;

    const s1 = subscribe<MemberChanged>(A.url, adminKey, MEMBER_CHANGED);
    const s2 = subscribe<MemberChanged>(B.url, storedKey, MEMBER_CHANGED);
    const lost = subscribe<MemberChanged>(B.url, storedKey, MEMBER_CHANGED);
    const opened: Live[] = [];
    const refusedAgain: Live[] = [];
    const closedEarly = new Set<string>();
    void s1.closed.then(() => closedEarly.add('s1'));
    void s2.closed.then(() => closedEarly.add('s2'));

    try {
      // Live first, then a fence every subscriber has heard: after it, each must hear everything.
      const fence = await warmUp([s1, s2, lost], (id) => sendOnce(A, memberEvent(org, id)));

      // Senders that behave like Svix: the same message (svix-id and body), signed afresh, again
      // until it is acknowledged. Each retry goes to the other instance, as behind a load
      // balancer: were every sender stuck on one instance when the database went, the other
      // would see no delivery during the outage (with four senders, one run in eight).
      const t = tag();
      let next = 0;
      const deliver = async (first: number, member: string): Promise<void> => {
        const event = memberEvent(org, member);
        const svixId = newSvixId();
        for (let attempt = 0; !aborted; attempt++) {
          const target = [A, B][(first + attempt) % 2]!;
          const r = stytchRequest(stytchSecret, event, { id: svixId });
          const sent = phase;
          const response = await fetch(`${target.url}/webhooks/stytch`, { method: 'POST', headers: r.headers, body: r.body }).catch(
            () => undefined,
          );
          const text = response ? await response.text() : '';
          const status = response?.status ?? 0;
          const retryAfter = response?.headers.get('retry-after') ?? null;
          attempts.push({ target: target.name, sent, answered: phase, status, retryAfter, text });
          if (status >= 200 && status < 300) {
            acked.push({ member, svixId, status: (JSON.parse(text) as { status?: unknown }).status });
            return;
          }
          await sleep(100);
        }
      };
      const senders = 4;
      const sending = Promise.all(
        Array.from({ length: senders }, async () => {
          while (!stopLoad && !aborted) {
            const n = next++;
            await deliver(n, `member-outage-${t}-${n}`);
            await sleep(20);
          }
        }),
      );
      // And readers: one query loop per instance, alternating a key checked without the
      // database (ADMIN_API_KEY) and one stored in it.
      const ask = async (target: Target) => {
        for (let i = 0; !stopLoad && !aborted; i++) {
          const key = i % 2 === 0 ? 'env' : 'stored';
          const sent = phase;
          const response = await fetch(`${target.url}/graphql`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${key === 'env' ? adminKey : storedKey}` },
            body: JSON.stringify({ query: DIRECTORY }),
          });
          const text = await response.text();
          answers.push({
            target: target.name,
            key,
            sent,
            answered: phase,
            status: response.status,
            contentType: response.headers.get('content-type'),
            text,
          });
          await sleep(50);
        }
      };
      const asking = Promise.all([ask(A), ask(B)]);
      // Answers of each instance and key sent and answered in this phase (with data, if asked).
      const answered = (target: string, key: 'env' | 'stored', p: Phase, withData: boolean) =>
        answers.filter(
          (x) =>
            x.target === target &&
            x.key === key &&
            x.sent === p &&
            x.answered === p &&
            (!withData || answerProblems(x, pgPort, 'data').length === 0),
        ).length;
      const whileDown = <T extends { sent: Phase; answered: Phase }>(xs: T[]) =>
        xs.filter((x) => x.sent === 'down' && x.answered === 'down');
      const everyReader = (p: Phase, n: number, withData = false) =>
        ['A', 'B'].every((target) => answered(target, 'env', p, withData) >= n && answered(target, 'stored', p, withData) >= n);

      await eventually(() => acked.length >= 20 && everyReader('up', 2), 60_000, 'load before the outage');

      phase = 'stopping';
      await pg.stop();
      phase = 'down';

      // Health while down: the processes answer, and say they are not ready.
      for (const target of [A, B]) {
        const ready = await fetch(`${target.url}/readyz`);
        const readyText = await ready.text();
        expect(ready.status, `${target.name} /readyz`).toBe(503);
        expect((JSON.parse(readyText) as { error?: unknown }).error).toEqual(expect.any(String));
        expect(leaks(readyText, pgPort)).toEqual([]);
        const live = await fetch(`${target.url}/healthz`);
        expect(live.status, `${target.name} /healthz`).toBe(200);
        await live.text();
      }

      // A client that loses its socket now comes back at once, with a key only the database
      // can check: told 1013 (try again later), not left hanging and not 4403 (its key is fine).
      await lost.close();
      const lastCursor = heard(lost).at(-1)!.cursor;
      const retry = connect(B.url, storedKey);
      try {
        const refused = await closedWithin(retry.closed, 30_000);
        expect(refused.code).toBe(1013);
        expect(refused.reason).toMatch(/database unavailable/);
        expect(leaks(refused.reason, pgPort)).toEqual([]);
      } finally {
        // Not awaited: graphql-ws's dispose waits for an acknowledgement a hung socket never gets.
        void Promise.resolve(retry.client.dispose()).catch(() => {});
      }
      // A query over a WebSocket (ADMIN_API_KEY needs no database to be checked) is answered
      // the same way as over HTTP.
      const overSocket = subscribe(A.url, adminKey, DIRECTORY);
      try {
        await overSocket.done;
        expect(overSocket.events).toEqual([]);
        expect(errorsProblems('query over WebSocket', overSocket.errors)).toEqual([]);
        expect(leaks(JSON.stringify(overSocket.errors), pgPort)).toEqual([]);
      } finally {
        await overSocket.close();
      }
      // ADMIN_API_KEY needs no database: that socket is accepted, and its replay from the fence
      // waits for the database instead of failing.
      const during = subscribe<MemberChanged>(A.url, adminKey, MEMBER_CHANGED, { after: fence });
      opened.push(during);
      void during.closed.then(() => closedEarly.add('opened during the outage'));
      // One that leaves while its replay is still waiting: the wait then ends in an error for
      // nobody, which must still be recognised as the outage (checked in the logs below).
      const quitter = subscribe<MemberChanged>(A.url, adminKey, MEMBER_CHANGED, { after: fence });
      await sleep(300);
      await quitter.close();

      // Down for a few seconds, long enough for every sender to be refused and retry, every
      // reader to be answered with each key, and the LISTEN connections to fail to come back.
      await sleep(3000);
      await eventually(
        () => new Set(whileDown(attempts).map((x) => x.target)).size === 2 && everyReader('down', 3),
        60_000,
        'refusals while Postgres is down',
      );
      const ackedWhileDown = acked.length;

      phase = 'starting';
      await pg.start();
      phase = 'recovering';
      for (const target of [A, B]) {
        await eventually(
          async () => {
            const r = await fetch(`${target.url}/readyz`);
            await r.text();
            return r.status === 200;
          },
          60_000,
          `${target.name} to be ready again`,
        );
      }
      phase = 'ready';

      // The lost client resumes from its last cursor, with the key that was refused a moment
      // ago, as docs/graphql.md tells clients to: on 1013, again after a pause.
      let resumed: Live | undefined;
      for (let attempt = 1; !resumed; attempt++) {
        const s = subscribe<MemberChanged>(B.url, storedKey, MEMBER_CHANGED, { after: lastCursor });
        const first = s.waitFor(1, 60_000);
        first.catch(() => {}); // moot once the socket is closed
        const outcome = await Promise.race([s.closed, first]);
        if (Array.isArray(outcome)) {
          resumed = s;
          opened.push(s);
        } else {
          refusedAgain.push(s);
          expect(outcome.code, 'only "try again later" is retried').toBe(1013);
          expect(attempt, 'attempts to resume').toBeLessThan(10);
          await sleep(200);
        }
      }

      // Recovered: deliveries acknowledged again, and every reader given data again.
      await eventually(() => acked.length >= ackedWhileDown + 20 && everyReader('ready', 2, true), 60_000, 'load after the outage');
      stopLoad = true;
      await Promise.all([sending, asking]);

      // Every problem at once, by kind, so a failure says all that went wrong.
      expect({
        // Webhooks: acknowledged only when stored, else a 503 that sends the sender back later;
        // nothing but 503s while the database was down, nothing but 2xx before.
        refusals: attempts.filter((x) => x.status < 200 || x.status >= 300).flatMap((x) => refusalProblems(x, pgPort)),
        acknowledgedWhileDown: whileDown(attempts).filter((x) => x.status !== 503),
        refusedBefore: attempts.filter((x) => x.answered === 'up' && x.status !== 200),
        // Once /readyz says so, it is true of every connection: none fails with an error the
        // old server left behind (postgres.js kept one; patched).
        refusedAfterReady: attempts.filter((x) => x.sent === 'ready' && x.status !== 200),
        acknowledgedAs: acked.filter((x) => x.status !== 'applied' && x.status !== 'duplicate'),
        // GraphQL: the directory, or a plain SERVICE_UNAVAILABLE (HTTP 503 when there is no
        // data at all); only the latter while down, only the former before.
        graphql: answers.flatMap((x) => answerProblems(x, pgPort, 'either')),
        graphqlWhileDown: whileDown(answers).flatMap((x) => answerProblems(x, pgPort, 'unavailable')),
        graphqlBefore: answers.filter((x) => x.answered === 'up').flatMap((x) => answerProblems(x, pgPort, 'data')),
        graphqlAfterReady: answers.filter((x) => x.sent === 'ready').flatMap((x) => answerProblems(x, pgPort, 'data')),
      }).toEqual({
        refusals: [],
        acknowledgedWhileDown: [],
        refusedBefore: [],
        refusedAfterReady: [],
        acknowledgedAs: [],
        graphql: [],
        graphqlWhileDown: [],
        graphqlBefore: [],
        graphqlAfterReady: [],
      });
      expect(whileDown(attempts).length, 'webhooks refused while down').toBeGreaterThan(0);

      // Nothing half-applied by a transaction the outage cut (see test/support/invariants.ts).
      expect(await findViolations(direct)).toEqual([]);
      // Stored exactly once: one delivery per acknowledged message, one change per member.
      const ids = acked.map((x) => x.member).sort();
      expect(new Set(ids).size).toBe(ids.length);
      const stored = await query(
        direct,
        sql`select d.body->>'id' as member, count(*)::int as n, min(k.key) as key
            from deliveries d join delivery_keys k on k.delivery_id = d.id
            where d.body->>'id' like ${`member-outage-${t}-%`} group by 1 order by 1`,
      );
      // Each under its own message's svix-id, in one row.
      expect(stored.map((r) => ({ member: r.member, n: r.n, key: r.key }))).toEqual(
        [...acked].sort((x, y) => (x.member < y.member ? -1 : 1)).map((x) => ({ member: x.member, n: 1, key: `svix:${x.svixId}` })),
      );

      const feed = await memberFeedAfter(A, fence);
      expect(feed.map((e) => e.externalId).sort()).toEqual(ids);
      const want = feed.map((e) => e.cursor);
      const heardAll = (label: string, got: () => MemberChanged['memberChanged'][]) =>
        eventually(() => got().length >= want.length, 60_000, `${label} to hear every acknowledged change`).catch((error: unknown) => {
          throw new Error(`${String(error)}: heard ${got().length} of ${want.length}`, { cause: error });
        });
      const streams: [string, () => MemberChanged['memberChanged'][]][] = [
        ['the subscriber on A (ADMIN_API_KEY)', () => afterFence(s1, fence)],
        ['the subscriber on B (stored key)', () => afterFence(s2, fence)],
        ['the subscriber opened during the outage', () => heard(during)],
        ['the subscriber that lost its socket, then resumed', () => [...afterFence(lost, fence), ...heard(resumed)]],
      ];
      for (const [label, got] of streams) {
        await heardAll(label, got);
        // Exactly the feed after the fence, in its order: nothing missed, nothing twice.
        const cursors = got().map((e) => e.cursor);
        expect(cursors, label).toEqual(want);
        const seqs = cursors.map(cursorSeq);
        expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      }
      for (const s of [s1, s2, lost, ...opened]) expect(s.errors).toEqual([]);
      // The open sockets rode the outage out: none was closed by the server.
      expect([...closedEarly]).toEqual([]);
      // And nothing the outage caused was taken for a bug: no failure was logged as internal.
      const internal = (service: ServiceProcess) =>
        service
          .output()
          .split('\n')
          .filter((line) => /"msg":"(GraphQL resolver failed|request failed)"/.test(line))
          .map((line) => line.slice(0, 600));
      expect([...internal(a), ...internal(b)]).toEqual([]);
    } catch (error) {
      aborted = true;
      const logs = [
        `service A:\n${a.output().slice(-6000)}`,
        `service B:\n${b.output().slice(-6000)}`,
        `postgres:\n${(await pg.log()).slice(-3000)}`,
      ].join('\n');
      throw new Error(`${error instanceof Error ? error.message : String(error)}\n${logs}`, { cause: error });
    } finally {
      stopLoad = true;
      // Bounded, as a hung socket's dispose never returns: a failure must be reported, not
      // turn into a timeout.
      await Promise.race([Promise.all([s1, s2, lost, ...opened, ...refusedAgain].map((s) => s.close())), sleep(5000)]);
    }

    async function sendOnce(target: Target, event: Record<string, unknown>): Promise<void> {
      const r = stytchRequest(stytchSecret, event);
      const response = await fetch(`${target.url}/webhooks/stytch`, { method: 'POST', headers: r.headers, body: r.body });
      const text = await response.text();
      if (response.status !== 200) throw new Error(`webhook answered ${response.status}: ${text}`);
    }
  }, budget(240_000));

  it('did it with the processes it started with, which then exit 0 on SIGTERM', async () => {
    for (const service of [a, b]) {
      expect(service.child.exitCode).toBeNull();
      expect(service.child.signalCode).toBeNull();
    }
    expect(await Promise.all([a.stop(), b.stop()])).toEqual([0, 0]);
  });
});
