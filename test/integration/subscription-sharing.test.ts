// Subscribers that run the same operation share each event's execution; what they share must
// depend only on what can change the result. Variables an operation does not declare change
// nothing, so they must not split the sharing (a key holder could otherwise make every
// subscription cost its own execution by adding `{n: <unique>}`). And one key's sockets and
// operations are capped per instance, with a clear refusal.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { liveExecutions } from '../../src/graphql/subscriptions/execute.js';
import { backend } from '../support/backend.js';
import { sendAll, stytchEvent } from '../support/directory.js';
import { connect, eventually, subscribe, warmUp, type LiveSubscription, type MemberChangedEvent } from '../support/live.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ env: { WS_MAX_SOCKETS_PER_KEY: '12', WS_MAX_SUBSCRIPTIONS_PER_KEY: '14' } });
});
afterAll(() => server?.close());

const org = `org-share-${randomBytes(3).toString('hex')}`;
const member = (id: string) =>
  stytchEvent('member', 'CREATE', id, { member_id: id, organization_id: org, email_address: `${id}@share.example`, status: 'active' });
const sendMember = (id: string) => sendAll(server, [member(id)]);

const MEMBER_CHANGED = `subscription ($first: Int) { memberChanged { cursor member { externalId groups(first: $first) { totalCount } } } }`;

describe(`shared subscription execution (${backend})`, () => {
  it('ten subscribers with the same declared variables and different undeclared ones cost one execution per change', async () => {
    const subs: LiveSubscription<MemberChangedEvent>[] = Array.from({ length: 10 }, (_, i) =>
      // The declared `first` the same for all; `n`, which the operation does not declare, unique to each.
      subscribe<MemberChangedEvent>(server.url, server.adminKey, MEMBER_CHANGED, { first: 5, n: `${i}-${randomBytes(4).toString('hex')}` }),
    );
    await warmUp(subs, sendMember);
    const before = liveExecutions.count;
    const id = `member-share-${randomBytes(3).toString('hex')}`;
    await sendMember(id);
    await eventually(() => subs.every((s) => s.events.some((e) => e.memberChanged.member.externalId === id)), 15_000, 'every subscriber to hear it');
    expect(liveExecutions.count - before).toBe(1);
    await Promise.all(subs.map((s) => s.close()));
  });

  it('subscribers resuming from different cursors share the live changes once they have their history', async () => {
    const RESUMING = `subscription ($after: String, $first: Int) { memberChanged(after: $after) { cursor member { externalId groups(first: $first) { totalCount } } } }`;
    // Three changes to resume from, their cursors read by a subscriber already there.
    const first = subscribe<MemberChangedEvent>(server.url, server.adminKey, MEMBER_CHANGED, { first: 5 });
    await warmUp([first], sendMember);
    const tag = randomBytes(3).toString('hex');
    const history = [0, 1, 2].map((i) => `member-resume-${tag}-${i}`);
    for (const id of history) await sendMember(id);
    await eventually(() => history.every((id) => first.events.some((e) => e.memberChanged.member.externalId === id)), 15_000, 'the history to exist');
    const cursors = history.map((id) => first.events.find((e) => e.memberChanged.member.externalId === id)!.memberChanged.cursor);
    await first.close();

    // Six subscribers, each from one of the cursors: different `after`, the same declared `first`.
    const subs = Array.from({ length: 6 }, (_, i) =>
      subscribe<MemberChangedEvent>(server.url, server.adminKey, RESUMING, { after: cursors[i % 3], first: 5 }),
    );
    // Each has its history: the changes after its cursor.
    await eventually(() => subs.every((s, i) => s.events.length === 2 - (i % 3)), 15_000, 'every subscriber to replay its history');
    // Live, where history and live meet: its history never ends with the last one, so some may
    // still be joining; a live change every one hears marks them all live.
    await warmUp(subs, sendMember);

    const before = liveExecutions.count;
    const id = `member-resume-${tag}-live`;
    await sendMember(id);
    await eventually(() => subs.every((s) => s.events.some((e) => e.memberChanged.member.externalId === id)), 15_000, 'every subscriber to hear it');
    expect(liveExecutions.count - before).toBe(1);
    await Promise.all(subs.map((s) => s.close()));
  });

  it("caps one key's sockets and operations on an instance, and says which limit", async () => {
    /** One subscription on a socket: settles with 'running' on its first event, or its error. */
    const start = (client: ReturnType<typeof connect>['client']) =>
      new Promise<unknown>((resolve) => {
        client.subscribe(
          { query: 'subscription { memberChanged { cursor } }' },
          { next: () => resolve('running'), error: (e) => resolve(e), complete: () => resolve('complete') },
        );
      });
    let n = 0;
    /** Sends members until every one of `subs` has settled. */
    const settle = async (subs: Promise<unknown>[]) => {
      const settled = subs.map(() => false);
      subs.forEach((p, i) => void p.then(() => (settled[i] = true)));
      await eventually(async () => {
        if (settled.every(Boolean)) return true;
        await sendMember(`member-cap-${n++}`);
        return false;
      }, 15_000, 'the subscriptions to start or be refused');
      return Promise.all(subs);
    };

    const sockets = Array.from({ length: 12 }, () => connect(server.url, server.adminKey));
    expect(await settle(sockets.map(({ client }) => start(client)))).toEqual(Array(12).fill('running'));
    const thirteenth = connect(server.url, server.adminKey);
    expect(await thirteenth.closed).toMatchObject({ code: 4429, reason: expect.stringMatching(/WS_MAX_SOCKETS_PER_KEY/) });

    // 12 operations run; two more fit under 14, the third is refused.
    const outcomes = await settle([0, 1, 2].map(() => start(sockets[0]!.client)));
    expect(outcomes.slice(0, 2)).toEqual(['running', 'running']);
    expect(JSON.stringify(outcomes[2])).toContain('TOO_MANY_SUBSCRIPTIONS');
    expect(JSON.stringify(outcomes[2])).toContain('WS_MAX_SUBSCRIPTIONS_PER_KEY');

    // A socket closed makes room for another.
    await sockets[11]!.client.dispose();
    await eventually(async () => {
      const again = connect(server.url, server.adminKey);
      const [outcome] = await Promise.race([settle([start(again.client)]), again.closed.then((c) => [c])]);
      await again.client.dispose();
      return outcome === 'running';
    }, 15_000, 'a new socket to be accepted');
    await Promise.all(sockets.map(({ client }) => client.dispose()));
  });
});
