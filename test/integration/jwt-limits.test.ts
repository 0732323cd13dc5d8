// Sign-in tokens that could outlive their holder, and the limits a token's holder is held to:
// a token without an expiry is refused (unless JWT_MAX_AGE_SECONDS lets its `iat` decide), and
// limits count the token's issuer, subject and tenant, not the token: a holder cannot reset its
// allowance by fetching a fresh token, and two holders do not share one.
import { randomBytes } from 'node:crypto';
import { SignJWT, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backend } from '../support/backend.js';
import { seedStytchOrg, type SeededOrg } from '../support/directory.js';
import { gql, startTestServer, type TestServer } from '../support/server.js';

const RATE = 3;
const secret = randomBytes(32).toString('base64url');
const issuer = 'https://sign-in.limits.test';
const audience = 'directory';
const jwtEnv = { JWT_SECRET: secret, JWT_ISSUER: issuer, JWT_AUDIENCE: audience, GRAPHQL_RATE_PER_KEY: String(RATE) };

/** A token: with `exp` an hour ahead unless `exp: null`; `sub` unless `subject: null`. */
async function token(claims: JWTPayload, options: { subject?: string | null; exp?: null; iatSecondsAgo?: number } = {}): Promise<string> {
  let jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuer(issuer).setAudience(audience);
  jwt = jwt.setIssuedAt(Math.floor(Date.now() / 1000) - (options.iatSecondsAgo ?? 0));
  if (options.subject !== null) jwt = jwt.setSubject(options.subject ?? 'user-1');
  if (options.exp !== null) jwt = jwt.setExpirationTime('1h');
  return jwt.sign(new TextEncoder().encode(secret));
}

let server: TestServer;
let ageing: TestServer;
let a: SeededOrg;
let b: SeededOrg;
beforeAll(async () => {
  server = await startTestServer({ env: jwtEnv });
  ageing = await startTestServer({ env: { ...jwtEnv, JWT_MAX_AGE_SECONDS: '600' } });
  [a, b] = [await seedStytchOrg(server, { members: 1, groups: 0 }), await seedStytchOrg(server, { members: 1, groups: 0 })];
  await seedStytchOrg(ageing, { members: 1, groups: 0 });
});
afterAll(async () => {
  await ageing?.close();
  await server?.close();
});

const viewerRole = async (on: TestServer, bearer: string) => gql(on, '{ viewer { role } }', {}, bearer);

describe(`sign-in tokens: expiry and limits (${backend})`, () => {
  it('a token without exp is refused, saying why; with JWT_MAX_AGE_SECONDS its iat decides', async () => {
    const claims = { dsync_tenant: `STYTCH:${a.organizationId}` };
    const forever = await token(claims, { exp: null });
    const refused = await viewerRole(server, forever);
    expect(refused.status).toBe(401);
    expect(refused.errors?.[0]?.message).toMatch(/no expiry \(exp\).*JWT_MAX_AGE_SECONDS/);

    const org = ((await gql(ageing, '{ tenants(first: 1) { edges { node { externalId } } } }')).data as { tenants: { edges: { node: { externalId: string } }[] } }).tenants.edges[0]!.node.externalId;
    const fresh = await token({ dsync_tenant: `STYTCH:${org}` }, { exp: null });
    expect((await viewerRole(ageing, fresh)).status).toBe(200);
    const old = await token({ dsync_tenant: `STYTCH:${org}` }, { exp: null, iatSecondsAgo: 3600 });
    const tooOld = await viewerRole(ageing, old);
    expect(tooOld.status).toBe(401);
    expect(tooOld.errors?.[0]?.message).toMatch(/more than JWT_MAX_AGE_SECONDS \(600\) ago/);
    const noAge = await token({ dsync_tenant: `STYTCH:${org}` }, { exp: null, iatSecondsAgo: 0 });
    expect((await viewerRole(ageing, noAge)).status).toBe(200);
  });

  it('fresh tokens of one subject share one allowance; another subject, or the same one in another tenant, has its own', async () => {
    const claimsA = { dsync_tenant: `STYTCH:${a.organizationId}` };
    const statuses: number[] = [];
    // A new token for every request, as a client that refreshes eagerly would send.
    for (let i = 0; i < RATE + 2; i++) statuses.push((await viewerRole(server, await token({ ...claimsA, nonce: i }, { subject: 'alice' }))).status);
    expect(statuses).toEqual([...Array<number>(RATE).fill(200), 429, 429]);
    expect((await viewerRole(server, await token(claimsA, { subject: 'bob' }))).status).toBe(200);
    expect((await viewerRole(server, await token({ dsync_tenant: `STYTCH:${b.organizationId}` }, { subject: 'alice' }))).status).toBe(200);
  });

  it('tokens without a subject share their tenant\'s allowance, not every tenant\'s', async () => {
    const inA = { dsync_tenant: `STYTCH:${a.organizationId}`, purpose: 'no-sub' };
    const statuses: number[] = [];
    for (let i = 0; i < RATE + 1; i++) statuses.push((await viewerRole(server, await token({ ...inA, nonce: i }, { subject: null }))).status);
    expect(statuses).toEqual([...Array<number>(RATE).fill(200), 429]);
    expect((await viewerRole(server, await token({ dsync_tenant: `STYTCH:${b.organizationId}`, purpose: 'no-sub' }, { subject: null }))).status).toBe(200);
  });
});
