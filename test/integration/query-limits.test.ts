// Abusive GraphQL operations are refused with a clear error before any resolver runs, over HTTP
// and over WebSocket alike, while the queries a real client sends (GraphiQL's introspection,
// a page of members with their groups) pass under the default limits.
import { getIntrospectionQuery } from 'graphql';
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { backend } from '../support/backend.js';
import { seedStytchOrg } from '../support/directory.js';
import { connect, eventually, subscribe, wsUrl } from '../support/live.js';
import { gql, startTestServer, type GraphQLReply, type TestServer } from '../support/server.js';

interface WsResult {
  data?: unknown;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

/** Runs one operation on an open graphql-ws client and returns its first result or its errors. */
function runOver(client: Client, query: string, variables: Record<string, unknown> = {}): Promise<WsResult> {
  return new Promise((resolve) => {
    let first: WsResult | undefined;
    const stop = client.subscribe(
      { query, variables },
      {
        next: (result) => {
          first ??= result as WsResult;
          // A subscription keeps going: one result is enough to know it was accepted.
          stop();
          resolve(first);
        },
        error: (error) => resolve({ errors: (Array.isArray(error) ? error : [error]) as WsResult['errors'] }),
        complete: () => resolve(first ?? {}),
      },
    );
  });
}

/** Fields under a tenant, nested so that the whole query below is `depth` deep. */
const underTenant = (depth: number) => {
  // tenants > edges > node > members > edges > node > groups > edges > node > members > ...
  const levels = ['members', 'edges', 'node', 'groups', 'edges', 'node'];
  let inner = '__typename';
  for (let i = depth - 4; i > 0; i--) inner = `${levels[(i - 1) % levels.length]} { ${inner} }`;
  return inner;
};
const nest = (depth: number) => `{ tenants(first: 1) { edges { node { ${underTenant(depth)} } } } }`;
const depthOf = (query: string) => query.match(/\{/g)?.length ?? 0;

const codeOf = (reply: Pick<GraphQLReply, 'errors'> | WsResult) => reply.errors?.[0]?.extensions?.code;

describe(`query limits (${backend})`, () => {
  let server: TestServer;
  let ws: Client;

  beforeAll(async () => {
    server = await startTestServer({ env: { WS_MAX_SUBSCRIPTIONS: '3' } });
    await seedStytchOrg(server, { members: 3, groups: 2 });
    ({ client: ws } = connect(server.url, server.adminKey));
  });
  afterAll(async () => {
    await ws?.dispose();
    await server?.close();
  });

  /** The same operation over both transports: both refuse it with the same code and message. */
  async function refusedOnBoth(query: string, variables: Record<string, unknown> = {}) {
    const http = await gql(server, query, variables);
    const overWs = await runOver(ws, query, variables);
    expect(http.status).toBe(400);
    expect(http.data).toBeUndefined();
    expect(overWs.data).toBeUndefined();
    expect(codeOf(overWs)).toBe(codeOf(http));
    expect(overWs.errors?.[0]?.message).toBe(http.errors?.[0]?.message);
    return http;
  }

  it('accepts what real clients send: GraphiQL\'s introspection and a nested page', async () => {
    const introspection = getIntrospectionQuery({ descriptions: true, inputValueDeprecation: true, specifiedByUrl: true });
    const reply = await gql(server, introspection);
    expect(reply.status).toBe(200);
    expect(reply.errors).toBeUndefined();
    const nested = `{ members(first: 100) { totalCount edges { cursor node { id email groups(first: 20) { edges { node { id name members(first: 5) { totalCount } } } } } } } }`;
    const page = await gql(server, nested);
    expect(page.errors).toBeUndefined();
    expect((page.data as { members: { totalCount: number } }).members.totalCount).toBe(3);
    expect((await runOver(ws, nested)).errors).toBeUndefined();
  });

  it('refuses a query nested deeper than GRAPHQL_MAX_DEPTH (12), saying so', async () => {
    expect(depthOf(nest(12))).toBe(12);
    expect((await gql(server, nest(12))).errors).toBeUndefined();
    const reply = await refusedOnBoth(nest(13));
    expect(codeOf(reply)).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(reply.errors?.[0]?.message).toBe('query depth 13 is above the limit of 12 (GRAPHQL_MAX_DEPTH)');
    // Fragments neither hide depth nor add to it.
    const viaFragments = (depth: number) =>
      `query { ...A } fragment A on Query { tenants(first: 1) { edges { node { ...B } } } } fragment B on Tenant { ${underTenant(depth)} }`;
    expect((await gql(server, viaFragments(12))).errors).toBeUndefined();
    const fragmentReply = await gql(server, viaFragments(13));
    expect(fragmentReply.status).toBe(400);
    expect(fragmentReply.errors?.[0]?.message).toBe('query depth 13 is above the limit of 12 (GRAPHQL_MAX_DEPTH)');
  });

  it('refuses more than GRAPHQL_MAX_ALIASES (15) aliases', async () => {
    const aliases = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: tenants(first: 1) { totalCount }`).join(' ')} }`;
    expect((await gql(server, aliases(15))).errors).toBeUndefined();
    const reply = await refusedOnBoth(aliases(16));
    expect(reply.errors?.[0]?.message).toBe('number of aliases 16 is above the limit of 15 (GRAPHQL_MAX_ALIASES)');
  });

  it('refuses more than GRAPHQL_MAX_DIRECTIVES (25) directives', async () => {
    const directives = (n: number) => `{ tenants(first: 1) { totalCount ${'@include(if: true) '.repeat(n)} } }`;
    const reply = await refusedOnBoth(directives(26));
    expect(reply.errors?.some((e) => e.message === 'number of directives 26 is above the limit of 25 (GRAPHQL_MAX_DIRECTIVES)')).toBe(true);
  });

  it('refuses a document of more than GRAPHQL_MAX_TOKENS (2000) tokens before parsing it whole', async () => {
    // Fields repeated: each is one token, and merging them costs nothing once parsed.
    const reply = await refusedOnBoth(`{ tenants(first: 1) { ${'totalCount '.repeat(2100)} } }`);
    expect(codeOf(reply)).toBe('GRAPHQL_PARSE_FAILED');
    expect(reply.errors?.[0]?.message).toMatch(/Document contains more th.t 2000 tokens/);
  });

  it('refuses a query that could load more than GRAPHQL_MAX_COST (50,000) objects, counting page sizes from variables', async () => {
    const query = `query ($n: Int) { members(first: 100) { edges { node { groups(first: $n) { edges { node { members(first: $n) { edges { node { id } } } } } } } } } }`;
    // 100 members x n groups x n members each.
    expect((await gql(server, query, { n: 5 })).errors).toBeUndefined();
    const reply = await refusedOnBoth(query, { n: 20 });
    expect(codeOf(reply)).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(reply.errors?.[0]?.message).toMatch(/^query cost \(objects it may load\) 86301 is above the limit of 50000 \(GRAPHQL_MAX_COST\)$/);
    // Aliases, each within the limit, add up.
    const page = 'members(first: 100) { edges { node { groups(first: 20) { edges { node { id } } } } } }';
    expect((await gql(server, `{ ${page} }`)).errors).toBeUndefined();
    const many = await gql(server, `{ ${Array.from({ length: 15 }, (_, i) => `a${i}: ${page}`).join(' ')} }`);
    expect(many.status).toBe(400);
    expect(many.errors?.[0]?.message).toMatch(/^query cost \(objects it may load\) 64515 is above/);
  });

  it('answers a batched HTTP request with 400: one operation per request', async () => {
    const response = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${server.adminKey}` },
      body: JSON.stringify([{ query: '{ tenants { totalCount } }' }, { query: '{ members { totalCount } }' }]),
    });
    expect(response.status).toBe(400);
    expect(await response.text()).toMatch(/batching/i);
  });

  it('answers an HTTP body over 64 KiB with 413 and a JSON error', async () => {
    const response = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${server.adminKey}` },
      body: JSON.stringify({ query: '{ tenants { totalCount } }', variables: { pad: 'x'.repeat(70 * 1024) } }),
    });
    expect(response.status).toBe(413);
    expect(await response.json()).toEqual({ error: 'body is larger than 64 KiB' });
  });

