// Starts the real service in-process on an ephemeral port, on the test's own database, and
// talks to it over real HTTP.
import { pino } from 'pino';
import { loadConfig } from '../../src/config.js';
import type { DatabaseHandle } from '../../src/db/open.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { openTestDatabase, type TestDatabase } from './backend.js';
import {
  newPolisSecret,
  newStytchSecret,
  newSvixId,
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
  close(): Promise<void>;
}

export interface TestServerOptions {
  env?: Record<string, string>;
  /** Use this database instead of a fresh one (it is not disposed on close). */
  database?: TestDatabase;
  /** Collects every log line the service writes (set LOG_LEVEL in env to see more). */
  logs?: string[];
  storeTimeoutMs?: number;
}

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const polisSecret = newPolisSecret();
  const stytchSecret = newStytchSecret();
  const database = options.database ?? (await openTestDatabase());
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    POLIS_WEBHOOK_SECRET: polisSecret,
    STYTCH_WEBHOOK_SECRET: stytchSecret,
    LOG_LEVEL: 'silent',
    ...options.env,
  });
  const logs = options.logs;
  const logger = logs
    ? pino({ level: config.logLevel }, { write: (line: string) => void logs.push(line) })
    : pino({ level: config.logLevel });
  const server = await startServer(config, logger, {
    database: database.handle,
    storeTimeoutMs: options.storeTimeoutMs,
  });
  return {
    url: server.url,
    server,
    database: database.handle,
    databaseUrl: database.url,
    polisSecret,
    stytchSecret,
    close: async () => {
      await server.close();
      if (!options.database) await database.dispose();
    },
  };
}

export interface Reply {
  status: number;
  body: Record<string, unknown>;
}

export async function post(url: string, body: string | Buffer, headers: Record<string, string>): Promise<Reply> {
  const response = await fetch(url, { method: 'POST', headers, body });
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
