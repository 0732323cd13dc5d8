// API keys for the GraphQL API: issuing, listing, revoking, and turning an Authorization
// header into a Viewer. Only a SHA-256 of each key is stored; keys carry 256 random bits, so
// a fast unsalted hash is safe and lets a request find its key through a unique index.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { and, desc, eq, inArray, isNull, lte, or, sql, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import type { Database } from '../db/open.js';
import { apiKeys, tenants } from '../db/schema.js';
import { parseGlobalId } from '../lib/global-id.js';
import { sha256Hex } from '../lib/hash.js';
import { isUuidAnyCase } from '../lib/uuid.js';
import { looksLikeJwt } from './jwt.js';
import type { KeyCache } from './key-cache.js';
import type { Viewer } from './viewer.js';

export const API_KEY_PREFIX = 'dsk_';
/** `dsk_` and 32 random bytes in base64url (43 characters, no padding). */
export const API_KEY_PATTERN = /^dsk_[A-Za-z0-9_-]{43}$/;
/** How much of a key listings show: enough to tell keys apart, far too little to use one. */
const SHOWN_PREFIX_LENGTH = API_KEY_PREFIX.length + 8;
/** A key's last use is recorded at most this often, so requests do not each cost a write. */
export const LAST_USED_RESOLUTION_MS = 60_000;

/** NOTIFY channel on which a revocation announces the key's id. */
export const API_KEY_REVOKED_CHANNEL = 'api_key_revoked';


/** A mistake by whoever manages keys: the message is meant to be shown to them as is. */
export class ApiKeyError extends Error {
  override name = 'ApiKeyError';
}

export function generateApiKey(): string {
  return `${API_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
}

export function hashApiKey(key: string): string {
  return sha256Hex(key);
}

/**
 * A tenant given as its tenants.id or as its GraphQL global id (base64url of `Tenant:<uuid>`),
 * as a uuid; undefined when it is neither.
 */
export function tenantIdFromRef(ref: string): string | undefined {
  const value = ref.trim();
  if (isUuidAnyCase(value)) return value.toLowerCase();
  const parsed = parseGlobalId(value);
  return parsed?.type === 'Tenant' ? parsed.id : undefined;
}

// ---- managing keys ----------------------------------------------------------------------

export const apiKeyNameSchema = z
  .string()
  .trim()
  .min(1, 'name must not be empty')
  .max(100, 'name must be at most 100 characters')
  // Names are printed in tables and logs: no newlines or escape sequences.
  .regex(/^\P{Cc}*$/u, 'name must not contain control characters');

const createSchema = z.object({
  name: apiKeyNameSchema,
  tenantId: z
    .string()
    .refine(isUuidAnyCase, 'tenant id must be a UUID (tenants.id)')
    .transform((v) => v.toLowerCase())
    .nullish(),
});

export interface CreatedApiKey {
  /** The key itself. Only its hash is stored: this is the one time it exists in the clear. */
  key: string;
  id: string;
  name: string;
  /** Null: an admin key. */
  tenantId: string | null;
  prefix: string;
}

export async function createApiKey(
  db: Database,
  input: { name: string; tenantId?: string | null },
): Promise<CreatedApiKey> {
  const parsed = createSchema.safeParse(input);
  if (!parsed.success) throw new ApiKeyError(parsed.error.issues.map((i) => i.message).join('; '));
  const { name } = parsed.data;
  const tenantId = parsed.data.tenantId ?? null;

  if (tenantId !== null) {
    const [tenant] = await db.select({ id: tenants.id }).from(tenants).where(eq(tenants.id, tenantId)).limit(1);
    if (!tenant) throw new ApiKeyError(`no tenant has id ${tenantId}`);
  }

  const key = generateApiKey();
  const prefix = key.slice(0, SHOWN_PREFIX_LENGTH);
  const [row] = await db
    .insert(apiKeys)
    .values({ name, tenantId, keyHash: hashApiKey(key), prefix })
    .returning({ id: apiKeys.id });
  return { key, id: row!.id, name, tenantId, prefix };
}

export interface ApiKeyListing {
  id: string;
  name: string;
  prefix: string;
  /** Null: an admin key. */
  tenantId: string | null;
  tenantName: string | null;
  tenantExternalId: string | null;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

/** Every key, revoked ones included, newest first. Never the hashes. */
export async function listApiKeys(db: Database): Promise<ApiKeyListing[]> {
  return db
    .select({
      id: apiKeys.id,
      name: apiKeys.name,
      prefix: apiKeys.prefix,
      tenantId: apiKeys.tenantId,
      tenantName: tenants.name,
      tenantExternalId: tenants.externalId,
      createdAt: apiKeys.createdAt,
      lastUsedAt: apiKeys.lastUsedAt,
      revokedAt: apiKeys.revokedAt,
    })
    .from(apiKeys)
    .leftJoin(tenants, eq(tenants.id, apiKeys.tenantId))
    .orderBy(desc(apiKeys.createdAt), desc(apiKeys.id));
}

export interface RevokedApiKey {
  id: string;
  name: string;
  prefix: string;
  tenantId: string | null;
  revokedAt: Date;
  /** It was revoked before this call; revokedAt is that first revocation. */
  alreadyRevoked: boolean;
}

/** Which keys a reference given to revokeApiKey names. */
function keysMatching(ref: string): SQL {
  if (isUuidAnyCase(ref)) return eq(apiKeys.id, ref.toLowerCase());
  if (API_KEY_PATTERN.test(ref)) return eq(apiKeys.keyHash, hashApiKey(ref));
  const isPrefix =
    ref.startsWith(API_KEY_PREFIX) && ref.length >= API_KEY_PREFIX.length + 4 && ref.length <= SHOWN_PREFIX_LENGTH;
  // starts_with, not LIKE: base64url keys contain '_', a LIKE wildcard.
  if (isPrefix) return sql`starts_with(${apiKeys.prefix}, ${ref})`;
  throw new ApiKeyError(
    `${JSON.stringify(ref)} is neither a key id (UUID) nor a key prefix (dsk_ and at least 4 more characters, as listed)`,
  );
}

/**
 * Revokes the key with this id, this prefix (as listings show it, or at least `dsk_` and 4
 * more characters of it), or this full key. Revoking twice is not an error.
 */
export async function revokeApiKey(db: Database, idOrPrefix: string): Promise<RevokedApiKey> {
  const ref = idOrPrefix.trim();
  const match = keysMatching(ref);

  const found = await db
    .select({ id: apiKeys.id, prefix: apiKeys.prefix, name: apiKeys.name, revokedAt: apiKeys.revokedAt })
    .from(apiKeys)
    .where(match)
    .limit(10);
  if (found.length === 0) throw new ApiKeyError(`no API key matches ${ref}`);
  if (found.length > 1) {
    const which = found.map((k) => `${k.prefix} (${k.name})`).join(', ');
    throw new ApiKeyError(`${ref} matches several API keys: ${which}; give more of the prefix or the key id`);
  }
  const target = found[0]!;

  // coalesce: a second revocation keeps the time of the first. The notification (sent on
  // commit) tells every running instance to close the key's open WebSockets now.
  const [row] = await db.transaction(async (tx) => {
    const updated = await tx
      .update(apiKeys)
      .set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, now())` })
      .where(eq(apiKeys.id, target.id))
      .returning({
        id: apiKeys.id,
        name: apiKeys.name,
        prefix: apiKeys.prefix,
        tenantId: apiKeys.tenantId,
        revokedAt: apiKeys.revokedAt,
      });
    await tx.execute(sql`select pg_notify(${API_KEY_REVOKED_CHANNEL}, ${target.id})`);
    return updated;
  });
  if (!row?.revokedAt) throw new ApiKeyError(`no API key matches ${ref}`);
  return { ...row, revokedAt: row.revokedAt, alreadyRevoked: target.revokedAt !== null };
}

