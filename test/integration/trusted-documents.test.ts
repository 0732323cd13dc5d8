// Trusted documents (issue 34): with GRAPHQL_TRUSTED_DOCUMENTS naming a manifest that Apollo's
// own generator wrote from a small client's documents, that client (Apollo Client, its
// persisted-query link sending the manifest's ids) runs its operations with a tenant key; an
// operation not in the manifest is refused with PERSISTED_QUERY_NOT_ALLOWED however it is sent
// (its own hash registered the automatic-persisted-queries way, or its text), over HTTP and over
// the WebSocket; an admin key runs anything.
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toGlobalId } from '../../src/graphql/ids.js';
import {
  ApolloClient,
  createPersistedQueryLink,
  generatePersistedQueryIdsFromManifest,
  generatePersistedQueryManifest,
  gql,
  HttpLink,
  InMemoryCache,
  type PersistedQueryManifest,
} from '../oracles/apollo-client.js';
import { backend } from '../support/backend.js';
import { seedStytchOrg, sendAll, stytchEvent, type SeededOrg } from '../support/directory.js';
import { eventually, subscribe } from '../support/live.js';
import { hmacSignIn } from '../support/sign.js';
import { gql as post, startTestServer, tenantKey, type TestServer } from '../support/server.js';

const MEMBERS = `query TenantMembers($t: ID!) { members(tenantId: $t, first: 10) { edges { node { id email } } } }`;
const CHANGES = `subscription MemberChanges { memberChanged { cursor action } }`;
const UNLISTED = `query Everything { tenants(first: 50) { edges { node { id name } } } }`;

let dir: string;
let manifest: PersistedQueryManifest;
let server: TestServer;
let org: SeededOrg;
let key: string;
let jwt: string;
const signIn = hmacSignIn();

beforeAll(async () => {
  // The client's documents, as a frontend's source tree holds them; the manifest its build writes.
  dir = await mkdtemp(join(tmpdir(), 'dsync-trusted-'));
  await writeFile(join(dir, 'members.graphql'), MEMBERS);
  await writeFile(join(dir, 'changes.graphql'), CHANGES);
  manifest = await generatePersistedQueryManifest({ documents: [join(dir, '*.graphql')] }, undefined);
  const manifestPath = join(dir, 'persisted-query-manifest.json');
  await writeFile(manifestPath, JSON.stringify(manifest));
  server = await startTestServer({ env: { GRAPHQL_TRUSTED_DOCUMENTS: manifestPath, ...signIn.env } });
  org = await seedStytchOrg(server, { members: 2, groups: 1 });
  key = await tenantKey(server, org.tenantUuid);
  jwt = await signIn.token({ dsync_tenant: `stytch:${org.organizationId}` });
});
afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

const client = (persisted: ReturnType<typeof createPersistedQueryLink>, bearer: string) =>
  new ApolloClient({
    cache: new InMemoryCache(),
    link: persisted.concat(new HttpLink({ uri: `${server.url}/graphql`, fetch, headers: { authorization: `Bearer ${bearer}` } })),
  });
const trustedLink = () => createPersistedQueryLink(generatePersistedQueryIdsFromManifest({ loadManifest: () => Promise.resolve(manifest) }));
const apqLink = () => createPersistedQueryLink({ sha256: (text: string) => createHash('sha256').update(text).digest('hex') });

