// graphql-ws clients for the live benchmark: many sockets, each carrying one or more
// memberChanged subscriptions, with a callback per pushed change stamped with its arrival
// time (performance.now(), taken first thing in the client's `next`).
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

export const MEMBER_CHANGED = `subscription {
  memberChanged { cursor action occurredAt recordedAt member { id externalId name email status } }
}`;

export interface MemberChangePayload {
  memberChanged?: {
    cursor: string;
    action: string;
    occurredAt: string;
    recordedAt: string;
    member: { id: string; externalId: string; name: string | null; email: string | null; status: string | null };
  };
}

/** One subscription's deliveries: (arrival time, payload). */
export type OnChange = (receivedAt: number, change: NonNullable<MemberChangePayload['memberChanged']>) => void;

export interface Socket {
  client: Client;
  /** Resolves once the server acknowledged the connection (connection_ack). */
  connected: Promise<void>;
  /** Close code and reason, once closed (null while open). */
  closedWith(): { code: number; reason: string } | null;
  /** Errors the server sent for any operation, and socket errors. */
  errors: string[];
  dispose(): Promise<void>;
}

export const wsUrl = (httpUrl: string) => `${httpUrl.replace(/^http/, 'ws')}/graphql`;

/** A socket with `subscriptions` memberChanged subscriptions, each reporting to `onChange(index)`. */
export function openSocket(httpUrl: string, key: string, subscriptions: number, onChange: (index: number) => OnChange): Socket {
  let closed: { code: number; reason: string } | null = null;
  const errors: string[] = [];
  let ack: () => void = () => {};
  let fail: (e: Error) => void = () => {};
  const connected = new Promise<void>((resolve, reject) => {
    ack = resolve;
    fail = reject;
  });
  const client = createClient({
    url: wsUrl(httpUrl),
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${key}` },
    lazy: false,
    retryAttempts: 0,
    shouldRetry: () => false,
    on: {
      connected: () => ack(),
      closed: (event) => {
        const e = event as { code?: number; reason?: string | Buffer };
        closed = { code: e.code ?? 0, reason: String(e.reason ?? '') };
        fail(new Error(`socket closed before connection_ack: ${closed.code} ${closed.reason}`));
      },
      error: (error) => errors.push(String((error as Error)?.message ?? error)),
    },
    onNonLazyError: () => {},
  });
  for (let i = 0; i < subscriptions; i++) {
    const deliver = onChange(i);
    client.subscribe<MemberChangePayload>(
      { query: MEMBER_CHANGED },
      {
        next: (result) => {
          const at = performance.now();
          if (result.errors?.length) errors.push(...result.errors.map((e) => e.message));
          const change = result.data?.memberChanged;
          if (change) deliver(at, change);
        },
        error: (error) => errors.push(Array.isArray(error) ? error.map((e: { message?: string }) => e.message).join('; ') : String(error)),
        complete: () => {},
      },
    );
  }
  return { client, connected, closedWith: () => closed, errors, dispose: () => client.dispose() as Promise<void> };
}

/** Opens `count` sockets, at most `concurrency` handshakes at a time; resolves when all are acked. */
export async function openSockets(
  count: number,
  concurrency: number,
  open: (index: number) => Socket,
): Promise<Socket[]> {
  const sockets: Socket[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const socket = open(next++);
        sockets.push(socket);
        await socket.connected;
      }
    }),
  );
  return sockets;
}
