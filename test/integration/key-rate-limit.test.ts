// One key asking quickly: past GRAPHQL_RATE_PER_KEY requests a minute it is answered 429 with
// Retry-After (HTTP), or its operation fails and its new sockets are closed 4429 (WebSocket),
// each with a message naming the limit; other keys are served as before. HTTP and WebSocket
// count apart, so a page's queries do not use up its live updates.
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backend } from '../support/backend.js';
import { seedStytchOrg, type SeededOrg } from '../support/directory.js';
import { connect, subscribe } from '../support/live.js';
import { gql, startTestServer, tenantKey, type TestServer } from '../support/server.js';

const RATE = 6;
let server: TestServer;
let org: SeededOrg;

beforeAll(async () => {
  server = await startTestServer({ env: { GRAPHQL_RATE_PER_KEY: String(RATE) } });
  org = await seedStytchOrg(server, { members: 2, groups: 0 });
});
afterAll(() => server?.close());

/** Runs one query over the socket; resolves with its data or its errors. */
const over = (client: Client, query: string) =>
  new Promise<{ data?: unknown; errors?: { message: string; extensions?: Record<string, unknown> }[] }>((resolve) => {
    let data: unknown;
    client.subscribe(
      { query },
      {
        next: (result) => (data = result.data),
        error: (error) => resolve({ errors: error as { message: string; extensions?: Record<string, unknown> }[] }),
        complete: () => resolve({ data }),
      },
    );
  });

describe(`per-key request rate (${backend})`, () => {
  it('HTTP: the request past the limit is 429 with Retry-After and a message naming the limit; another key is served', async () => {
    const [hurried, calm] = await Promise.all([tenantKey(server, org.tenantUuid, 'hurried'), tenantKey(server, org.tenantUuid, 'calm')]);
    for (let i = 0; i < RATE; i++) {
      const reply = await gql(server, '{ viewer { role } }', {}, hurried);
      expect(reply.status, reply.text).toBe(200);
    }
    const refused = await gql(server, '{ members(first: 5) { totalCount } }', {}, hurried);
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.data).toBeUndefined();
    expect(refused.errors?.[0]).toMatchObject({
      message: expect.stringMatching(/GRAPHQL_RATE_PER_KEY.*retry in \d+ s/),
      extensions: { code: 'TOO_MANY_REQUESTS', limit: 'GRAPHQL_RATE_PER_KEY', maximum: RATE, retryAfterSeconds: retryAfter },
    });

    const served = await gql(server, '{ members(first: 5) { totalCount } }', {}, calm);
    expect(served.status).toBe(200);
    expect(served.data).toEqual({ members: { totalCount: 2 } });
  });

  it('counts the key, not how its header is spelled: every spelling the service accepts shares one allowance', async () => {
    const key = await tenantKey(server, org.tenantUuid, 'spelled');
    const spellings = [`Bearer ${key}`, `bearer ${key}`, `BEARER ${key}`, `Bearer\t${key}`, `bearer    ${key}`, `BeArEr  \t ${key}`, `Bearer ${key}  `];
    const ask = (authorization: string) =>
      fetch(`${server.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization }, body: JSON.stringify({ query: '{ viewer { role } }' }) });
    const statuses: number[] = [];
    for (const spelling of spellings) statuses.push((await ask(spelling)).status);
    // Each spelling is the same key: RATE of them served, the rest refused, whatever the spelling.
    expect(statuses).toEqual([...Array<number>(RATE).fill(200), ...Array<number>(spellings.length - RATE).fill(429)]);
    expect((await ask(`bearer \t  ${key}`)).status).toBe(429);
  });

  it('WebSocket: opens and operations count together; past the limit the operation fails and a new socket is closed 4429', async () => {
    const key = await tenantKey(server, org.tenantUuid, 'live');
    // Its HTTP budget spent first: the socket's is its own.
    for (let i = 0; i < RATE; i++) await gql(server, '{ viewer { role } }', {}, key);
    expect((await gql(server, '{ viewer { role } }', {}, key)).status).toBe(429);

    const { client } = connect(server.url, key);
    try {
      // The open took one; RATE - 1 operations fit.
      for (let i = 0; i < RATE - 1; i++) expect(await over(client, '{ viewer { role } }')).toEqual({ data: { viewer: { role: 'TENANT' } } });
      const refused = await over(client, '{ viewer { role } }');
      expect(refused.data).toBeUndefined();
      expect(refused.errors?.[0]).toMatchObject({
        message: expect.stringMatching(/GRAPHQL_RATE_PER_KEY/),
        extensions: { code: 'TOO_MANY_REQUESTS', limit: 'GRAPHQL_RATE_PER_KEY', maximum: RATE },
      });
    } finally {
      await client.dispose();
    }

    const late = subscribe(server.url, key, 'subscription { memberChanged { cursor } }');
    expect(await late.closed).toMatchObject({ code: 4429, reason: expect.stringMatching(/GRAPHQL_RATE_PER_KEY/) });

    // Another key opens and subscribes as usual.
    const other = subscribe(server.url, await tenantKey(server, org.tenantUuid, 'other-live'), '{ viewer { role } }');
    await other.done;
    expect(other.errors).toEqual([]);
    expect(other.events).toEqual([{ viewer: { role: 'TENANT' } }]);
  });
});
