// Polis signs each directory's user and group events with that directory's own webhook secret,
// and its sso.* and dsync.* events with the global one. The service takes any secret it was
// given; a Polis (or one directory of it) signing with a secret the service does not know gets
// 401 on every try, and nothing of what it sent is stored or applied.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backend } from '../support/backend.js';
import type { HttpRecorder } from '../support/http-recorder.js';
import { gqlData, type TestServer } from '../support/server.js';
import { polisState, serviceState, type Scope } from './support/compare.js';
import { DIALECTS } from './support/dialects.js';
import { createDirectory, newWebhookSecret, startPolisRig, type Polis, type PolisRig } from './support/polis.js';

const globalSecret = newWebhookSecret();
const knownSecret = newWebhookSecret();
const unknownSecret = newWebhookSecret();
const generic = DIALECTS.find((d) => d.type === 'generic-scim-v2')!;
const known: Scope = { tenant: 'umbrella', product: 'portal' };
const unknown: Scope = { tenant: 'hooli', product: 'portal' };

let server: TestServer;
let recorder: HttpRecorder;
let polis: Polis;
let rig: PolisRig;

beforeAll(async () => {
  rig = await startPolisRig({ env: { POLIS_WEBHOOK_SECRET: `${globalSecret},${knownSecret}` }, webhookSecret: globalSecret });
  ({ server, recorder, polis } = rig);
});
afterAll(() => rig?.close());

const deliveryCount = async () =>
  (await gqlData<{ deliveries: { totalCount: number } }>(server, `{ deliveries(first: 1) { totalCount } }`)).deliveries.totalCount;

describe(`the real Polis with per-directory webhook secrets (${backend})`, () => {
  it("a directory's own secret is accepted; one the service does not know gets 401 every time and nothing is stored", async () => {
    const directory = (scope: Scope, secret: string) =>
      createDirectory(polis, {
        ...scope,
        name: `${scope.tenant} directory`,
        type: generic.type,
        webhookUrl: `${recorder.url}/webhooks/polis`,
        webhookSecret: secret,
      });
    const good = await directory(known, knownSecret);
    const bad = await directory(unknown, unknownSecret);

    const created = await polis.scim(good, generic.createUser({ key: 'u1', givenName: 'Alice', familyName: 'A', email: 'alice@umbrella.example' }));
    expect(created.status).toBe(201);
    expect(await serviceState(server, [known])).toEqual(await polisState(polis, [known]));

    const before = await deliveryCount();
    const sent = recorder.exchanges.length;
    // Polis sends, is refused, retries three times 3 s apart, and gives up; the SCIM request
    // itself still succeeds for the identity provider.
    const refused = await polis.scim(bad, generic.createUser({ key: 'u2', givenName: 'Bob', familyName: 'B', email: 'bob@hooli.example' }));
    expect(refused.status).toBe(201);
    const tries = recorder.exchanges.slice(sent);
    expect(tries.map((t) => t.status)).toEqual([401, 401, 401, 401]);
    expect(tries.every((t) => t.body === tries[0]!.body && t.body.includes('bob@hooli.example'))).toBe(true);

    expect(await deliveryCount()).toBe(before);
    const served = await serviceState(server, [unknown]);
    // Its directory arrived (dsync.created is signed with the global secret); its user did not.
    expect(served.connections.map((c) => c.externalId)).toEqual([bad.id]);
    expect(served.members).toEqual([]);
    expect((await polisState(polis, [unknown])).members).toHaveLength(1);
  });
});
