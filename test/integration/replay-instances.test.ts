// Replay across instances: two service processes on one Postgres replay the same rejected
// deliveries at once (the admin mutation, each on its own instance) while live webhooks reach
// both. Every change is applied once: the directory ends as if everything had been read right
// on arrival (to the version), and the change feed holds exactly the rows a single replayer,
// alone and afterwards, would have written.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDirectoryStore } from '../../src/directory/store.js';
import { replayDeliveries } from '../../src/replay.js';
import { createPolisSource } from '../../src/sources/polis/index.js';
import { backend, onPostgres } from '../support/backend.js';
import { spawnService, type ServiceProcess } from '../support/process.js';
import { brokenPolisReader, directoryState, feedOf, MARK } from '../support/rejected.js';
import { gqlData, polisRequest, post, startTestServer, type TestServer } from '../support/server.js';

describe.runIf(onPostgres)(`replay on two instances beside live traffic (${backend})`, () => {
  const ns = `ri-${randomBytes(3).toString('hex')}-`;
  const envelope = { tenant: `${ns}tenant`, product: 'portal' };
  const directory_id = `${ns}dir`;
  // `concurrent` takes the stream with a broken reader, then is replayed by two processes;
  // `sequential` takes it the same way and is replayed by one replayer, before live traffic;
  // `right` reads everything right on arrival.
  let concurrent: TestServer;
  let sequential: TestServer;
  let right: TestServer;
  let instances: ServiceProcess[] = [];

  beforeAll(async () => {
    [concurrent, sequential, right] = await Promise.all([
      startTestServer({ wrapSources: brokenPolisReader }),
      startTestServer({ wrapSources: brokenPolisReader }),
      startTestServer(),
    ]);
  });
  afterAll(async () => {
    const codes = await Promise.all(instances.map((i) => i.stop()));
    expect(codes.every((c) => c === 0)).toBe(true);
    await Promise.all([concurrent?.close(), sequential?.close(), right?.close()]);
  });

  const user = (i: number, v: number) => ({
    id: `${ns}u${i}`,
    first_name: `U${i}`,
    last_name: `v${v}`,
    email: `u${i}.v${v}@ri.example`,
    active: true,
    roles: [{ value: i % 2 ? 'admin' : 'viewer', primary: true }],
    raw: { userName: `u${i}@ri.example`, v },
  });
  const group = (g: number) => ({ id: `${ns}g${g}`, name: `Group ${g}`, raw: { displayName: `Group ${g}` } });
  const item = (event: string, data: unknown, unreadable = false) => ({
    event,
    ...envelope,
    directory_id,
    data,
    ...(unreadable ? { [MARK]: true } : {}),
  });

  /** The stream as it arrived: batches of four, some items unreadable to the broken reader. */
  function stream(): unknown[][] {
    const items: unknown[] = [
      { event: 'dsync.created', ...envelope, data: { id: directory_id, name: 'RI directory', type: 'okta-scim-v2' } },
      ...[0, 1, 2].map((g) => item('group.created', group(g), g === 1)),
    ];
    for (let i = 0; i < 20; i++) {
      items.push(item('user.created', user(i, 0), i % 3 === 0));
      items.push(item('group.user_added', { ...user(i, 0), group: group(i % 3) }, i % 5 === 2));
      items.push(item('user.updated', user(i, 1), i % 4 === 1));
      if (i % 7 === 6) items.push(item('user.deleted', user(i, 1), i % 2 === 0));
    }
    const batches: unknown[][] = [];
    for (let k = 0; k < items.length; k += 4) batches.push(items.slice(k, k + 4));
    return batches;
  }

  const live = (i: number) => item('user.created', user(100 + i, 0));

  async function send(target: { url: string }, secret: string, body: unknown, t: number) {
    const r = polisRequest(secret, body, t);
    const reply = await post(`${target.url}/webhooks/polis`, r.body, r.headers);
    expect(reply.status, JSON.stringify(reply.body)).toBe(200);
    return reply.body;
  }

  it('each change is applied once, the directory ends as read right at once, the feed as one replayer leaves it', async () => {
    const base = Date.now() - 60_000;
    const batches = stream();
    let rejected = 0;
    for (const [k, batch] of batches.entries()) {
      const t = base + k * 10;
      rejected += Number((await send(concurrent, concurrent.polisSecret, batch, t)).rejected);
      await send(sequential, sequential.polisSecret, batch, t);
      await send(right, right.polisSecret, batch, t);
    }
    expect(rejected).toBeGreaterThan(10);

    // Sequential reference: one replayer, then the live traffic.
    await replayDeliveries(
      sequential.database.db,
      createDirectoryStore(sequential.database.db),
      [createPolisSource({ secrets: [sequential.polisSecret], toleranceSeconds: 300 })],
      { status: 'rejected', source: 'polis' },
    );
    const liveAt = (i: number) => base + 10_000 + i * 10;
    for (let i = 0; i < 30; i++) {
      await send(sequential, sequential.polisSecret, live(i), liveAt(i));
      await send(right, right.polisSecret, live(i), liveAt(i));
    }

    // Two real instances on `concurrent`'s database, with today's (correct) reader.
    const env = {
      DATABASE_URL: concurrent.databaseUrl!,
      POLIS_WEBHOOK_SECRET: concurrent.polisSecret,
      ADMIN_API_KEY: concurrent.adminKey,
      LOG_LEVEL: 'warn',
    };
    instances = await Promise.all([spawnService(env), spawnService(env)]);
    const targets = instances.map((i) => ({ url: i.url, adminKey: concurrent.adminKey }));
    const REPLAY = `mutation { replayDeliveries(filter: { status: "rejected", source: "polis" }) { matched replayed applied stillRejected } }`;
    type Report = { replayDeliveries: { matched: number; replayed: number; applied: number; stillRejected: number } };
    const [a, b] = await Promise.all([
      gqlData<Report>(targets[0]!, REPLAY),
      gqlData<Report>(targets[1]!, REPLAY),
      ...Array.from({ length: 30 }, (_, i) => send(targets[i % 2]!, concurrent.polisSecret, live(i), liveAt(i))),
    ]);
    const reports = [a as Report, b as Report].map((r) => r.replayDeliveries);
    expect(reports.every((r) => r.stillRejected === 0)).toBe(true);
    // Between them they replayed every rejected delivery (both may have read some).
    expect(Math.max(...reports.map((r) => r.matched))).toBeGreaterThan(0);

    expect(await directoryState(concurrent, ns, true)).toEqual(await directoryState(right, ns, true));
    expect(await directoryState(sequential, ns, true)).toEqual(await directoryState(right, ns, true));
    const feed = await feedOf(concurrent, ns);
    expect(feed.length).toBeGreaterThan(60);
    expect(feed).toEqual(await feedOf(sequential, ns));
  });
});
