// API keys found valid, remembered so a request does not cost a database round trip for its
// key (on a one-row lookup such as node(id), half of the request's statements).
//
// Revocation must stay immediate, so the cache is trusted only while this instance is
// listening for revocation notices (`listening(true)`): each notice forgets its key; losing the
// listener forgets everything and stops caching until it is back. A lookup that was already
// on its way to the database when a notice arrived may carry the key's state from before the
// revocation, so its answer is not kept (the generation check). The age limit is a backstop
// only, for a notice lost without the listener noticing.
export interface CachedKey {
  id: string;
  name: string;
  tenantId: string | null;
  lastUsedAt: Date | null;
}

export interface KeyCacheOptions {
  /** How long an entry is trusted at most (default 60 s). */
  maxAgeMs?: number;
  /** Keys kept at most; the oldest go first (default 10,000). */
  maxEntries?: number;
  now?: () => number;
}

export interface KeyCache {
  get(hash: string): CachedKey | undefined;
  /** Taken before a lookup starts; `set` keeps the answer only if nothing changed meanwhile. */
  generation(): number;
  set(hash: string, key: CachedKey, generation: number): void;
  /** A revocation notice for these key ids. */
  forget(keyIds: Iterable<string>): void;
  /** Whether revocation notices are being received; false forgets everything. */
  listening(up: boolean): void;
  readonly size: number;
}

export function createKeyCache(options: KeyCacheOptions = {}): KeyCache {
  const maxAge = options.maxAgeMs ?? 60_000;
  const maxEntries = options.maxEntries ?? 10_000;
  const now = options.now ?? Date.now;
  const entries = new Map<string, { key: CachedKey; at: number }>();
  let generation = 0;
  let up = false;

  return {
    get(hash) {
      if (!up) return undefined;
      const entry = entries.get(hash);
      if (!entry) return undefined;
      if (now() - entry.at >= maxAge) {
        entries.delete(hash);
        return undefined;
      }
      return entry.key;
    },
    generation: () => generation,
    set(hash, key, startedAt) {
      if (!up || startedAt !== generation) return;
      entries.delete(hash);
      entries.set(hash, { key, at: now() });
      if (entries.size > maxEntries) entries.delete(entries.keys().next().value as string);
    },
    forget(keyIds) {
      generation++;
      const ids = new Set(keyIds);
      for (const [hash, entry] of entries) if (ids.has(entry.key.id)) entries.delete(hash);
    },
    listening(isUp) {
      generation++;
      up = isUp;
      if (!isUp) entries.clear();
    },
    get size() {
      return entries.size;
    },
  };
}