  it('keeps the socket open after refusing an operation: the next one on it works', async () => {
    // Raw protocol messages on one socket, so nothing can quietly reconnect in between.
    const socket = new WebSocket(wsUrl(server.url), 'graphql-transport-ws');
    const messages: { id?: string; type: string; payload?: unknown }[] = [];
    socket.on('message', (data: Buffer) => void messages.push(JSON.parse(data.toString())));
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    const waitFor = async (type: string, id?: string) => {
      await eventually(() => messages.some((m) => m.type === type && m.id === id), 5000, `a ${type} message${id ? ` for ${id}` : ''}`);
      return messages.find((m) => m.type === type && m.id === id);
    };
    socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${server.adminKey}` } }));
    expect(await waitFor('connection_ack')).toBeDefined();
    socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: nest(20) } }));
    const refused = await waitFor('error', '1');
    expect((refused?.payload as { extensions: { code: string } }[])[0]?.extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    socket.send(JSON.stringify({ id: '2', type: 'subscribe', payload: { query: '{ tenants { totalCount } }' } }));
    expect((await waitFor('next', '2'))?.payload).toEqual({ data: { tenants: { totalCount: 1 } } });
    expect(socket.readyState).toBe(WebSocket.OPEN);
    socket.close();
  });

  it('caps operations per socket at WS_MAX_SUBSCRIPTIONS, with an error for the one too many', async () => {
    const { client, closed: socketClosed } = connect(server.url, server.adminKey);
    const received: unknown[][] = [[], [], []];
    const stops = received.map((events) =>
      client.subscribe({ query: 'subscription { memberChanged { cursor } }' }, { next: (r) => void events.push(r), error: () => {}, complete: () => {} }),
    );
    const extra = await runOver(client, 'subscription { groupChanged { cursor } }');
    expect(codeOf(extra)).toBe('TOO_MANY_SUBSCRIPTIONS');
    expect(extra.errors?.[0]?.message).toMatch(/already runs 3 operations, the limit \(WS_MAX_SUBSCRIPTIONS\)/);
    // Completing one makes room (once the server has read the completion, which it does in
    // the socket's order, before the next operation).
    stops[0]!();
    const again = await runOver(client, '{ tenants { totalCount } }');
    expect(again.errors).toBeUndefined();
    for (const stop of stops) stop();
    await client.dispose();
    expect((await socketClosed).code).toBe(1000);
  });

  it('closes a socket that sends a message over 64 KiB with 1009', async () => {
    const socket = new WebSocket(wsUrl(server.url), 'graphql-transport-ws');
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    const code = new Promise<number>((resolve) => socket.once('close', (c) => resolve(c)));
    socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${server.adminKey}`, pad: 'x'.repeat(65 * 1024) } }));
    expect(await code).toBe(1009);
  });
});

