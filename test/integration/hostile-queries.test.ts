// A tenant key that asks for expensive reads on purpose: text searches and counts over a big
// tenant, many at once. Searches and counts carry a cost, so piling them into one request is
// refused before anything runs; one key's requests beyond GRAPHQL_MAX_CONCURRENT_PER_KEY are
// answered 429; and meanwhile an honest page from another client is still answered. (Answered,
// not fast: no timing is asserted.)
import net from 'node:net';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memberSearchText, members } from '../../src/db/schema.js';
import { backend } from '../support/backend.js';
import { query } from '../support/db.js';
import { seedStytchOrg, type SeededOrg } from '../support/directory.js';
import { gql, startTestServer, tenantKey, type TestServer } from '../support/server.js';

let server: TestServer;
let big: SeededOrg;
let other: SeededOrg;
let bigKey: string;
let otherKey: string;
const MEMBERS = 20_000;

beforeAll(async () => {
  server = await startTestServer({ env: { GRAPHQL_MAX_CONCURRENT_PER_KEY: '2' } });
  big = await seedStytchOrg(server, { members: 1, groups: 0 });
  other = await seedStytchOrg(server, { members: 3, groups: 1 });
  // A big tenant, written straight into the table: the webhook path is not what this is about.
  await query(
    server.database,
    sql`insert into members (provider, external_id, tenant_id, email, name, status, data_hash, live_version, data_version)
        select 'STYTCH', 'member-big-' || i, ${big.tenantUuid}::uuid, 'person' || i || '@big.example', 'Person ' || i, 'ACTIVE',
               md5(i::text), '00000000000000000001.000000', '00000000000000000001.000000'
        from generate_series(1, ${MEMBERS}) as i`,
  );
  [bigKey, otherKey] = await Promise.all([tenantKey(server, big.tenantUuid, 'big'), tenantKey(server, other.tenantUuid, 'other')]);
});
afterAll(() => server?.close());

const searches = (n: number, tag: string) =>
  `{ ${Array.from({ length: n }, (_, i) => `s${i}: members(first: 100, filter: { search: "zz${tag}${i}" }) { totalCount edges { node { id } } }`).join(' ')} }`;

describe(`hostile reads (${backend})`, () => {
  it('fifteen aliased searches with counts in one request are refused before anything runs', async () => {
    const reply = await gql(server, searches(15, 'a'), {}, bigKey);
    expect(reply.status).toBe(400);
    expect(reply.errors?.[0]).toMatchObject({ extensions: { code: 'GRAPHQL_VALIDATION_FAILED', limit: 'GRAPHQL_MAX_COST' } });
  });

  it("one key's requests beyond GRAPHQL_MAX_CONCURRENT_PER_KEY are 429; another key is served meanwhile", async () => {
    // Two requests in progress for certain: their headers are in, their bodies still coming.
    const body = JSON.stringify({ query: searches(3, 'held') });
    const url = new URL(server.url);
    const hold = () => {
      const socket = net.connect(Number(url.port), url.hostname);
      const state = { answer: '' };
      socket.on('data', (chunk: Buffer) => (state.answer += chunk.toString()));
      const ended = new Promise<string>((resolve) => socket.on('close', () => resolve(state.answer)));
      socket.write(
        `POST /graphql HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${bigKey}\r\nContent-Type: application/json\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body.slice(0, 10)}`,
      );
      return { socket, state, ended };
    };
    const held = [hold(), hold()];
    let third = await gql(server, '{ viewer { role } }', {}, bigKey);
    // A probe can overtake a held request's headers; that one is then the refused one, and is
    // held again, until both are in progress and the probe is the one refused.
    for (let i = 0; third.status !== 429 && i < 200; i++) {
      held.forEach((h, j) => {
        if (h.state.answer.startsWith('HTTP/1.1 429')) held[j] = hold();
      });
      await new Promise((r) => setTimeout(r, 25));
      third = await gql(server, '{ viewer { role } }', {}, bigKey);
    }
    expect(third.status).toBe(429);
    expect(third.errors?.[0]).toMatchObject({ extensions: { code: 'TOO_MANY_REQUESTS', limit: 'GRAPHQL_MAX_CONCURRENT_PER_KEY', maximum: 2 } });
    // The same key spelled otherwise is the same key: refused too.
    for (const authorization of [`bearer     ${bigKey}`, `BEARER\t${bigKey}`]) {
      const respelled = await fetch(`${server.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization }, body: JSON.stringify({ query: '{ viewer { role } }' }) });
      expect(respelled.status).toBe(429);
    }

    const page = await gql(server, '{ members(first: 10) { edges { node { email } } } }', {}, otherKey);
    expect(page.status).toBe(200);
    expect((page.data as { members: { edges: unknown[] } }).members.edges).toHaveLength(3);

    // The held requests finish and are answered in full; the key has room again.
    for (const { socket } of held) socket.write(body.slice(10));
    for (const { ended } of held) expect(await ended).toMatch(/^HTTP\/1\.1 200[\s\S]*"s2":\s*\{\s*"totalCount"\s*:\s*0,\s*"edges"\s*:\s*\[\]\s*\}/);
    expect((await gql(server, '{ viewer { role } }', {}, bigKey)).status).toBe(200);
  });

  it('a pile of searches from one key at once: each answered in full or refused 429, and another client is answered', async () => {
    const hostile = Array.from({ length: 24 }, (_, i) => gql(server, searches(3, `b${i}`), {}, bigKey));
    const honest = gql(server, '{ members(first: 10) { edges { node { email } } } }', {}, otherKey);
    const [page, ...replies] = await Promise.all([honest, ...hostile]);
    expect(page.status).toBe(200);
    expect((page.data as { members: { edges: unknown[] } }).members.edges).toHaveLength(3);
    for (const reply of replies) {
      if (reply.status === 429) continue;
      expect(reply.status, reply.text).toBe(200);
      expect(reply.data).toEqual({ s0: { totalCount: 0, edges: [] }, s1: { totalCount: 0, edges: [] }, s2: { totalCount: 0, edges: [] } });
    }
  });

  it('an honest search over the big tenant is answered, through the trigram index', async () => {
    const reply = await gql(server, '{ members(first: 5, filter: { search: "person1999" }) { totalCount edges { node { email } } } }', {}, bigKey);
    expect(reply.errors).toBeUndefined();
    expect((reply.data as { members: { totalCount: number } }).members.totalCount).toBe(11);
    // The filter's text is the index's expression, so the planner can use it. (Vacuum first,
    // as autovacuum would: rows written in bulk wait in the GIN index's pending list, which
    // the planner rightly counts as a cost until it is merged.)
    await query(server.database, sql`vacuum analyze members`);
    const plan = await query(
      server.database,
      sql`explain select id from members where tenant_id = ${big.tenantUuid}::uuid and ${memberSearchText(members)} ilike ${'%person1999%'}`,
    );
    expect(JSON.stringify(plan)).toContain('members_search_trgm');
  });
});
