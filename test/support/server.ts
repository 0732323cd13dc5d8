// Starts the real service in-process on an ephemeral port, on the test's own database, and
// talks to it over real HTTP.
import { createApiKey, generateApiKey } from '../../src/auth/api-keys.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import type { DatabaseHandle } from '../../src/db/open.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { createSources } from '../../src/sources/index.js';
import type { SourceAdapter } from '../../src/sources/types.js';
import { openTestDatabase, type TestDatabase } from './backend.js';
import {
  newPolisSecret,
  newStytchSecret,
  newSvixId,
  newWorkosSecret,
  workosHeaderValue,
  polisHeaderValue,
  svixSignature,
} from './sign.js';

export interface TestServer {
  url: string;
  server: RunningServer;
  database: DatabaseHandle;
  databaseUrl: string | undefined;
  polisSecret: string;
  stytchSecret: string;
  workosSecret: string;
  /** ADMIN_API_KEY of this server, generated per test run. */
  adminKey: string;
  close(): Promise<void>;
}

export interface TestServerOptions {
  env?: Record<string, string>;
  /** Use this database instead of a fresh one (it is not disposed on close). */
  database?: TestDatabase;
  /** Collects every log line the service writes (set LOG_LEVEL in env to see more). */
  logs?: string[];
  storeTimeoutMs?: number;
  /** The feed follower's backstop poll (0: notifications only, so tests see LISTEN alone at work). */
  feedPollMs?: number;
  /** How long a request may take to arrive (default 30 s). */
  requestTimeoutMs?: number;
  /** See StartOptions.inlineGroupMax. */
  inlineGroupMax?: number;
  /** Replaces the service's webhook readers (given the ones it would use), e.g. with a broken one. */
  wrapSources?: (sources: SourceAdapter[]) => SourceAdapter[];
}

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const polisSecret = newPolisSecret();
  const stytchSecret = newStytchSecret();
  const workosSecret = newWorkosSecret();
  const adminKey = generateApiKey();
  const database = options.database ?? (await openTestDatabase());
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    POLIS_WEBHOOK_SECRET: polisSecret,
    STYTCH_WEBHOOK_SECRET: stytchSecret,
    WORKOS_WEBHOOK_SECRET: workosSecret,
    ADMIN_API_KEY: adminKey,
    LOG_LEVEL: 'silent',
    ...options.env,
  });
  const logs = options.logs;
  // The service's own logger settings (what it leaves out of request lines), writing here.
  const logger = createLogger(config, logs ? { write: (line: string) => void logs.push(line) } : undefined);
  const server = await startServer(config, logger, {
    database: database.handle,
    storeTimeoutMs: options.storeTimeoutMs,
    feedPollMs: options.feedPollMs,
    requestTimeoutMs: options.requestTimeoutMs,
    ...(options.inlineGroupMax !== undefined ? { inlineGroupMax: options.inlineGroupMax } : {}),
    ...(options.wrapSources ? { sources: options.wrapSources(createSources(config)) } : {}),
  });
  return {
    url: server.url,
    server,
    database: database.handle,
    databaseUrl: database.url,
    polisSecret,
    stytchSecret,
    workosSecret,
    adminKey,
    close: async () => {
      await server.close();
      if (!options.database) await database.dispose();
    },
  };
}

/**
 * fetch, sent again once when it went out on a kept-alive connection the server had just closed
 * as idle (ECONNRESET before any answer). On a busy machine the client's timer that retires
 * such connections can fire late, after the server's; a browser resends an idempotent request
 * then too. Only the tests' reads and webhook posts go through here: a resent webhook is a
 * duplicate at worst, which the service answers as such.
 */
export async function fetchResending(url: string | URL, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (error) {
    const code = (error as { cause?: { code?: string } }).cause?.code;
    if (code !== 'ECONNRESET' && code !== 'UND_ERR_SOCKET') throw error;
    return fetch(url, init);
  }
}

export interface Reply {
  status: number;
  body: Record<string, unknown>;
}

