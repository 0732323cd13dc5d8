// Fan-out at saturation: subscribers that never read and subscribers that read slowly while
// webhooks keep coming as fast as the service takes them. The backlog is the subscribers',
// never the webhooks': every webhook is acknowledged (no 503 while the database is up) and
// stored, the slow subscribers are cut off with 4413, and each resumes from the last cursor
// it received with nothing missed or repeated; a subscriber that keeps up hears everything once.
// Nothing here is timed: the sending goes on until the server has cut every slow one off.
import { randomBytes } from 'node:crypto';
import { and, count, eq, like } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { members } from '../../src/db/schema.js';
import { backend } from '../support/backend.js';
import { seedStytchOrg, sendAll, stytchEvent, type SeededOrg } from '../support/directory.js';
import { cursorSeq, eventually, rawSubscriber, subscribe, type LiveSubscription } from '../support/live.js';
import { startTestServer, type TestServer } from '../support/server.js';

interface Received {
  cursor: string;
  externalId: string;
}

let server: TestServer;
let org: SeededOrg;
const logs: string[] = [];

beforeAll(async () => {
  server = await startTestServer({ env: { SUBSCRIPTION_BUFFER: '20', LOG_LEVEL: 'warn' }, logs });
  org = await seedStytchOrg(server, { members: 1, groups: 0 });
});
afterAll(async () => {
  await server?.close();
});

/** Big payloads (raw carries the padding), so a socket that is not read backs up soon. */
const BIG = `subscription { memberChanged { cursor member { externalId raw } } }`;
const SMALL = `subscription ($after: String) { memberChanged(after: $after) { cursor member { externalId } } }`;

/**
 * A subscriber that falls behind when told to: `never` stops reading; `slow`, after each
 * message, reads nothing more for 100 ms.
 */
async function subscriberFallingBehind(mode: 'never' | 'slow') {
  const state = { throttled: false, stopped: false };
  const raw = await rawSubscriber<{ memberChanged: { cursor: string; member: { externalId: string } } }>(server.url, server.adminKey, BIG, () => {
    if (mode !== 'slow' || !state.throttled || state.stopped) return;
    raw.tcp.pause();
    setTimeout(() => raw.tcp.resume(), 100);
  });
  return {
    mode,
    closed: raw.closed,
    get received(): Received[] {
      return raw.received.map((d) => ({ cursor: d.memberChanged.cursor, externalId: d.memberChanged.member.externalId }));
    },
    /** From now on, not read at all (never) or slowly (slow). */
    fallBehind: () => (mode === 'never' ? raw.tcp.pause() : (state.throttled = true)),
    /** Reads normally again, to see what was in flight and the close. */
    catchUp: () => {
      state.stopped = true;
      raw.tcp.resume();
    },
    terminate: () => raw.socket.terminate(),
  };
}

describe(`fan-out at saturation (${backend})`, () => {
  it('takes every webhook while subscribers that never read and that read slowly are cut off, and they resume with nothing missed', async () => {
    const tag = randomBytes(3).toString('hex');
    const padding = 'x'.repeat(60_000);
    const idOf = (i: number) => `member-sat-${tag}-${i}`;
    const event = (i: number) =>
      stytchEvent('member', 'CREATE', idOf(i), {
        member_id: idOf(i),
        organization_id: org.organizationId,
        email_address: `sat${i}.${tag}@example.test`,
        name: `Name ${i}`,
        status: 'active',
        trusted_metadata: { padding },
      });

    const keepingUp = Array.from({ length: 5 }, () => subscribe<{ memberChanged: Received & { member: Received } }>(server.url, server.adminKey, SMALL));
    const behind = [...(await Promise.all([0, 1, 2].map(() => subscriberFallingBehind('never')))), ...(await Promise.all([0, 1, 2].map(() => subscriberFallingBehind('slow'))))];

    // Everyone live: each has heard a warm-up change.
    let warm = 0;
    await eventually(async () => {
      if (keepingUp.every((s) => s.events.length > 0) && behind.every((s) => s.received.length > 0)) return true;
      await sendAll(server, [event(-1 - warm++)]);
      return false;
    }, 30_000, 'every subscriber to be live');
    for (const s of behind) s.fallBehind();

    // Webhooks in rounds until the server has cut all six off. sendAll fails on anything but
    // 200, so a 503 (or any refusal) fails the test here.
    const cutOffs = () => logs.filter((line) => line.includes('subscriber too slow')).length;
    const before = cutOffs();
    let n = 0;
    while (cutOffs() - before < behind.length && n < 5000) {
      await sendAll(server, Array.from({ length: 50 }, (_, i) => event(n + i)), 8);
      n += 50;
    }
    expect(cutOffs() - before, `cut off after ${n} changes`).toBe(behind.length);

    // Stored, every one.
    const [stored] = await server.database.db
      .select({ n: count() })
      .from(members)
      .where(and(like(members.externalId, `member-sat-${tag}-%`), eq(members.tenantId, org.tenantUuid)));
    expect(stored!.n).toBe(n + warm);

    // Reading again, each finds what was in flight, then the close: 4413.
    for (const s of behind) s.catchUp();
    expect(await Promise.all(behind.map((s) => s.closed))).toEqual(behind.map(() => 4413));

    const sent = new Set(Array.from({ length: n }, (_, i) => idOf(i)));
    /** The changes of this round among `events`: each once, in feed order. */
    const expectInOrderOnce = (events: { memberChanged: Received & { member: Received } }[], expected: Set<string>) => {
      const ours = events.filter((e) => sent.has(e.memberChanged.member.externalId));
      const seqs = ours.map((e) => cursorSeq(e.memberChanged.cursor));
      expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
      expect(ours.map((e) => e.memberChanged.member.externalId).sort()).toEqual([...expected].sort());
    };

    // Those that kept up heard every change once, in order.
    await eventually(() => keepingUp.every((s) => s.events.length >= warm + n), 60_000, 'the subscribers that keep up to hear every change');
    for (const s of keepingUp) {
      expectInOrderOnce(s.events, sent);
      await s.close();
    }

    // Each cut-off subscriber resumes from the last cursor it received and gets exactly what it
    // had not, in order: nothing missed at the cut, nothing repeated.
    for (const s of behind) {
      const last = s.received.at(-1)!;
      const had = new Set(s.received.map((r) => r.externalId));
      const missing = new Set([...sent].filter((id) => !had.has(id)));
      const resumed: LiveSubscription<{ memberChanged: Received & { member: Received } }> = subscribe(server.url, server.adminKey, SMALL, {
        after: last.cursor,
      });
      await eventually(() => resumed.events.length >= missing.size, 60_000, `a ${s.mode} subscriber's resume to catch up`);
      expect(resumed.events).toHaveLength(missing.size);
      expectInOrderOnce(resumed.events, missing);
      // A subscriber cut off right after its last change has nothing to catch up on.
      if (missing.size > 0) expect(cursorSeq(resumed.events[0]!.memberChanged.cursor)).toBeGreaterThan(cursorSeq(last.cursor));
      await resumed.close();
      s.terminate();
    }
  });
});
