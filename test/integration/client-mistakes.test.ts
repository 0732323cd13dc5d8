// A client's mistake is the client's: forged or out-of-range cursors, unknown fields and
// operations are BAD_USER_INPUT (or a validation error) with a clear message, on root lists,
// nested lists, the change feed and deliveries alike; and they are never logged as the
// server's failure (nothing above info level, no SQL), so a key holder cannot flood the error log.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backend } from '../support/backend.js';
import { seedStytchOrg } from '../support/directory.js';
import { gql, startTestServer, type TestServer } from '../support/server.js';

const logs: string[] = [];
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ env: { LOG_LEVEL: 'debug' }, logs });
  await seedStytchOrg(server, { members: 2, groups: 1 });
});
afterAll(() => server?.close());

const cursor = (value: unknown[]) => Buffer.from(JSON.stringify(value)).toString('base64url');
const uuid = randomUUID();
const forged = [
  ['far beyond any date', cursor(['r', 9e15, uuid])],
  ['year 10000', cursor(['r', Date.UTC(10000, 0, 1), uuid])],
  ['a negative year', cursor(['r', Date.UTC(-1, 0, 1), uuid])],
  ['before 1970', cursor(['r', -1, uuid])],
  ['a fraction', cursor(['r', 1.5, uuid])],
  ['not a uuid', cursor(['r', 1, 'x'])],
  ['a feed cursor past any integer', cursor(['s', 2 ** 60])],
] as const;

const lists = [
  (c: string) => `{ members(after: "${c}") { totalCount } }`,
  (c: string) => `{ tenants(before: "${c}", last: 2) { totalCount } }`,
  (c: string) => `{ tenants(first: 1) { edges { node { members(after: "${c}") { totalCount } } } } }`,
  (c: string) => `{ deliveries(after: "${c}") { totalCount } }`,
  (c: string) => `{ changes(after: "${c}") { totalCount } }`,
];

describe(`client mistakes (${backend})`, () => {
  it.each(forged)('a forged cursor (%s) is BAD_USER_INPUT on every list', async (_name, value) => {
    for (const list of lists) {
      const query = list(value);
      const reply = await gql(server, query);
      expect(reply.status, query).toBe(200);
      const codes = (reply.errors ?? []).map((e) => e.extensions?.code);
      expect(codes, `${query}: ${reply.text}`).toEqual(['BAD_USER_INPUT']);
    }
  });

  it('an unknown mutation or field is a validation error, not an internal one', async () => {
    for (const query of ['mutation { x }', '{ x }', 'subscription { x }']) {
      const reply = await gql(server, query);
      expect(reply.status, query).toBe(400);
      expect(reply.errors?.[0]?.extensions?.code, reply.text).toBe('GRAPHQL_VALIDATION_FAILED');
    }
  });

  it('a string filter Postgres cannot hold (NUL, half a surrogate pair) or too long is BAD_USER_INPUT naming it, on every list', async () => {
    const cases: [string, string, string][] = [
      ['members', 'search', 'a\u0000b'],
      ['members', 'email', 'x\u0000@example.test'],
      ['members', 'externalId', '\u0000'],
      ['members', 'search', 'half \ud800 a pair'],
      ['members', 'search', 'x'.repeat(101)],
      ['members', 'externalId', 'x'.repeat(257)],
      ['tenants', 'search', 'a\u0000'],
      ['tenants', 'externalId', 'a\u0000'],
      ['connections', 'search', 'a\u0000'],
      ['connections', 'externalId', 'a\u0000'],
      ['groups', 'search', '\udc00'],
      ['groups', 'externalId', 'a\u0000'],
    ];
    for (const [list, field, value] of cases) {
      const reply = await gql(server, `query ($v: String) { ${list}(first: 1, filter: { ${field}: $v }) { totalCount } }`, { v: value });
      expect(reply.errors?.[0], `${list} ${field}: ${reply.text}`).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', argument: `filter.${field}` } });
    }
    const deliveries = await gql(server, 'query ($v: String) { deliveries(filter: { source: $v }) { totalCount } }', { v: 'po\u0000lis' });
    expect(deliveries.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    // A search of a hundred characters is still answered.
    const long = await gql(server, 'query ($v: String) { members(first: 1, filter: { search: $v }) { totalCount } }', { v: 'x'.repeat(100) });
    expect(long.errors).toBeUndefined();
  });

  it('logged none of it above info level, and no SQL', () => {
    expect(logs.length).toBeGreaterThan(0);
    const loud = logs.filter((line) => (JSON.parse(line) as { level: number }).level > 30);
    expect(loud).toEqual([]);
    expect(logs.filter((line) => /\bselect\b|\bfrom "/i.test(line))).toEqual([]);
  });
});
