// Keeps long-lived sessions (WebSockets) honest about revoked keys. An HTTP request checks its
// key every time; a socket checked it once, on connect. So every instance LISTENs for the
// revocation notice that `revokeApiKey` sends on commit and closes that key's sessions at once,
// and, in case a notice was missed (its listener was reconnecting), re-checks the keys of all
// open sessions now and then and whenever the listener comes back.
import type { DatabaseHandle } from '../db/open.js';
import { API_KEY_REVOKED_CHANNEL, revokedAmong } from './api-keys.js';

export interface RevocationWatchOptions {
  /** Key ids of the sessions open now (bootstrap keys, which have none, cannot be revoked). */
  activeKeyIds(): Iterable<string>;
  /** Close every session of these keys. */
  onRevoked(keyIds: ReadonlySet<string>): void;
  /** Full re-check interval in ms (default 60 s). */
  intervalMs?: number;
  onError?: (error: unknown) => void;
  /** Told whether notices are being received: true once listening, false when the listener drops. */
  onListening?: (up: boolean) => void;
}

export interface RevocationWatch {
  stop(): Promise<void>;
}

export async function watchRevocations(
  database: Pick<DatabaseHandle, 'db' | 'listen'>,
  options: RevocationWatchOptions,
): Promise<RevocationWatch> {
  let started = false;
  const sweep = async () => {
    const ids = [...new Set(options.activeKeyIds())];
    if (ids.length === 0) return;
    try {
      const revoked = await revokedAmong(database.db, ids);
      if (revoked.size > 0) options.onRevoked(revoked);
    } catch (error) {
      options.onError?.(error);
    }
  };
  const unlisten = await database.listen(
    API_KEY_REVOKED_CHANNEL,
    (keyId) => options.onRevoked(new Set([keyId])),
    () => {
      options.onListening?.(true);
      if (started) void sweep();
    },
    () => options.onListening?.(false),
  );
  started = true;
  const timer = setInterval(() => void sweep(), options.intervalMs ?? 60_000);
  timer.unref();
  return {
    stop: async () => {
      clearInterval(timer);
      options.onListening?.(false);
      await unlisten();
    },
  };
}