describe(`trusted documents (${backend})`, () => {
  it('runs the manifest operations Apollo Client sends by id, and refuses any other for a tenant key', async () => {
    expect(manifest.operations.map((o) => o.name).sort()).toEqual(['MemberChanges', 'TenantMembers']);
    const trusted = client(trustedLink(), key);
    const result = await trusted.query<{ members: { edges: { node: { email: string } }[] } }>({ query: gql(MEMBERS), variables: { t: toGlobalId('Tenant', org.tenantUuid) } });
    expect(result.data.members.edges.map((e) => e.node.email).sort()).toEqual([...org.emails].sort());

    // An operation of its own, sent the automatic-persisted-queries way: hash first, then the text with it.
    const apq = client(apqLink(), key);
    type Coded = { extensions?: { code?: string } }[];
    const refused = await apq.query({ query: gql(UNLISTED) }).then(
      () => undefined,
      // A 400 reaches Apollo Client as a server error carrying the GraphQL errors.
      (error: { graphQLErrors?: Coded; networkError?: { statusCode?: number; result?: { errors?: Coded } } }) => error,
    );
    expect(refused?.networkError?.statusCode).toBe(400);
    expect(refused?.networkError?.result?.errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_NOT_ALLOWED');
    // Its text alone, and the manifest's text with a change of spacing: not the identical text.
    for (const text of [UNLISTED, manifest.operations.find((o) => o.name === 'TenantMembers')!.body.replace('first: 10', 'first:10')]) {
      const reply = await post(server, text, { t: toGlobalId('Tenant', org.tenantUuid) }, key);
      expect(reply.status).toBe(400);
      expect(reply.errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_NOT_ALLOWED');
      expect(reply.data ?? null).toBeNull();
    }
    // The manifest's identical text runs without its id.
    const body = manifest.operations.find((o) => o.name === 'TenantMembers')!.body;
    expect((await post(server, body, { t: toGlobalId('Tenant', org.tenantUuid) }, key)).status).toBe(200);
  });

  it('holds for a sign-in token (JWT) as for a tenant key', async () => {
    const result = await client(trustedLink(), jwt).query<{ members: { edges: unknown[] } }>({ query: gql(MEMBERS), variables: { t: toGlobalId('Tenant', org.tenantUuid) } });
    expect(result.data.members.edges).toHaveLength(2);
    const reply = await post(server, UNLISTED, {}, jwt);
    expect(reply.errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_NOT_ALLOWED');
  });

  it('lets an admin key run anything (GraphiQL), its own automatic persisted queries too', async () => {
    const admin = client(apqLink(), server.adminKey);
    const result = await admin.query<{ tenants: { edges: unknown[] } }>({ query: gql(UNLISTED) });
    expect(result.data.tenants.edges.length).toBeGreaterThan(0);
    // A text an admin registers by its hash is still not trusted for a tenant key sending the hash.
    const hash = createHash('sha256').update(UNLISTED).digest('hex');
    const send = (bearer: string, body: unknown) =>
      fetch(`${server.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` }, body: JSON.stringify(body) }).then(
        async (r) => (await r.json()) as { errors?: { extensions?: { code?: string } }[]; data?: unknown },
      );
    expect((await send(server.adminKey, { query: UNLISTED, extensions: { persistedQuery: { version: 1, sha256Hash: hash } } })).errors).toBeUndefined();
    expect((await send(server.adminKey, { extensions: { persistedQuery: { version: 1, sha256Hash: hash } } })).errors).toBeUndefined();
    const reply = await send(key, { extensions: { persistedQuery: { version: 1, sha256Hash: hash } } });
    expect(reply.errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_NOT_ALLOWED');
    expect(reply.data ?? null).toBeNull();
  });

  it('holds on the WebSocket too: the manifest subscription runs, by text or by id, and another is refused', async () => {
    const body = manifest.operations.find((o) => o.name === 'MemberChanges')!;
    const byText = subscribe(server.url, key, body.body);
    const byId = subscribe(server.url, key, '', {}, undefined, { persistedQuery: { version: 1, sha256Hash: body.id } });
    const other = subscribe(server.url, key, 'subscription { memberChanged { cursor } }');
    await other.done;
    expect(other.errors).toMatchObject([{ extensions: { code: 'PERSISTED_QUERY_NOT_ALLOWED' } }]);
    // The two trusted ones run: each receives a push (one without `after` hears only what commits
    // after it starts, so changes are sent until both have heard one).
    let n = 0;
    await eventually(
      async () => {
        const id = org.memberIds[0]!;
        await sendAll(server, [stytchEvent('member', 'UPDATE', id, { member_id: id, organization_id: org.organizationId, email_address: org.emails[0], name: `Renamed ${n++}`, status: 'active' }, new Date(Date.now() + n * 1000))], 1);
        return byText.events.length > 0 && byId.events.length > 0;
      },
      30_000,
      'both trusted subscriptions to receive a push',
    );
    expect([byText.errors, byId.errors]).toEqual([[], []]);
    await Promise.all([byText.close(), byId.close(), other.close()]);
  });
});
