// Reconciliation against the real Polis on the stores deployments run it on, with a page limit
// (DB_PAGE_LIMIT) of 3 and more of everything than that: SSO connections, directories, users,
// groups and a group's members. On its SQL store (Postgres, through typeorm; on the Postgres
// pass, which has one) a tenant's connection list stops at the limit and cannot be paged; on its
// DynamoDB store (dynalite; on the PGlite pass) lists ignore the offset and a group's members come
// with no token to page on. Webhooks are lost while objects are created, renamed, deactivated and
// deleted; after a run the service must equal Polis (but for what the report says it could not
// verify), no live object may be ended, another tenant is left alone, and a second run changes
// nothing, not even an `updatedAt`.
import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDirectoryStore } from '../../src/directory/store.js';
import { reconcileTenant, type ReconcileReport } from '../../src/reconcile/run.js';
import { createPolisPuller } from '../../src/sources/polis/reconcile.js';
import { backend, createPostgresDatabase, onPostgres } from '../support/backend.js';
import { query } from '../support/db.js';
import type { Directory } from '../oracles/polis.js';
import { startDynalite, type LocalDynamo } from '../oracles/dynalite.js';
import { polisState, serviceState, type DirectoryState, type Scope } from './support/compare.js';
import { DIALECTS, type Person } from './support/dialects.js';
import { startPolisApi, type PolisApi } from './support/polis-api.js';
import { createDirectory, deleteDirectory, idpMetadata, newWebhookSecret, startPolisRig, type PolisRig, type PolisStore, type ScimRequest } from './support/polis.js';

const PAGE_LIMIT = 3;
const entra = DIALECTS.find((d) => d.type === 'azure-scim-v2')!;
const redirect = { defaultRedirectUrl: 'https://app.example/sso/done', redirectUrl: '["https://app.example/*"]' };
const run = randomBytes(3).toString('hex');
const acme: Scope = { tenant: `acme-${run}`, product: 'portal' };
const other: Scope = { tenant: `other-${run}`, product: 'portal' };
const tenant = { provider: 'POLIS' as const, externalId: acme.tenant, product: acme.product };

const person = (key: string, givenName: string): Person => ({ key, givenName, familyName: 'Stored', email: `${givenName.toLowerCase()}.${run}@acme.example` });
const total = (report: ReconcileReport, column: 'created' | 'updated' | 'ended' | 'unchanged' | 'newer') =>
  Object.values(report.counts).reduce((n, c) => n + c[column], 0);

interface StoreCase {
  name: string;
  runs: boolean;
  store(): Promise<{ store: PolisStore; close(): Promise<void> }>;
  /** Whether a group's member list can be read whole on this store (DynamoDB: no token, offset ignored). */
  membersPageable: boolean;
}

const CASES: StoreCase[] = [
  {
    name: 'SQL (Postgres, through typeorm)',
    runs: onPostgres,
    store: async () => {
      const database = await createPostgresDatabase();
      return { store: { engine: 'sql', type: 'postgres', url: database.url, pageLimit: PAGE_LIMIT }, close: database.drop };
    },
    membersPageable: true,
  },
  {
    name: 'DynamoDB (dynalite)',
    runs: !onPostgres,
    store: async () => {
      const dynamo: LocalDynamo = await startDynalite();
      return { store: { engine: 'dynamodb', url: dynamo.url, pageLimit: PAGE_LIMIT }, close: dynamo.close };
    },
    membersPageable: false,
  },
];