export async function post(url: string, body: string | Buffer, headers: Record<string, string>): Promise<Reply> {
  const response = await fetchResending(url, { method: 'POST', headers, body });
  const text = await response.text();
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = { text };
  }
  return { status: response.status, body: parsed };
}

export interface PolisRequest {
  body: string;
  headers: Record<string, string>;
}

/** Signs a Polis payload as Polis does: two headers, computed a millisecond apart. */
export function polisRequest(
  secret: string,
  payload: unknown,
  t = Date.now(),
): PolisRequest {
  const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'BoxyHQ-Signature': polisHeaderValue(secret, t, body),
      'Ory-Polis-Signature': polisHeaderValue(secret, t + 1, body),
    },
  };
}

export interface StytchRequest extends PolisRequest {
  id: string;
}

/** Signs a Stytch payload as Svix does. */
export function stytchRequest(
  secret: string,
  payload: unknown,
  options: { id?: string; at?: Date } = {},
): StytchRequest {
  const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
  const id = options.id ?? newSvixId();
  const at = options.at ?? new Date();
  return {
    id,
    body,
    headers: {
      'content-type': 'application/json',
      'svix-id': id,
      'svix-timestamp': String(Math.floor(at.getTime() / 1000)),
      'svix-signature': svixSignature(secret, id, at, body),
    },
  };
}

export const sendPolis = (server: TestServer, payload: unknown, t?: number) => {
  const r = polisRequest(server.polisSecret, payload, t);
  return post(`${server.url}/webhooks/polis`, r.body, r.headers);
};

export const sendStytch = (server: TestServer, payload: unknown, options?: { id?: string; at?: Date }) => {
  const r = stytchRequest(server.stytchSecret, payload, options);
  return post(`${server.url}/webhooks/stytch`, r.body, r.headers);
};

/** Signs a WorkOS payload with WorkOS's SDK; the body is the JSON it signed. */
export async function workosRequest(secret: string, payload: unknown, t = Date.now()): Promise<PolisRequest> {
  return {
    body: JSON.stringify(payload),
    headers: { 'content-type': 'application/json', 'WorkOS-Signature': await workosHeaderValue(secret, t, payload) },
  };
}

export const sendWorkos = async (server: TestServer, payload: unknown, t?: number) => {
  const r = await workosRequest(server.workosSecret, payload, t);
  return post(`${server.url}/webhooks/workos`, r.body, r.headers);
};

export interface GraphQLReply {
  status: number;
  data?: Record<string, unknown> | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: { code?: string } & Record<string, unknown> }[];
  /** The whole response body as text, for scans. */
  text: string;
  headers: Headers;
}

/** POSTs a GraphQL request to the server, with `key` as the Bearer API key (null: none). */
export async function gql(
  server: Pick<TestServer, 'url' | 'adminKey'>,
  query: string,
  variables: Record<string, unknown> = {},
  key: string | null = server.adminKey,
): Promise<GraphQLReply> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (key !== null) headers.authorization = `Bearer ${key}`;
  const response = await fetchResending(`${server.url}/graphql`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ query, variables }),
  });
  const text = await response.text();
  const body = JSON.parse(text) as Omit<GraphQLReply, 'status' | 'text' | 'headers'>;
  return { status: response.status, text, headers: response.headers, ...body };
}

/** Like gql, but fails the test on any GraphQL error and returns `data`. */
export async function gqlData<T = Record<string, unknown>>(
  server: Pick<TestServer, 'url' | 'adminKey'>,
  query: string,
  variables: Record<string, unknown> = {},
  key?: string | null,
): Promise<T> {
  const reply = await gql(server, query, variables, key);
  if (reply.status !== 200 || reply.errors) {
    throw new Error(`GraphQL request failed (${reply.status}): ${reply.text}`);
  }
  return reply.data as T;
}

/** Creates a database API key confined to one tenant (tenants.id), as `npm run apikey` does. */
export async function tenantKey(server: TestServer, tenantId: string, name = 'test tenant key'): Promise<string> {
  const created = await createApiKey(server.database.db, { name, tenantId });
  return created.key;
}
