// The real Polis as the sender: an identity provider's SCIM requests (Okta, Entra ID and generic
// SCIM 2.0 dialects) go through Polis's own SCIM handler, Polis posts its real webhooks (each
// directory to its own URL with its own secret), and after every step what the service serves
// must equal what Polis holds, field by field.
import type { Directory } from '../oracles/polis.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backend } from '../support/backend.js';
import type { HttpRecorder } from '../support/http-recorder.js';
import { gqlData, type TestServer } from '../support/server.js';
import { polisState, serviceState, type Scope } from './support/compare.js';
import { DIALECTS, type Dialect, type Person } from './support/dialects.js';
import {
  createDirectory,
  deleteDirectory,
  newWebhookSecret,
  setDirectoryActive,
  startPolisRig,
  type Polis,
  type PolisRig,
  type ScimRequest,
} from './support/polis.js';

const globalSecret = newWebhookSecret();
// One secret per directory, as Polis's admin UI has an operator set them; each is scoped to
// its directory's tenant, so it can write nothing else (the global one signs sso.* and dsync.*).
const directorySecrets = DIALECTS.map(() => newWebhookSecret());
const tenantOf = (dialect: Dialect) => `acme-${dialect.type.split('-')[0]}`;

let server: TestServer;
let recorder: HttpRecorder;
let polis: Polis;
let rig: PolisRig;
const scopes: Scope[] = [];

beforeAll(async () => {
  rig = await startPolisRig({ env: {
      POLIS_WEBHOOK_SECRET: globalSecret,
      POLIS_SCOPED_SECRETS: DIALECTS.map((d, i) => `${tenantOf(d)}/portal=${directorySecrets[i]}`).join(','),
    }, webhookSecret: globalSecret });
  ({ server, recorder, polis } = rig);
});
afterAll(() => rig?.close());

/** Polis's state and the service's, for these tenants (default: every one used so far). */
async function expectSameDirectory(step: string, which: Scope[] = scopes) {
  const expected = await polisState(polis, which);
  expect(await serviceState(server, which), `after: ${step}`).toEqual(expected);
}

async function scim(directory: Directory, request: ScimRequest) {
  const reply = await polis.scim(directory, request);
  expect(reply.status, `Polis answered the SCIM ${request.method} ${request.resource}: ${JSON.stringify(reply.data)}`).toBeLessThan(300);
  return reply.data;
}

interface AppView {
  members: { edges: { node: { externalId: string; appRole: string | null; appRoles: string[]; attributes: Record<string, unknown> } }[] };
}

/** What an app reads of a tenant's members (issue 33): appRole, appRoles and attributes by externalId. */
async function appView(tenant: string) {
  const data = await gqlData<{ tenants: { edges: { node: AppView }[] } }>(
    server,
    'query ($x: String!) { tenants(filter: { externalId: $x }) { edges { node { members { edges { node { externalId appRole appRoles attributes } } } } } } }',
    { x: tenant },
  );
  const members = data.tenants.edges[0]?.node.members.edges ?? [];
  return Object.fromEntries(members.map((e) => [e.node.externalId, { appRole: e.node.appRole, appRoles: e.node.appRoles, attributes: e.node.attributes }]));
}

const person = (key: string, givenName: string, familyName: string, tenant: string, roles?: string[]): Person => ({
  key,
  givenName,
  familyName,
  email: `${givenName.toLowerCase()}@${tenant}.example`,
  ...(roles ? { roles } : {}),
});