for (const storeCase of CASES) {
  describe.runIf(storeCase.runs)(`reconciliation with the real Polis on its ${storeCase.name} store, page limit ${PAGE_LIMIT} (${backend})`, () => {
    const secret = newWebhookSecret();
    const apiKey = randomBytes(16).toString('hex');
    let rig: PolisRig;
    let api: PolisApi;
    let closeStore: () => Promise<void>;
    const directories: Directory[] = [];
    const users: string[] = [];
    const groups: string[] = [];
    const ssoIds: { clientID: string; clientSecret: string }[] = [];

    beforeAll(async () => {
      const { store, close } = await storeCase.store();
      closeStore = close;
      api = await startPolisApi(() => rig.polis, apiKey);
      rig = await startPolisRig({ env: { POLIS_WEBHOOK_SECRET: secret }, webhookSecret: secret, store });
    });
    afterAll(async () => {
      await api?.close();
      await rig?.close();
      await closeStore?.();
    });

    const scim = async (request: ScimRequest, directory = directories[0]!): Promise<Record<string, unknown>> => {
      const reply = await rig.polis.scim(directory, request);
      expect(reply.status, JSON.stringify(reply.data)).toBeLessThan(300);
      return reply.data;
    };
    const reconcile = (dryRun = false) =>
      reconcileTenant(rig.server.database.db, createDirectoryStore(rig.server.database.db), createPolisPuller({ apiUrl: api.url, apiKey, http: { sleep: async () => {} } }), tenant, { dryRun });
    const lastSeq = async () => Number((await query(rig.server.database, sql`select coalesce(max(seq), 0)::int as seq from changes`))[0]!.seq);

    /** Polis's state, with what this store cannot let a reconciler verify left as the service keeps it. */
    let unverifiable: { member: string; group: string }[] = [];
    function expected(polis: DirectoryState): DirectoryState {
      if (unverifiable.length === 0) return polis;
      const kept = (member: string, group: string) => unverifiable.some((u) => u.member === member && u.group === group);
      return {
        ...polis,
        members: polis.members.map((m) => ({ ...m, groups: [...m.groups, ...unverifiable.filter((u) => u.member === m.externalId).map((u) => u.group)].sort() })),
        groups: polis.groups.map((g) => ({ ...g, members: [...g.members, ...unverifiable.filter((u) => u.group === g.externalId && !kept(u.member, '')).map((u) => u.member)].sort() })),
      };
    }

    it('starts equal: more SSO connections, directories, users, groups and members than a page holds, sent by webhook', async () => {
      const sso = rig.polis.jackson.connectionAPIController;
      for (let i = 0; i < 5; i++) {
        const c = await sso.createSAMLConnection({ ...acme, ...redirect, name: `Acme IdP ${i}`, rawMetadata: idpMetadata(`https://idp${i}-${run}.acme.example/saml`) });
        ssoIds.push({ clientID: c.clientID, clientSecret: c.clientSecret });
      }
      await sso.createSAMLConnection({ ...other, ...redirect, name: 'Other IdP', rawMetadata: idpMetadata(`https://idp-${run}.other.example/saml`) });
      for (let i = 0; i < 4; i++) {
        directories.push(await createDirectory(rig.polis, { ...acme, name: `Acme directory ${i}`, type: entra.type, webhookUrl: `${rig.recorder.url}/webhooks/polis`, webhookSecret: secret }));
      }
      await createDirectory(rig.polis, { ...other, name: 'Other directory', type: entra.type, webhookUrl: `${rig.recorder.url}/webhooks/polis`, webhookSecret: secret });
      for (const [i, name] of ['Ada', 'Grace', 'Linus', 'Barbara', 'Ken', 'Edsger'].entries()) users.push(String((await scim(entra.createUser(person(`u-${i}`, name)))).id));
      for (const name of ['Engineering', 'Admins', 'Sales', 'Support']) groups.push(String((await scim(entra.createGroup(name))).id));
      await scim(entra.addMembers(groups[0]!, users.slice(0, 5)));
      await scim(entra.addMembers(groups[1]!, [users[5]!]));
      await expect.poll(async () => serviceState(rig.server, [acme, other]), { message: 'the webhooks to have reached the service' }).toEqual(await polisState(rig.polis, [acme, other]));
      expect((await serviceState(rig.server, [acme])).connections).toHaveLength(9);
    });

    it("brings back what the lost webhooks carried, ends only what Polis says by id is gone, leaves the other tenant alone; a dry run predicts it exactly", async () => {
      rig.recorder.dropping = true;
      const sso = rig.polis.jackson.connectionAPIController;
      users.push(String((await scim(entra.createUser(person('u-6', 'Hedy')))).id));
      users.push(String((await scim(entra.createUser(person('u-7', 'Frances')))).id));
      await scim(entra.patchNameAndEmail(users[1]!, 'Gracie', `gracie.${run}@acme.example`));
      await scim(entra.setActive(users[2]!, false));
      await scim(entra.deleteUser(users[3]!));
      groups.push(String((await scim(entra.createGroup('Research'))).id));
      await scim(entra.removeMember(groups[0]!, users[0]!));
      await scim(entra.addMembers(groups[1]!, [users[6]!]));
      const c = await sso.createSAMLConnection({ ...acme, ...redirect, name: 'Acme IdP 5', rawMetadata: idpMetadata(`https://idp5-${run}.acme.example/saml`) });
      ssoIds.push({ clientID: c.clientID, clientSecret: c.clientSecret });
      await sso.deleteConnections({ clientID: ssoIds[1]!.clientID, clientSecret: ssoIds[1]!.clientSecret });
      await sso.updateSAMLConnection({ ...acme, ...ssoIds[2]!, deactivated: true } as Parameters<typeof sso.updateSAMLConnection>[0]);
      await deleteDirectory(rig.polis, directories[3]!);
      const [otherConnection] = await sso.getConnections({ ...other });
      await sso.deleteConnections({ clientID: otherConnection!.clientID, clientSecret: otherConnection!.clientSecret });
      rig.recorder.dropping = false;
      const otherBefore = await serviceState(rig.server, [other]);

      const seqBefore = await lastSeq();
      const dry = await reconcile(true);
      expect(await lastSeq()).toBe(seqBefore);
      const report = await reconcile();

      // What a store cannot page is said, and nothing is ended on it.
      if (!storeCase.membersPageable) {
        expect(report.notes.join('\n')).toContain(`members of group ${groups[0]}`);
        expect(report.unverified).toBeGreaterThanOrEqual(1);
        unverifiable = [{ member: users[0]!, group: groups[0]! }];
      } else {
        expect(report.unverified).toBe(0);
      }
      expect(await serviceState(rig.server, [acme])).toEqual(expected(await polisState(rig.polis, [acme])));
      // Every SSO connection Polis has is live, the four past the page limit included.
      expect((await serviceState(rig.server, [acme])).connections.filter((x) => x.kind === 'SAML').map((x) => x.externalId).sort()).toEqual(
        ssoIds.filter((_, i) => i !== 1).map((x) => x.clientID).sort(),
      );
      expect(report.counts.CONNECTION.ended).toBe(2);
      expect(report.counts.MEMBER.created).toBe(2);
      expect(report.counts.MEMBER.ended).toBe(1);
      // Another tenant's lost deletion is its own run's business.
      expect(await serviceState(rig.server, [other])).toEqual(otherBefore);
      // The dry run said exactly this.
      expect(dry.counts).toEqual(report.counts);
      expect(dry.unverified).toBe(report.unverified);
    });

    it('a second run changes nothing: no feed row, and no object shows as updated', async () => {
      const updatedAt = async () =>
        query(
          rig.server.database,
          sql`select 'member' as kind, external_id, updated_at from members union all select 'group', external_id, updated_at from groups
              union all select 'connection', external_id, updated_at from connections union all select 'membership', external_id, updated_at from memberships
              order by 1, 2`,
        );
      const before = await updatedAt();
      const seq = await lastSeq();
      const report = await reconcile();
      expect(total(report, 'created') + total(report, 'updated') + total(report, 'ended')).toBe(0);
      expect(await lastSeq()).toBe(seq);
      expect(await updatedAt()).toEqual(before);
      expect(await serviceState(rig.server, [acme])).toEqual(expected(await polisState(rig.polis, [acme])));
    });
  });
}
