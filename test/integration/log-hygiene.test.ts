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

// The default level shows what an operator acts on: refused and failed requests, not each one
// answered, which would scroll the banner (the local key, the secrets) out of the terminal.
describe(`what the logs hold at the default level (${backend})`, () => {
  it('a refused request, not the answered ones', async () => {
    const lines: string[] = [];
    const quiet = await startTestServer({ env: { LOG_LEVEL: 'info' }, logs: lines });
    try {
      for (let i = 0; i < 5; i++) expect((await gql(quiet, '{ viewer { role } }')).status).toBe(200);
      expect((await fetch(`${quiet.url}/healthz`)).status).toBe(200);
      expect((await gql(quiet, '{ viewer { role } }', {}, 'dsk_not-a-key')).status).toBe(401);
      const requests = lines.map((l) => JSON.parse(l) as { msg: string; level: number; res?: { statusCode: number } }).filter((l) => /request/.test(l.msg));
      expect(requests).toEqual([expect.objectContaining({ msg: 'request completed', level: 30, res: { statusCode: 401 } })]);
    } finally {
      await quiet.close();
    }
  });
});