describe(`introspection switch (${backend})`, () => {
  const introspect = '{ __schema { queryType { name } } }';

  async function introspectionOn(env: Record<string, string>): Promise<{ http: GraphQLReply; ws: WsResult }> {
    const server = await startTestServer({ env });
    const { client } = connect(server.url, server.adminKey);
    try {
      return { http: await gql(server, introspect), ws: await runOver(client, introspect) };
    } finally {
      await client.dispose();
      await server.close();
    }
  }

  it('is off under NODE_ENV=production, over HTTP and WebSocket, while ordinary queries work', async () => {
    const server = await startTestServer({ env: { NODE_ENV: 'production' } });
    const sub = subscribe(server.url, server.adminKey, 'subscription { __schema { queryType { name } } }');
    try {
      const reply = await gql(server, introspect);
      expect(reply.status).toBe(400);
      expect(codeOf(reply)).toBe('GRAPHQL_VALIDATION_FAILED');
      expect(reply.errors?.[0]?.message).toMatch(/introspection/i);
      const { client } = connect(server.url, server.adminKey);
      const overWs = await runOver(client, introspect);
      await client.dispose();
      expect(codeOf(overWs)).toBe('GRAPHQL_VALIDATION_FAILED');
      expect(overWs.errors?.[0]?.message).toMatch(/introspection/i);
      expect((await gql(server, '{ tenants { totalCount } }')).errors).toBeUndefined();
      await sub.done;
      expect(sub.events).toEqual([]);
    } finally {
      await sub.close();
      await server.close();
    }
  });

  it('is on in production with GRAPHQL_INTROSPECTION=true, and off in development with false', async () => {
    const on = await introspectionOn({ NODE_ENV: 'production', GRAPHQL_INTROSPECTION: 'true' });
    expect(on.http.data).toEqual({ __schema: { queryType: { name: 'Query' } } });
    expect(on.ws.data).toEqual({ __schema: { queryType: { name: 'Query' } } });
    const off = await introspectionOn({ NODE_ENV: 'development', GRAPHQL_INTROSPECTION: 'false' });
    expect(off.http.status).toBe(400);
    expect(codeOf(off.ws)).toBe('GRAPHQL_VALIDATION_FAILED');
  });
});
