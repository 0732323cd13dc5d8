// Roles and attributes pushed live (issue 33): a change of a tenant's role rules or attribute
// mappings, or of a group or membership, that moves a member's appRole, appRoles or attributes
// is a member UPDATED on memberChanged, exactly once, resumable by cursor; a change that moves
// nothing pushes nothing. Over the running service on both backends, from signed Stytch
// webhooks, read through the real graphql-ws client.
//
// How a step is checked: after it, the test waits for the service's background recompute to be
// idle, then sends a fence (an update of a member of another tenant, which no step touches) and
// takes what memberChanged pushed before the fence as the step's. That must be exactly the members whose
// values moved (read before and after through GraphQL) plus the member the step's own event was
// about, each once, carrying the values read after.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toGlobalId } from '../../src/graphql/ids.js';
import { backend } from '../support/backend.js';
import { seedStytchOrg, sendAll, stytchEvent, type SeededOrg } from '../support/directory.js';
import { propertyRuns } from '../support/effort.js';
import { eventually, subscribe, type LiveSubscription } from '../support/live.js';
import { gqlData, startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  // Groups of more than 3 live members are recomputed in the background, not in the webhook's transaction.
  server = await startTestServer({ inlineGroupMax: 3 });
});
afterAll(() => server?.close());

interface Values {
  appRole: string | null;
  appRoles: string[];
  attributes: Record<string, unknown>;
}
interface Pushed {
  memberChanged: {
    cursor: string;
    action: string;
    member: { externalId: string; name: string | null } & Values;
    membership: { externalId: string } | null;
  };
}

// Every tenant's (an admin key): the steps' tenant and the fences'.
const MEMBER_CHANGED = `subscription ($after: String) { memberChanged(after: $after) {
  cursor action member { externalId name appRole appRoles attributes } membership { externalId } } }`;
const SET_RULES = `mutation ($t: ID!, $rules: [RoleRuleInput!]!, $d: String) { setRoleRules(tenantId: $t, rules: $rules, defaultRole: $d) { id } }`;
const SET_MAPPINGS = `mutation ($t: ID!, $m: [AttributeMappingInput!]!) { setAttributeMappings(tenantId: $t, mappings: $m) { id } }`;

/** One tenant's members' values by external id, as GraphQL reads them now. */
async function valuesOf(org: SeededOrg): Promise<Map<string, Values>> {
  const data = await gqlData<{ members: { edges: { node: { externalId: string } & Values }[] } }>(
    server,
    'query ($t: ID!) { members(tenantId: $t, first: 100, filter: { includeDeleted: true }) { edges { node { externalId appRole appRoles attributes } } } }',
    { t: toGlobalId('Tenant', org.tenantUuid) },
  );
  return new Map(data.members.edges.map(({ node: { externalId, ...values } }) => [externalId, values]));
}

/** Drives one tenant step by step and says what memberChanged pushed for each step. */
class Stepper {
  #fences = 0;
  #seen = 0;
  #clock: number;
  constructor(
    readonly org: SeededOrg,
    readonly fences: SeededOrg,
    readonly sub: LiveSubscription<Pushed>,
  ) {
    this.#clock = Date.now() + 1000;
  }

  get fenceId(): string {
    return this.fences.memberIds[0]!;
  }