describe(`the real Polis, SCIM dialect by dialect (${backend})`, () => {
  DIALECTS.forEach((dialect: Dialect, i) => {
    it(`${dialect.type}: a directory's whole life, equal to Polis's state after every step`, async () => {
      const tenant = tenantOf(dialect);
      const scope = { tenant, product: 'portal' };
      scopes.push(scope);
      // Each dialect compares its own tenant, so one dialect's failure does not show up as all.
      const same = (step: string) => expectSameDirectory(`${dialect.type}: ${step}`, [scope]);

      const directory = await createDirectory(polis, {
        ...scope,
        name: `${dialect.type} directory`,
        type: dialect.type,
        webhookUrl: `${recorder.url}/webhooks/polis`,
        webhookSecret: directorySecrets[i]!,
      });
      await same('directory created');

      const ada = (await scim(directory, dialect.createUser(person('ada', 'Ada', 'Lovelace', tenant, ['admin', 'engineer'])))).id as string;
      const grace = (await scim(directory, dialect.createUser(person('grace', 'Grace', 'Hopper', tenant)))).id as string;
      const linus = (await scim(directory, dialect.createUser(person('linus', 'Linus', 'Torvalds', tenant, ['viewer'])))).id as string;
      await same('users created');
      // Beyond agreeing with Polis: what a reader of the directory must see for these users.
      const created = await serviceState(server, [scope]);
      expect(created.members.find((m) => m.externalId === ada)).toMatchObject({
        roles: ['admin', 'engineer'],
        status: 'ACTIVE',
        email: `ada@${tenant}.example`,
        directory: directory.id,
      });

      await scim(directory, dialect.replaceUser(grace, { ...person('grace', 'Grace', 'Brewster Hopper', tenant), email: `g.hopper@${tenant}.example` }));
      await same('a user replaced (PUT)');

      await scim(directory, dialect.patchNameAndEmail(ada, 'Augusta Ada', `countess@${tenant}.example`));
      await same('a user patched (name and work email)');

      await scim(directory, dialect.setActive(linus, false));
      await same('a user deactivated');
      expect((await serviceState(server, [scope])).members.find((m) => m.externalId === linus)?.status).toBe('INACTIVE');
      await scim(directory, dialect.setActive(linus, true));
      await same('the user reactivated');

      const engineers = (await scim(directory, dialect.createGroup('Engineers'))).id as string;
      const operators = (await scim(directory, dialect.createGroup('Operators'))).id as string;
      await scim(directory, dialect.addMembers(engineers, [ada, grace]));
      await scim(directory, dialect.addMembers(operators, [grace, linus]));
      await same('groups created and members added');

      // Roles and attributes an app reads of them: rules naming one group by its name and one by
      // Polis's id for it; attributes by the Polis defaults (the enterprise extension Entra sends).
      const tenantId = (
        await gqlData<{ tenants: { edges: { node: { id: string } }[] } }>(server, 'query ($x: String!) { tenants(filter: { externalId: $x }) { edges { node { id } } } }', { x: tenant })
      ).tenants.edges[0]!.node.id;
      await gqlData(server, 'mutation ($t: ID!, $r: [RoleRuleInput!]!) { setRoleRules(tenantId: $t, rules: $r, defaultRole: "member") { id } }', {
        t: tenantId,
        r: [
          { group: 'Engineers', role: 'engineer', priority: 1 },
          { group: operators, role: 'operator', priority: 2 },
        ],
      });
      const enterprise = (key: string) => (dialect.type === 'azure-scim-v2' ? { department: 'Engineering', employeeNumber: key } : {});
      expect(await appView(tenant)).toEqual({
        [ada]: { appRole: 'engineer', appRoles: ['engineer'], attributes: enterprise('ada') },
        [grace]: { appRole: 'engineer', appRoles: ['engineer', 'operator'], attributes: enterprise('grace') },
        [linus]: { appRole: 'operator', appRoles: ['operator'], attributes: enterprise('linus') },
      });

      await scim(directory, dialect.removeMember(engineers, grace));
      await same('a member removed from a group');
      expect((await appView(tenant))[grace]).toMatchObject({ appRole: 'operator', appRoles: ['operator'] });

      await scim(directory, dialect.renameGroup(operators, 'Site Reliability'));
      await same('a group renamed');

      // Polis keeps a deleted user's memberships and sends no event for them: the service must
      // still not list linus among the operators.
      await scim(directory, dialect.deleteUser(linus));
      await same('a user deleted');

      await scim(directory, dialect.deleteGroup(engineers));
      await same('a group deleted');

      // A deactivated directory: Polis answers the identity provider 200 and changes nothing.
      await setDirectoryActive(polis, directory, false);
      await scim(directory, dialect.createUser(person('ignored', 'Ignored', 'Person', tenant)));
      await same('directory deactivated (and a SCIM request it ignored)');
      await setDirectoryActive(polis, directory, true);
      await same('directory activated');

      const margaret = (await scim(directory, dialect.createUser(person('margaret', 'Margaret', 'Hamilton', tenant, ['admin'])))).id as string;
      await scim(directory, dialect.addMembers(operators, [margaret]));
      await same('a user added after reactivation');

      // Polis deletes the directory's users, groups and memberships without sending their events.
      await deleteDirectory(polis, directory);
      await same('directory deleted');
    });
  });

  it('answered every delivery 200, rejected none, and every tenant stayed apart', async () => {
    expect(recorder.exchanges.length).toBeGreaterThan(DIALECTS.length * 20);
    const refused = recorder.exchanges.filter((e) => e.status !== 200);
    expect(refused, JSON.stringify(refused.slice(0, 3))).toEqual([]);
    expect(polis.log.filter((line) => /retrying|error sending/i.test(line))).toEqual([]);
    const data = await gqlData<{ deliveries: { edges: unknown[] } }>(
      server,
      `{ deliveries(first: 10, filter: { status: "rejected" }) { edges { node { id reason } } } }`,
    );
    expect(data.deliveries.edges).toEqual([]);
    await expectSameDirectory('all dialects, all tenants together');
  });
});
