// Frontends sign in with their own tokens: JWTs verified against a JWKS served here, with keys
// made at run time (RS256 and ES256), scoped by their claims exactly as API keys are, over HTTP
// and WebSocket. Every refusal says why and serves nothing; a socket's token expiring closes
// it (4403) and the client resumes with a fresh token from its cursor, nothing missed.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backend } from '../support/backend.js';
import { seedStytchOrg, sendAll, stytchEvent, type SeededOrg } from '../support/directory.js';
import { connect, subscribe, type MemberChangedEvent } from '../support/live.js';
import { budget } from '../support/time.js';
import { gql, startTestServer, type TestServer } from '../support/server.js';

const ISSUER = 'https://sign-in.example.test';
const AUDIENCE = 'directory-test';

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;
interface SigningKey {
  kid: string;
  alg: 'RS256' | 'ES256';
  pair: KeyPair;
}

async function signingKey(alg: 'RS256' | 'ES256', kid = `${alg}-${randomBytes(3).toString('hex')}`): Promise<SigningKey> {
  return { kid, alg, pair: await generateKeyPair(alg, { extractable: true }) };
}

/** A JWKS endpoint: serves the public half of `published`, counts its fetches. */
async function jwksServer() {
  const published: JWK[] = [];
  let fetches = 0;
  const http: Server = createServer((_request, response) => {
    fetches++;
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify({ keys: published }));
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/jwks`,
    publish: async (key: SigningKey) => published.push({ ...(await exportJWK(key.pair.publicKey)), kid: key.kid, alg: key.alg, use: 'sig' }),
    get fetches() {
      return fetches;
    },
    close: () => new Promise<void>((resolve) => http.close(() => resolve())),
  };
}

interface TokenOptions {
  key: SigningKey;
  claims?: JWTPayload;
  issuer?: string;
  audience?: string;
  expiresIn?: string | number;
  notBefore?: string | number;
}

const token = ({ key, claims = {}, issuer = ISSUER, audience = AUDIENCE, expiresIn = '10m', notBefore }: TokenOptions) => {
  let jwt = new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid }).setIssuer(issuer).setAudience(audience).setSubject('user-1').setIssuedAt();
  jwt = jwt.setExpirationTime(expiresIn);
  if (notBefore !== undefined) jwt = jwt.setNotBefore(notBefore);
  return jwt.sign(key.pair.privateKey);
};

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

let jwks: Awaited<ReturnType<typeof jwksServer>>;
let rs: SigningKey;
let es: SigningKey;
let server: TestServer;
let a: SeededOrg;
let b: SeededOrg;

beforeAll(async () => {
  jwks = await jwksServer();
  rs = await signingKey('RS256');
  es = await signingKey('ES256');
  await jwks.publish(rs);
  await jwks.publish(es);
  server = await startTestServer({
    env: {
      JWT_JWKS_URL: jwks.url,
      JWT_ISSUER: ISSUER,
      JWT_AUDIENCE: AUDIENCE,
      JWT_ALGORITHMS: 'RS256,ES256',
      JWT_JWKS_COOLDOWN_SECONDS: '0',
      // A socket lasts until exp plus the skew: none, so the expiry test waits only for exp.
      JWT_CLOCK_SKEW_SECONDS: '0',
    },
  });
  a = await seedStytchOrg(server, { members: 2, groups: 1 });
  b = await seedStytchOrg(server, { members: 2, groups: 1 });
});
afterAll(async () => {
  await server?.close();
  await jwks?.close();
});

const TENANTS = `{ tenants { edges { node { id externalId } } } members(first: 50) { edges { node { externalId } } } }`;
const tenantGlobalId = (org: SeededOrg) => Buffer.from(`Tenant:${org.tenantUuid}`).toString('base64url');
const seen = async (jwt: string) => {
  const reply = await gql(server, TENANTS, {}, jwt);
  expect(reply.errors, reply.text).toBeUndefined();
  const data = reply.data as { tenants: { edges: { node: { externalId: string } }[] }; members: { edges: { node: { externalId: string } }[] } };
  return { tenants: data.tenants.edges.map((e) => e.node.externalId), members: data.members.edges.map((e) => e.node.externalId).sort() };
};

describe(`JWT sign-in (${backend})`, () => {
  it('reads exactly its tenant with an RS256 or an ES256 token, whichever way the claim names it', async () => {
    const own = { tenants: [a.organizationId], members: [...a.memberIds].sort() };
    for (const key of [rs, es]) {
      expect(await seen(await token({ key, claims: { dsync_tenant: tenantGlobalId(a) } }))).toEqual(own);
    }
    expect(await seen(await token({ key: rs, claims: { dsync_tenant: `stytch:${a.organizationId}` } }))).toEqual(own);
    expect(await seen(await token({ key: es, claims: { dsync_tenant: { provider: 'stytch', externalId: a.organizationId } } }))).toEqual(own);
    // An admin token sees both.
    const admin = await seen(await token({ key: rs, claims: { dsync_admin: true } }));
    expect(admin.tenants).toEqual(expect.arrayContaining([a.organizationId, b.organizationId]));
  });

  it('refuses every token it should not accept, says why, and serves nothing', async () => {
    const claims = { dsync_tenant: tenantGlobalId(a) };
    const now = Math.floor(Date.now() / 1000);
    const stranger = await signingKey('RS256');
    const rsPem = await exportSPKI(rs.pair.publicKey);
    const unsigned = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ ...claims, iss: ISSUER, aud: AUDIENCE, sub: 'x', exp: now + 600 })}.`;
    // HS/RS confusion: HS256 "signed" with the RSA public key as the secret.
    const confused = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', kid: rs.kid })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime('10m')
      .sign(new TextEncoder().encode(rsPem));
    const good = await token({ key: rs, claims });
    const tampered = `${good.split('.').slice(0, 2).join('.')}.${b64('forged')}`;
    const cases: [string, string, RegExp][] = [
      ['expired', await token({ key: rs, claims, expiresIn: now - 120 }), /expired/],
      ['not yet valid', await token({ key: rs, claims, notBefore: now + 600 }), /not valid yet/],
      ['wrong issuer', await token({ key: rs, claims, issuer: 'https://elsewhere.test' }), /issuer/],
      ['wrong audience', await token({ key: rs, claims, audience: 'another-service' }), /audience/],
      ['unknown key', await token({ key: stranger, claims }), /key \(kid\) the issuer does not publish/],
      ['alg none', unsigned, /algorithm|not a valid JWT/],
      ['HS/RS confusion', confused, /algorithm/],
      ['forged signature', tampered, /signature/],
    ];
    for (const [what, jwt, reason] of cases) {
      const reply = await gql(server, TENANTS, {}, jwt);
      expect(reply.status, what).toBe(401);
      expect(reply.data ?? null, what).toBeNull();
      expect(reply.errors?.[0]?.extensions?.code, what).toBe('UNAUTHENTICATED');
      expect(reply.errors?.[0]?.message, what).toMatch(reason);
      // And over WebSocket: refused at connect with the same reason.
      const { closed, client } = connect(server.url, null, { authorization: `Bearer ${jwt}` });
      const close = await closed;
      expect(close.code, what).toBe(4403);
      await client.dispose();
    }
    // Genuine, but naming no tenant it may read: FORBIDDEN, 403.
    for (const [what, extra] of [
      ['no claim', {}],
      ['a tenant not here', { dsync_tenant: 'stytch:no-such-organization' }],
      ['a claim of the wrong shape', { dsync_tenant: ['a', 'b'] }],
    ] as const) {
      const reply = await gql(server, TENANTS, {}, await token({ key: rs, claims: extra }));
      expect(reply.status, what).toBe(403);
      expect(reply.errors?.[0]?.extensions?.code, what).toBe('FORBIDDEN');
      expect(reply.data ?? null, what).toBeNull();
    }
  });

  it('accepts a key the issuer starts publishing (rotation to a new kid)', async () => {
    const next = await signingKey('RS256');
    const jwt = await token({ key: next, claims: { dsync_tenant: tenantGlobalId(a) } });
    expect((await gql(server, TENANTS, {}, jwt)).status).toBe(401);
    await jwks.publish(next);
    expect((await seen(jwt)).tenants).toEqual([a.organizationId]);
  });

  it('confines a subscription to its tenant, and a socket whose token expires is closed and resumes with a fresh one, nothing missed', async () => {
    const tag = randomBytes(3).toString('hex');
    const member = (org: SeededOrg, id: string) =>
      stytchEvent('member', 'CREATE', id, { member_id: id, organization_id: org.organizationId, email_address: `${id}@jwt.example`, status: 'active' });
    const QUERY = `subscription ($after: String) { memberChanged(after: $after) { cursor member { externalId } } }`;
    // Where the feed ends now: the subscriber starts from there, so it needs no warm-up and
    // whatever it has not heard live when its token runs out, it gets on resuming.
    let start: string | null = null;
    for (let page: { pageInfo: { hasNextPage: boolean; endCursor: string | null } } | undefined; !page || page.pageInfo.hasNextPage; ) {
      const reply = await gql(server, `query ($after: String) { changes(first: 100, after: $after) { pageInfo { hasNextPage endCursor } } }`, { after: start });
      expect(reply.errors, reply.text).toBeUndefined();
      page = (reply.data as { changes: NonNullable<typeof page> }).changes;
      start = page.pageInfo.endCursor ?? start;
    }

    // A token that runs out in a few seconds (however slow this machine, it is refused at
    // connect or closed later with 4403; either way the client resumes from its cursor).
    const shortLived = await token({ key: es, claims: { dsync_tenant: tenantGlobalId(a) }, expiresIn: Math.floor((Date.now() + budget(4000)) / 1000) });
    const first = subscribe<MemberChangedEvent>(server.url, null, QUERY, { after: start }, { authorization: `Bearer ${shortLived}` });
    const ours = [`member-jwt-${tag}-before`];
    // Another tenant's change, which it must never hear.
    await sendAll(server, [member(b, `member-jwt-${tag}-other`), member(a, ours[0]!)]);
    const closed = await first.closed;
    expect(closed.code).toBe(4403);
    expect(closed.reason).toMatch(/expired/);
    // Changes while it was away, one after the other: the pushes are compared in commit order.
    ours.push(...[0, 1, 2].map((n) => `member-jwt-${tag}-missed-${n}`));
    await sendAll(server, ours.slice(1).map((id) => member(a, id)), 1);

    const last = first.events.at(-1)?.memberChanged.cursor ?? start;
    const fresh = await token({ key: rs, claims: { dsync_tenant: tenantGlobalId(a) } });
    const resumed = subscribe<MemberChangedEvent>(server.url, null, QUERY, { after: last }, { authorization: `Bearer ${fresh}` });
    await resumed.waitFor(ours.length - first.events.length);
    const heard = [...first.events, ...resumed.events].map((e) => e.memberChanged.member.externalId);
    expect(heard).toEqual(ours);
    await resumed.close();
  });
});

