// The real Polis in batch mode (DSYNC_WEBHOOK_BATCH_SIZE): user and group events queue in Polis
// and go out as JSON arrays when its batch processor runs. Only an exact 200 counts for Polis,
// and its send loop stops at the first refused batch; so every batch must be answered 200 and
// every item in it applied, and the directory must end equal to Polis's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backend } from '../support/backend.js';
import type { HttpRecorder } from '../support/http-recorder.js';
import { type TestServer } from '../support/server.js';
import { polisState, serviceState, type Scope } from './support/compare.js';
import { DIALECTS } from './support/dialects.js';
import { createDirectory, newWebhookSecret, startPolisRig, type Polis, type PolisRig, type ScimRequest } from './support/polis.js';

const BATCH = 10;
const globalSecret = newWebhookSecret();
const directorySecret = newWebhookSecret();
const entra = DIALECTS.find((d) => d.type === 'azure-scim-v2')!;
const scope: Scope = { tenant: 'initech', product: 'portal' };

let server: TestServer;
let recorder: HttpRecorder;
let polis: Polis;
let rig: PolisRig;

beforeAll(async () => {
  rig = await startPolisRig({ env: { POLIS_WEBHOOK_SECRET: `${globalSecret},${directorySecret}` }, webhookSecret: globalSecret, batchSize: BATCH });
  ({ server, recorder, polis } = rig);
});
afterAll(() => rig?.close());

/** How many events wait in Polis's queue (its processor's store; there is no public API for it). */
async function queued(): Promise<number> {
  const processor = polis.jackson.directorySyncController.events.batch as unknown as {
    eventStore: { getAll(offset: number, limit: number): Promise<{ data: unknown[] }> };
  };
  return (await processor.eventStore.getAll(0, 1000)).data.length;
}

/**
 * Runs Polis's batch processor once, as its cron would, waits until it has sent everything
 * queued, then compares. (The processor returns at once and sends in the background. Two runs
 * at once in one Polis resend the same events, because its lock is re-entrant within an
 * instance, so this never starts a second run while one is sending.)
 */
async function flushAndCompare(step: string) {
  expect(await queued()).toBeGreaterThan(0);
  await polis.jackson.directorySyncController.events.batch.process();
  await expect.poll(queued, { message: `Polis's queue drains (${step})` }).toBe(0);
  expect(await serviceState(server, [scope]), `after: ${step}`).toEqual(await polisState(polis, [scope]));
}

const batches = () => recorder.exchanges.filter((e) => e.body.startsWith('['));

describe(`the real Polis in batch mode (${backend})`, () => {
  it('a first sync of many users, groups and memberships arrives in batches and is all applied', async () => {
    const directory = await createDirectory(polis, {
      ...scope,
      name: 'Initech Entra ID',
      type: entra.type,
      webhookUrl: `${recorder.url}/webhooks/polis`,
      webhookSecret: directorySecret,
    });
    const scim = async (request: ScimRequest) => {
      const reply = await polis.scim(directory, request);
      expect(reply.status, JSON.stringify(reply.data)).toBeLessThan(300);
      return reply.data.id as string;
    };
    const users: string[] = [];
    for (let i = 0; i < 23; i++) {
      users.push(
        await scim(
          entra.createUser({
            key: `e${i}`,
            givenName: `Person${i}`,
            familyName: 'Initech',
            email: `person${i}@initech.example`,
            roles: i % 3 === 0 ? ['admin', 'viewer'] : ['viewer'],
          }),
        ),
      );
    }
    const groups = [await scim(entra.createGroup('Everyone')), await scim(entra.createGroup('Admins'))];
    await scim(entra.addMembers(groups[0]!, users));
    await scim(entra.addMembers(groups[1]!, users.filter((_, i) => i % 3 === 0)));
    // Nothing has gone out yet: the events wait in Polis's queue.
    expect(batches()).toEqual([]);
    await flushAndCompare('first sync');
    const first = batches();
    expect(first.length).toBeGreaterThanOrEqual(Math.ceil((23 + 2 + 23 + 8) / BATCH));
    expect(first.every((b) => (JSON.parse(b.body) as unknown[]).length <= BATCH)).toBe(true);

    // Changes after the first sync, batched again: a user's data and state, a group membership
    // removed, a user deleted (Polis keeps its memberships and sends nothing for them).
    await scim(entra.patchNameAndEmail(users[1]!, 'Peter', 'peter.gibbons@initech.example'));
    await scim(entra.setActive(users[2]!, false));
    await scim(entra.removeMember(groups[1]!, users[0]!));
    await scim(entra.deleteUser(users[3]!));
    await scim(entra.renameGroup(groups[1]!, 'Administrators'));
    await flushAndCompare('changes after the first sync');
  });

  it('answered every batch 200 and rejected nothing', () => {
    expect(recorder.exchanges.filter((e) => e.status !== 200)).toEqual([]);
    for (const batch of batches()) {
      const answer = JSON.parse(batch.answer) as { status?: string; rejected?: number };
      expect(answer, batch.answer).toMatchObject({ status: 'applied', rejected: 0 });
    }
    expect(polis.log.filter((line) => /returned status|error sending|marking the events as failed/i.test(line))).toEqual([]);
  });
});