  /** A timestamp later than every earlier step's. */
  at(): Date {
    this.#clock += 1000;
    return new Date(this.#clock);
  }

  async send(...events: Record<string, unknown>[]): Promise<void> {
    await sendAll(server, events, 1);
  }

  /** Renames the fence member; its push is the fence. */
  async fence(): Promise<(e: Pushed) => boolean> {
    const name = `fence ${++this.#fences}`;
    const id = this.fenceId;
    await this.send(stytchEvent('member', 'UPDATE', id, { member_id: id, organization_id: this.fences.organizationId, email_address: this.fences.emails[0], name, status: 'active' }, this.at()));
    return (e) => e.memberChanged.member.externalId === id && e.memberChanged.member.name === name;
  }

  /** Waits for what is under way, fences, and returns what was pushed since the last fence. */
  async pushed(): Promise<Pushed['memberChanged'][]> {
    await server.server.recompute.idle();
    const isFence = await this.fence();
    await eventually(() => this.sub.events.slice(this.#seen).some(isFence), 30_000, `fence ${this.#fences}`);
    const fresh = this.sub.events.slice(this.#seen);
    const at = fresh.findIndex(isFence);
    this.#seen += at + 1;
    return fresh.slice(0, at).map((e) => e.memberChanged);
  }

  /** Sends fences until the subscription hears one (one without `after` hears only what commits after it starts). */
  async live(): Promise<void> {
    await eventually(
      async () => {
        const isFence = await this.fence();
        await new Promise((r) => setTimeout(r, 100));
        const at = this.sub.events.findIndex(isFence);
        if (at === -1) return false;
        this.#seen = at + 1;
        return true;
      },
      60_000,
      'the subscription to be live',
    );
  }

  /** Runs a step and checks what it pushed against the values before and after it. */
  async step(what: string, run: () => Promise<unknown>, direct: string[] = []): Promise<Pushed['memberChanged'][]> {
    const before = await valuesOf(this.org);
    await run();
    const pushed = await this.pushed();
    const after = await valuesOf(this.org);
    const moved = [...after].filter(([id, v]) => !before.has(id) || JSON.stringify(before.get(id)) !== JSON.stringify(v)).map(([id]) => id);
    const expected = [...new Set([...moved, ...direct])].sort();
    const got = pushed.map((e) => e.member.externalId).sort();
    expect(got, `${what}: members pushed (each once)`).toEqual(expected);
    for (const e of pushed) {
      const { externalId, name: _name, ...values } = e.member;
      expect(values, `${what}: ${externalId} pushed with its values`).toEqual(after.get(externalId));
    }
    return pushed;
  }
}

async function stepperFor(org: SeededOrg): Promise<Stepper> {
  const fences = await seedStytchOrg(server, { members: 1, groups: 0 });
  const stepper = new Stepper(org, fences, subscribe<Pushed>(server.url, server.adminKey, MEMBER_CHANGED));
  await stepper.live();
  return stepper;
}

const memberGroup = (org: SeededOrg, m: number, g: number, id: string, action: 'CREATE' | 'DELETE', at: Date) =>
  stytchEvent('scim_member_group', action, id, { member_group_id: id, group_id: org.groupIds[g], member_id: org.memberIds[m], connection_id: `scim-connection-test-${org.tag}-scim`, organization_id: org.organizationId }, at);
const groupNamed = (org: SeededOrg, g: number, name: string, at: Date) =>
  stytchEvent('scim_group', 'UPDATE', org.groupIds[g]!, { group_id: org.groupIds[g], group_name: name, connection_id: `scim-connection-test-${org.tag}-scim`, organization_id: org.organizationId }, at);

describe(`app values pushed live (${backend})`, () => {
  it('pushes each member whose role or attributes a rule, mapping, membership or group change moves, once, and nothing for a change that moves nothing', async () => {
    // Member 0 in groups 0 and 1, member 1 in group 1, member 2 in group 2, member 3 in none.
    const org = await seedStytchOrg(server, { members: 4, groups: 3, memberships: [[0, 0], [0, 1], [1, 1], [2, 2]] });
    const s = await stepperFor(org);
    const t = toGlobalId('Tenant', org.tenantUuid);
    const [m0, m1, m2, m3] = org.memberIds as [string, string, string, string];
    const rules = [
      { group: org.groupNames[0]!, role: 'admin', priority: 10 },
      { group: org.groupIds[1]!, role: 'editor', priority: 20 },
    ];

    // Rules: members 0 and 1 get roles; members 2 and 3 (no mapped group, no default) stay null.
    const first = await s.step('rules set', () => gqlData(server, SET_RULES, { t, rules, d: null }));
    expect(first.map((e) => [e.member.externalId, e.action, e.member.appRole]).sort()).toEqual([
      [m0, 'UPDATED', 'admin'],
      [m1, 'UPDATED', 'editor'],
    ]);
    // The same rules again: nothing moves, nothing is pushed.
    expect(await s.step('rules set again', () => gqlData(server, SET_RULES, { t, rules, d: null }))).toEqual([]);
    // A default role moves everyone without a mapped group (member 2 and 3).
    await s.step('default role', () => gqlData(server, SET_RULES, { t, rules, d: 'viewer' }));

    // Member 2 joins group 0: its membership event is its one push, with the role it now has.
    const joined = await s.step('member 2 joins group 0', () => s.send(memberGroup(org, 2, 0, `mg-live-${org.tag}-2-0`, 'CREATE', s.at())), [m2]);
    expect(joined).toMatchObject([{ member: { externalId: m2, appRole: 'admin' }, membership: { externalId: `mg-live-${org.tag}-2-0` } }]);

    // Group 0 renamed: the rule names it by its old name, so members 0 and 2 lose admin.
    const renamed = await s.step('group 0 renamed', () => s.send(groupNamed(org, 0, 'Former admins', s.at())));
    expect(renamed.map((e) => [e.member.externalId, e.member.appRole]).sort()).toEqual([
      [m0, 'editor'],
      [m2, 'viewer'],
    ]);
    // Renamed again to the name the rule gives: back to admin. A rename to the same name moves nothing.
    await s.step('group 0 named back', () => s.send(groupNamed(org, 0, org.groupNames[0]!, s.at())));
    expect(await s.step('group 0 renamed to its name', () => s.send(groupNamed(org, 0, org.groupNames[0]!, s.at())))).toEqual([]);

    // Group 1 deleted: member 1 falls to the default, member 0 keeps admin but loses editor from appRoles.
    const deleted = await s.step('group 1 deleted', () => s.send(stytchEvent('scim_group', 'DELETE', org.groupIds[1]!, undefined, s.at())));
    expect(deleted.map((e) => [e.member.externalId, e.member.appRole, e.member.appRoles]).sort()).toEqual([
      [m0, 'admin', ['admin']],
      [m1, 'viewer', []],
    ]);

    // Mappings: an attribute from each member's name moves every member.
    await s.step('mappings set', () => gqlData(server, SET_MAPPINGS, { t, m: [{ name: 'displayName', path: 'name' }] }));
    expect(await s.step('mappings set again', () => gqlData(server, SET_MAPPINGS, { t, m: [{ name: 'displayName', path: 'name' }] }))).toEqual([]);
    // Member 3 renamed: its own update, once, with the attribute it now maps to.
    const named = await s.step(
      'member 3 renamed',
      () => s.send(stytchEvent('member', 'UPDATE', m3, { member_id: m3, organization_id: org.organizationId, email_address: org.emails[3], name: 'Renamed', status: 'active' }, s.at())),
      [m3],
    );
    expect(named).toMatchObject([{ action: 'UPDATED', member: { attributes: { displayName: 'Renamed' } } }]);
    await s.sub.close();
  });

  it('resumes from a cursor with the same pushes, and recomputes a big group in the background', async () => {
    // Group 0 has 4 live members: more than the 3 this server recomputes inline.
    const org = await seedStytchOrg(server, { members: 6, groups: 2, memberships: [[0, 0], [1, 0], [2, 0], [3, 0], [4, 1]] });
    const s = await stepperFor(org);
    const t = toGlobalId('Tenant', org.tenantUuid);
    const start = s.sub.events.at(-1)!.memberChanged.cursor;
    await s.step('rules set', () => gqlData(server, SET_RULES, { t, rules: [{ group: 'Everyone', role: 'member', priority: 1 }], d: null }));
    // Group 0 renamed to the name the rule gives: its four members move, through the background recompute.
    const everyone = await s.step('big group renamed', () => s.send(groupNamed(org, 0, 'Everyone', s.at())));
    expect(everyone.map((e) => [e.member.externalId, e.member.appRole]).sort()).toEqual(org.memberIds.slice(0, 4).map((id) => [id, 'member']).sort());
    // Member 4 joins it (a membership, inline): one push.
    await s.step('member 4 joins', () => s.send(memberGroup(org, 4, 0, `mg-live-${org.tag}-4-0`, 'CREATE', s.at())), [org.memberIds[4]!]);
    const live = s.sub.events.map((e) => [e.memberChanged.cursor, e.memberChanged.member.externalId, e.memberChanged.action]);
    await s.sub.close();

    // Resumed from before the rules: the same pushes in the same order, from history.
    const resumed = subscribe<Pushed>(server.url, server.adminKey, MEMBER_CHANGED, { after: start });
    const since = live.slice(live.findIndex(([cursor]) => cursor === start) + 1);
    const replayed = (await resumed.waitFor(since.length)).slice(0, since.length);
    expect(replayed.map((e) => [e.memberChanged.cursor, e.memberChanged.member.externalId, e.memberChanged.action])).toEqual(since);
    await resumed.close();
  });
});

// Random steps over one tenant: rules, default role, mappings, memberships joined and left,
// groups renamed and deleted, members renamed and deleted. After each, what was pushed is what
// moved (Stepper.step), and appRole and appRoles are what a plain recomputation from the
// directory as GraphQL reads it gives.
const NAMES = ['Admins', 'Editors', 'Staff'];
// Renames and rules weigh most: a group change moves members only where a rule names the group.
const step = fc.oneof(
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('membership' as const), m: fc.nat(3), g: fc.nat(2) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('rename' as const), g: fc.nat(2), name: fc.constantFrom(...NAMES) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('deleteGroup' as const), g: fc.nat(2) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('renameMember' as const), m: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('deleteMember' as const), m: fc.nat(3) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('rules' as const),
      rules: fc.array(fc.record({ byName: fc.boolean(), which: fc.nat(2), name: fc.constantFrom(...NAMES), role: fc.constantFrom('admin', 'editor', 'viewer'), priority: fc.nat(3) }), { minLength: 1, maxLength: 4 }),
      defaultRole: fc.option(fc.constantFrom('member', 'guest'), { nil: null }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('mappings' as const), which: fc.nat(2) }) },
);
const MAPPINGS = [[], [{ name: 'displayName', path: 'name' }], [{ name: 'mail', path: 'email_address' }, { name: 'displayName', path: 'name' }]];
const RUNS = propertyRuns(6);
const SEED = process.env.PROPERTY_SEED ? { seed: Number(process.env.PROPERTY_SEED) } : {};

describe(`app values pushed live, random steps (${backend})`, () => {
  it('pushes exactly the members whose values moved, and the roles are a plain recomputation of the final directory', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 10, maxLength: 20 }), async (steps) => {
        const org = await seedStytchOrg(server, { members: 4, groups: 3, memberships: [[0, 0], [1, 1], [2, 2], [3, 0], [3, 1]] });
        const s = await stepperFor(org);
        const t = toGlobalId('Tenant', org.tenantUuid);
        const live = { members: new Set([0, 1, 2, 3]), groups: new Set([0, 1, 2]) };
        const memberships = new Map<string, string>(org.memberships.map(([m, g]) => [`${m}-${g}`, `scim-member-group-test-${org.tag}-${m}-${g}`]));
        let made = 0;
        let rules: { group: string; role: string; priority: number }[] = [];
        let defaultRole: string | null = null;
        try {
          for (const [i, st] of steps.entries()) {
            const what = `step ${i} ${JSON.stringify(st)}`;
            switch (st.kind) {
              case 'membership': {
                const key = `${st.m}-${st.g}`;
                const id = memberships.get(key);
                if (id) memberships.delete(key);
                else memberships.set(key, `mg-random-${org.tag}-${made++}`);
                await s.step(what, () => s.send(memberGroup(org, st.m, st.g, id ?? memberships.get(key)!, id ? 'DELETE' : 'CREATE', s.at())), [org.memberIds[st.m]!]);
                break;
              }
              case 'rename':
                if (live.groups.has(st.g)) await s.step(what, () => s.send(groupNamed(org, st.g, st.name, s.at())));
                break;
              case 'deleteGroup':
                if (live.groups.delete(st.g)) await s.step(what, () => s.send(stytchEvent('scim_group', 'DELETE', org.groupIds[st.g]!, undefined, s.at())));
                break;
              case 'renameMember': {
                const id = org.memberIds[st.m]!;
                if (live.members.has(st.m)) {
                  await s.step(what, () => s.send(stytchEvent('member', 'UPDATE', id, { member_id: id, organization_id: org.organizationId, email_address: org.emails[st.m], name: `Person ${st.m} step ${i}`, status: 'active' }, s.at())), [id]);
                }
                break;
              }
              case 'deleteMember':
                if (live.members.delete(st.m)) await s.step(what, () => s.send(stytchEvent('member', 'DELETE', org.memberIds[st.m]!, undefined, s.at())), [org.memberIds[st.m]!]);
                break;
              case 'rules':
                rules = st.rules.map((r) => ({ group: r.byName ? r.name : org.groupIds[r.which]!, role: r.role, priority: r.priority }));
                defaultRole = st.defaultRole;
                await s.step(what, () => gqlData(server, SET_RULES, { t, rules, d: defaultRole }));
                break;
              case 'mappings':
                await s.step(what, () => gqlData(server, SET_MAPPINGS, { t, m: MAPPINGS[st.which] }));
                break;
            }
          }
          // The final roles, worked out here from the directory as read back: the rule of the lowest
          // priority (then first given) naming a live group of a live member by id or name.
          const read = await gqlData<{ members: { edges: { node: { externalId: string; deletedAt: string | null; appRole: string | null; appRoles: string[]; groups: { edges: { node: { externalId: string; name: string } }[] } } }[] } }>(
            server,
            'query ($t: ID!) { members(tenantId: $t, first: 100, filter: { includeDeleted: true }) { edges { node { externalId deletedAt appRole appRoles groups(first: 10) { edges { node { externalId name } } } } } } }',
            { t },
          );
          for (const { node } of read.members.edges) {
            const groups = node.deletedAt ? [] : node.groups.edges.map((e) => e.node);
            const given = rules
              .map((rule, index) => ({ rule, index }))
              .filter(({ rule }) => groups.some((g) => g.externalId === rule.group || g.name === rule.group))
              .sort((a, b) => a.rule.priority - b.rule.priority || a.index - b.index)
              .map(({ rule }) => rule.role);
            const roles = [...new Set(given)];
            expect({ appRole: node.appRole, appRoles: node.appRoles }, node.externalId).toEqual({ appRole: node.deletedAt ? null : (roles[0] ?? defaultRole), appRoles: roles });
          }
        } finally {
          await s.sub.close();
        }
      }),
      { numRuns: RUNS, ...SEED },
    );
  });
});