/** Of these key ids, the ones that are revoked or no longer exist. */
export async function revokedAmong(db: Database, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const live = await db
    .select({ id: apiKeys.id })
    .from(apiKeys)
    .where(and(inArray(apiKeys.id, [...ids]), isNull(apiKeys.revokedAt)));
  const alive = new Set(live.map((r) => r.id));
  return new Set(ids.filter((id) => !alive.has(id)));
}

// ---- authenticating requests -----------------------------------------------------------

export interface AuthFailure {
  error: string;
  /**
   * UNAUTHENTICATED (the default): no usable credential. FORBIDDEN: a genuine token that may
   * read nothing here. SERVICE_UNAVAILABLE: what checks it could not be reached (a JWKS).
   */
  code?: 'UNAUTHENTICATED' | 'FORBIDDEN' | 'SERVICE_UNAVAILABLE';
}
export type AuthResult = Viewer | AuthFailure;

export const isAuthFailure = (result: AuthResult): result is AuthFailure => 'error' in result;

const HOW = 'send "Authorization: Bearer <api key>"';
export const AUTH_ERRORS = {
  missing: `missing Authorization header: ${HOW}`,
  scheme: `the Authorization header must use the Bearer scheme: ${HOW}`,
  empty: `the Authorization header has no API key: ${HOW}`,
  malformed: 'malformed API key: expected dsk_ followed by 43 characters',
  // Said plainly: the first thing a frontend developer tries before configuring tokens.
  tokensOff: 'this is a sign-in token (JWT), which this service is not set up to accept (JWT_JWKS_URL, JWT_PUBLIC_KEY or JWT_SECRET); send an API key',
  // One message for unknown and revoked keys alike: an attacker learns nothing from it.
  invalid: 'invalid or revoked API key',
} as const;

