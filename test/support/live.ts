// Subscribes to the running service over a real WebSocket with the real graphql-ws client, and
// collects what is pushed, for tests to wait on and inspect.
import type { Socket } from 'node:net';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { budget } from './time.js';

export interface Closed {
  code: number;
  reason: string;
}

export interface LiveSubscription<T> {
  /** Payloads (`data`) received, in order. */
  events: T[];
  /** GraphQL errors the server sent for the operation, if it failed. */
  errors: unknown[];
  /** Resolves when the operation completes, fails, or the socket closes. */
  done: Promise<void>;
  /** Resolves with the socket's close code and reason once it closes. */
  closed: Promise<Closed>;
  /**
   * Waits until at least `n` events arrived; fails with what did arrive if they have not after
   * `timeoutMs` (on the reference machine: scaled, see time.ts).
   */
  waitFor(n: number, timeoutMs?: number): Promise<T[]>;
  /** Unsubscribes and closes the socket. */
  close(): Promise<void>;
}

export const wsUrl = (httpUrl: string) => `${httpUrl.replace(/^http/, 'ws')}/graphql`;

/** graphql-ws client on its own socket; `key` null sends no connection params. */
export function connect(httpUrl: string, key: string | null, params?: Record<string, unknown>): { client: Client; closed: Promise<Closed> } {
  let onClosed: (c: Closed) => void = () => {};
  const closed = new Promise<Closed>((resolve) => (onClosed = resolve));
  const client = createClient({
    url: wsUrl(httpUrl),
    webSocketImpl: WebSocket,
    connectionParams: params ?? (key === null ? undefined : { authorization: `Bearer ${key}` }),
    lazy: false,
    retryAttempts: 0,
    // Tests assert close codes: report the first close, never reconnect.
    shouldRetry: () => false,
    on: {
      closed: (event) => {
        const e = event as { code?: number; reason?: string | Buffer };
        onClosed({ code: e.code ?? 0, reason: String(e.reason ?? '') });
      },
    },
    onNonLazyError: () => {},
  });
  return { client, closed };
}

export function subscribe<T = Record<string, unknown>>(
  httpUrl: string,
  key: string | null,
  query: string,
  variables: Record<string, unknown> = {},
  params?: Record<string, unknown>,
  extensions?: Record<string, unknown>,
): LiveSubscription<T> {
  const { client, closed } = connect(httpUrl, key, params);
  const events: T[] = [];
  const errors: unknown[] = [];
  const waiters = new Set<() => void>();
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => (finish = resolve));
  void closed.then(() => finish());

  client.subscribe<T>(
    { query, variables, ...(extensions ? { extensions } : {}) },
    {
      next: (result) => {
        if (result.errors) errors.push(...result.errors);
        if (result.data) events.push(result.data as T);
        for (const w of waiters) w();
      },
      error: (error) => {
        errors.push(...(Array.isArray(error) ? error : [error]));
        finish();
      },
      complete: () => finish(),
    },
  );

  return {
    events,
    errors,
    done,
    closed,
    waitFor: (n, timeoutMs = 15_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          if (events.length >= n) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(events.slice());
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`expected ${n} events, got ${events.length}; errors: ${JSON.stringify(errors)}`));
        }, budget(timeoutMs));
        waiters.add(check);
        check();
      }),
    close: async () => {
      await client.dispose();
    },
  };
}

/**
 * graphql-ws by hand over ws, for tests that decide when the client reads: one subscription
 * (id "1"), each `next` payload's data collected in `received` (then `onNext` called). `tcp`
 * is the client's socket: paused, it reads nothing, so the kernel's buffers fill and the
 * server's writes back up.
 */
export async function rawSubscriber<T>(httpUrl: string, key: string, query: string, onNext?: () => void) {
  const socket = new WebSocket(wsUrl(httpUrl), 'graphql-transport-ws');
  const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
  const received: T[] = [];
  socket.on('message', (data) => {
    const message = JSON.parse(String(data)) as { type: string; payload?: { data?: T } };
    if (message.type === 'connection_ack') socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query } }));
    if (message.type === 'next' && message.payload?.data) {
      received.push(message.payload.data);
      onNext?.();
    }
  });
  await new Promise<void>((resolve) => socket.on('open', () => resolve()));
  socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${key}` } }));
  // ws's net socket, there once the socket is open.
  const tcp = (socket as unknown as { _socket: Socket })._socket;
  return { socket, closed, received, tcp };
}

/** Decodes a feed cursor to its sequence number (tests compare order with it). */
export function cursorSeq(cursor: string): number {
  const [tag, seq] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [string, number];
  if (tag !== 's') throw new Error(`not a feed cursor: ${cursor}`);
  return seq;
}

/**
 * Waits until `check` holds, polling; fails naming `what` if it has not after `timeoutMs` (on
 * the reference machine: scaled, see time.ts).
 */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 15_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + budget(timeoutMs);
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what} (${budget(timeoutMs)} ms)`);
}

/** What fences need of a memberChanged payload. */
export interface MemberChangedEvent {
  memberChanged: { cursor: string; member: { externalId: string } };
}

/**
 * Makes subscribers provably live, then draws a line: a subscription without `after` only
 * hears what commits after it is registered, so warm-up members are sent until each has heard
 * one; a final fence member, once every subscriber has it, is the point after which each must
 * have heard everything. Returns the fence's cursor.
 */
export async function warmUp(
  subs: LiveSubscription<MemberChangedEvent>[],
  sendMember: (externalId: string) => Promise<void>,
): Promise<string> {
  const tag = Math.random().toString(36).slice(2, 10);
  let i = 0;
  await eventually(
    async () => {
      if (subs.every((s) => s.events.length > 0)) return true;
      await sendMember(`member-warm-${tag}-${i++}`);
      await new Promise((r) => setTimeout(r, 50));
      return false;
    },
    30_000,
    'every subscriber to be live',
  );
  const fence = `member-fence-${tag}`;
  await sendMember(fence);
  const fenceOf = (s: LiveSubscription<MemberChangedEvent>) => s.events.find((e) => e.memberChanged.member.externalId === fence);
  await eventually(() => subs.every((s) => fenceOf(s) !== undefined), 30_000, 'every subscriber to hear the fence');
  return fenceOf(subs[0]!)!.memberChanged.cursor;
}
