// Properties of quarantine and replay, over random Polis streams with batches:
// 1. A stream whose batches hold items the reader cannot read ends in the same directory as the
//    same stream without those items: a rejected item takes nothing else down with it.
// 2. Replaying the rejected deliveries once the reader is fixed ends in the same directory, to
//    the version, as reading them right the first time.
// "Cannot read" is a test seam: the real Polis adapter, with items that carry a marker taken as
// unreadable, stands for a reader with a bug. Three servers on three databases get the stream:
// `broken` (that reader), `without` (the correct reader, marked items left out) and `full` (the
// correct reader, everything). Then `broken`'s rejected deliveries are replayed by the correct
// reader.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDirectoryStore } from '../../src/directory/store.js';
import { replayDeliveries } from '../../src/replay.js';
import { createPolisSource } from '../../src/sources/polis/index.js';
import { backend } from '../support/backend.js';
import { brokenPolisReader, directoryState, isMarked, MARK } from '../support/rejected.js';
import { polisRequest, post, startTestServer, type TestServer } from '../support/server.js';
import { propertyRuns } from '../support/effort.js';

// TEST_EFFORT=10 for a longer search (support/effort.ts); PROPERTY_SEED=<seed> replays a reported failure.
const RUNS = propertyRuns(20);
const SEED = process.env.PROPERTY_SEED ? { seed: Number(process.env.PROPERTY_SEED) } : {};

let broken: TestServer;
let without: TestServer;
let full: TestServer;
beforeAll(async () => {
  [broken, without, full] = await Promise.all([
    startTestServer({ wrapSources: brokenPolisReader }),
    startTestServer(),
    startTestServer(),
  ]);
});
afterAll(async () => {
  await Promise.all([broken?.close(), without?.close(), full?.close()]);
});

const polisEvent = fc.record({
  kind: fc.constantFrom('dsync', 'user', 'user', 'group', 'membership', 'membership'),
  action: fc.integer({ min: 0, max: 3 }),
  user: fc.constantFrom(1, 2, 3),
  variant: fc.integer({ min: 0, max: 2 }),
  unreadable: fc.boolean(),
});
type Gen = { kind: string; action: number; user: number; variant: number; unreadable: boolean };

function polisItem(ns: string, e: Gen): Record<string, unknown> {
  const envelope = { tenant: `${ns}tenant`, product: 'portal', ...(e.unreadable ? { [MARK]: true } : {}) };
  const directory_id = `${ns}dir`;
  const user = {
    id: `${ns}user-${e.user}`,
    first_name: `First${e.variant}`,
    last_name: `Last${e.user}`,
    email: `user${e.user}.v${e.variant}@example.com`,
    active: e.variant !== 1,
    roles: [{ value: `r${e.variant}`, primary: true }],
    raw: { userName: `user${e.user}@example.com`, v: e.variant },
  };
  const group = { id: `${ns}group`, name: `group v${e.variant}`, raw: { displayName: `group v${e.variant}` } };
  const pick = <T,>(actions: T[]) => actions[e.action % actions.length]!;
  switch (e.kind) {
    case 'dsync':
      return {
        event: `dsync.${pick(['created', 'activated', 'deactivated', 'deleted'])}`,
        ...envelope,
        data: { id: directory_id, name: `Directory v${e.variant}`, type: 'azure-scim-v2' },
      };
    case 'user':
      return { event: `user.${pick(['created', 'updated', 'updated', 'deleted'])}`, ...envelope, directory_id, data: user };
    case 'group':
      return { event: `group.${pick(['created', 'updated', 'deleted'])}`, ...envelope, directory_id, data: group };
    default:
      return { event: `group.${pick(['user_added', 'user_added', 'user_removed'])}`, ...envelope, directory_id, data: { ...user, group } };
  }
}

async function send(server: TestServer, body: unknown, t: number) {
  const r = polisRequest(server.polisSecret, body, t);
  const reply = await post(`${server.url}/webhooks/polis`, r.body, r.headers);
  expect(reply.status, JSON.stringify(reply.body)).toBe(200);
}

let run = 0;

describe(`rejected items and replay (${backend})`, () => {
  it('rejected batch items change nothing else; replaying them with a fixed reader ends as reading them right at once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(polisEvent, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 10 }),
        async (deliveries) => {
          const ns = `rj${run++}-${Date.now().toString(36)}-`;
          const base = Date.now() - 100_000;
          // One signing time per delivery, in order: this property is about rejection, not
          // arrival order (ordering.property.test.ts covers that).
          for (const [d, events] of deliveries.entries()) {
            const t = base + d * 10;
            const items = events.map((e) => polisItem(ns, e));
            const body = items.length === 1 ? items[0] : items;
            await send(broken, body, t);
            await send(full, body, t);
            const readable = items.filter((item) => !isMarked(item));
            if (readable.length > 0) await send(without, Array.isArray(body) ? readable : readable[0], t);
          }
          // Leaving the rejected items out shifts the positions of the items after them in
          // their batch, and with them the versions stored; the state itself must not differ.
          expect(await directoryState(broken, ns, false)).toEqual(await directoryState(without, ns, false));

          const report = await replayDeliveries(
            broken.database.db,
            createDirectoryStore(broken.database.db),
            [createPolisSource({ secrets: [broken.polisSecret], toleranceSeconds: 300 })],
            { status: 'rejected', source: 'polis' },
          );
          expect(report.stillRejected).toBe(0);
          expect(await directoryState(broken, ns, true)).toEqual(await directoryState(full, ns, true));
        },
      ),
      { numRuns: RUNS, ...SEED },
    );
  });
});