/** The token of a `Bearer <token>` header (scheme in any case, surrounding space ignored). */
export function parseAuthorization(header: string | undefined): { token: string } | AuthFailure {
  const value = header?.trim() ?? '';
  if (value === '') return { error: AUTH_ERRORS.missing };
  const [, scheme, rest] = /^(\S+)(?:\s+([\s\S]*))?$/.exec(value) ?? [];
  if (scheme?.toLowerCase() !== 'bearer') return { error: AUTH_ERRORS.scheme };
  const token = rest?.trim() ?? '';
  if (token === '') return { error: AUTH_ERRORS.empty };
  if (/\s/.test(token)) return { error: AUTH_ERRORS.malformed };
  return { token };
}

export interface AuthenticatorOptions {
  /** ADMIN_API_KEY or the generated local admin key: admin, not in the database. */
  bootstrapKeys: readonly string[];
  /** The name a bootstrap key's viewer goes by (default ADMIN_API_KEY, the setting it comes from). */
  bootstrapName?: string;
  /** Told when recording a key's last use fails; the request is not affected. */
  onError?: (error: unknown) => void;
  /** The clock, for tests. */
  now?: () => Date;
  /** Valid keys remembered between requests (see key-cache.ts); none: every request looks up. */
  cache?: KeyCache;
}

export type Authenticate = ((authorization: string | undefined) => Promise<AuthResult>) & {
  /** Waits for pending last-used writes: call before closing the database. */
  flush(): Promise<void>;
};

/**
 * Resolves an Authorization header to a Viewer, or to `{ error }` to answer 401 with. One
 * indexed query per request, unless `cache` remembers the key (it forgets it on the
 * revocation notice, so a revocation still applies to the next request). Unknown keys are
 * never remembered. Rejects only when the database fails (answer 503 then).
 */
export function createAuthenticator(db: Database, options: AuthenticatorOptions): Authenticate {
  const bootstrap = options.bootstrapKeys
    .filter((k) => k.length > 0)
    .map((k) => Buffer.from(hashApiKey(k), 'hex'));
  const bootstrapName = options.bootstrapName ?? 'ADMIN_API_KEY';
  const now = options.now ?? (() => new Date());
  const lastTouched = new Map<string, number>();
  const pending = new Set<Promise<void>>();
  // Built once, on first use: Drizzle would otherwise build this SQL again on every request.
  const lookup = () =>
    db
      .select({ id: apiKeys.id, name: apiKeys.name, tenantId: apiKeys.tenantId, lastUsedAt: apiKeys.lastUsedAt })
      .from(apiKeys)
      .where(and(eq(apiKeys.keyHash, sql.placeholder('hash')), isNull(apiKeys.revokedAt)))
      .limit(1)
      .prepare('api_key_by_hash');
  let byHash: ReturnType<typeof lookup> | undefined;

  // Conditional on the stored value too, so several processes sharing one Postgres still
  // write at most about once a minute per key.
  const touch = (keyId: string, at: Date) => {
    lastTouched.set(keyId, at.getTime());
    const cutoff = new Date(at.getTime() - LAST_USED_RESOLUTION_MS);
    const write = db
      .update(apiKeys)
      .set({ lastUsedAt: at })
      .where(and(eq(apiKeys.id, keyId), or(isNull(apiKeys.lastUsedAt), lte(apiKeys.lastUsedAt, cutoff))))
      .then(
        () => {},
        (error: unknown) => {
          lastTouched.delete(keyId);
          options.onError?.(error);
        },
      )
      .finally(() => pending.delete(write));
    pending.add(write);
  };

  const authenticate = async (authorization: string | undefined): Promise<AuthResult> => {
    const parsed = parseAuthorization(authorization);
    if ('error' in parsed) return parsed;
    const hash = hashApiKey(parsed.token);

    // Every bootstrap key is compared, in constant time, whatever matched before.
    const digest = Buffer.from(hash, 'hex');
    let isBootstrap = false;
    for (const candidate of bootstrap) isBootstrap = timingSafeEqual(candidate, digest) || isBootstrap;
    if (isBootstrap) return { kind: 'admin', keyId: null, name: bootstrapName };

    if (!API_KEY_PATTERN.test(parsed.token)) return { error: looksLikeJwt(parsed.token) ? AUTH_ERRORS.tokensOff : AUTH_ERRORS.malformed };
    let row = options.cache?.get(hash);
    if (!row) {
      const generation = options.cache?.generation() ?? 0;
      byHash ??= lookup();
      [row] = await byHash.execute({ hash });
      if (!row) return { error: AUTH_ERRORS.invalid };
      options.cache?.set(hash, row, generation);
    }

    const at = now();
    const stale = (t: number | undefined) => t === undefined || at.getTime() - t >= LAST_USED_RESOLUTION_MS;
    if (stale(row.lastUsedAt?.getTime()) && stale(lastTouched.get(row.id))) touch(row.id, at);

    return row.tenantId === null
      ? { kind: 'admin', keyId: row.id, name: row.name }
      : { kind: 'tenant', keyId: row.id, name: row.name, tenantId: row.tenantId };
  };

  return Object.assign(authenticate, {
    flush: async () => {
      await Promise.all([...pending]);
    },
  });
}