describe(`JWT sign-in, refusals that are not the token's fault (${backend})`, () => {
  it('answers 503 while the JWKS cannot be fetched, and fetches it no more than its cooldown allows', async () => {
    const keys = await jwksServer();
    const key = await signingKey('ES256');
    await keys.publish(key);
    const url = keys.url;
    const slow = await startTestServer({
      env: { JWT_JWKS_URL: url, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE, JWT_ALGORITHMS: 'ES256', JWT_JWKS_COOLDOWN_SECONDS: '3600' },
    });
    try {
      // Unknown kids, again and again: one fetch, then the cooldown holds.
      for (let n = 0; n < 5; n++) {
        const reply = await gql(slow, TENANTS, {}, await token({ key: await signingKey('ES256'), claims: { dsync_admin: true } }));
        expect(reply.status).toBe(401);
      }
      expect(keys.fetches).toBe(1);
      expect((await gql(slow, TENANTS, {}, await token({ key, claims: { dsync_admin: true } }))).status).toBe(200);
    } finally {
      await slow.close();
      await keys.close();
    }
    const gone = await startTestServer({ env: { JWT_JWKS_URL: url, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE, JWT_ALGORITHMS: 'ES256' } });
    try {
      const reply = await gql(gone, TENANTS, {}, await token({ key, claims: { dsync_admin: true } }));
      expect(reply.status).toBe(503);
      expect(reply.errors?.[0]?.extensions?.code).toBe('SERVICE_UNAVAILABLE');
      expect(reply.errors?.[0]?.message).toMatch(/JWT_JWKS_URL/);
    } finally {
      await gone.close();
    }
  });
});
