// Keys, tokens and GraphQL variables never reach the logs, wherever a client puts them: the
// query string (`?authorization=Bearer ...`, which is rightly ignored for authentication, and a
// GET request's `query` and `variables`), headers, bodies, WebSocket connection parameters.
// Logged at the most verbose level, then every line searched.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backend } from '../support/backend.js';
import { subscribe } from '../support/live.js';
import { gql, startTestServer, type TestServer } from '../support/server.js';

const logs: string[] = [];
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ env: { LOG_LEVEL: 'trace' }, logs });
});
afterAll(() => server?.close());

describe(`what the logs never hold (${backend})`, () => {
  it('no key, token or variable from a URL, header, body or WebSocket', async () => {
    const marker = `variable-${randomBytes(8).toString('hex')}`;
    const token = `token-${randomBytes(8).toString('hex')}`;
    const key = server.adminKey;
    const query = 'query ($s: String) { members(first: 1, filter: { search: $s }) { totalCount } }';
    const qs = new URLSearchParams({ authorization: `Bearer ${key}`, query, variables: JSON.stringify({ s: marker }), token });
    await fetch(`${server.url}/graphql?${qs}`, { headers: { 'apollo-require-preflight': 'true', authorization: `Bearer ${key}` } });
    await fetch(`${server.url}/graphql?${qs}`, { method: 'POST', headers: { 'content-type': 'application/json', cookie: `session=${token}` }, body: JSON.stringify({ query, variables: { s: marker } }) });
    await fetch(`${server.url}/healthz?api_key=${key}`);
    await fetch(`${server.url}/nowhere?access_token=${token}`);
    await gql(server, query, { s: marker });
    await gql(server, query, { s: marker }, `${key}x`);
    const live = subscribe(server.url, key, 'subscription ($t: String) { memberChanged(after: $t) { cursor } }', { t: marker });
    await live.done.catch(() => undefined);
    await live.close();

    expect(logs.some((line) => line.includes('/graphql'))).toBe(true);
    for (const secret of [key, token, marker]) {
      expect(logs.filter((line) => line.includes(secret))).toEqual([]);
    }
  });
});
