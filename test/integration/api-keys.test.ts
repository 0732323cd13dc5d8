// API keys against the real database: issuing, listing, revoking, and authenticating requests.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  ApiKeyError,
  AUTH_ERRORS,
  createApiKey,
  createAuthenticator,
  generateApiKey,
  hashApiKey,
  LAST_USED_RESOLUTION_MS,
  listApiKeys,
  revokeApiKey,
} from '../../src/auth/api-keys.js';
import { createKeyCache } from '../../src/auth/key-cache.js';
import type { Database } from '../../src/db/open.js';
import { apiKeys, tenants } from '../../src/db/schema.js';
import { backend, openTestDatabase, type TestDatabase } from '../support/backend.js';
import { query } from '../support/db.js';

let test: TestDatabase;
let db: Database;
let tenantId: string;
let otherTenantId: string;

beforeAll(async () => {
  test = await openTestDatabase();
  db = test.handle.db;
  const rows = await db
    .insert(tenants)
    .values([
      { provider: 'STYTCH', externalId: 'organization-test-acme', name: 'Acme' },
      { provider: 'POLIS', externalId: 'globex', product: 'crm' },
    ])
    .returning({ id: tenants.id });
  tenantId = rows[0]!.id;
  otherTenantId = rows[1]!.id;
});
afterAll(async () => {
  await test?.dispose();
});
beforeEach(async () => {
  await db.delete(apiKeys);
});

const apiKeyRows = () => query(test.handle, sql`select * from api_keys order by created_at`);
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe(`API keys (${backend})`, () => {
  describe('creating', () => {
    it('issues an admin key and stores only its hash', async () => {
      const created = await createApiKey(db, { name: '  CI  ' });
      expect(created).toEqual({
        key: expect.stringMatching(/^dsk_[A-Za-z0-9_-]{43}$/),
        id: expect.any(String),
        name: 'CI',
        tenantId: null,
        prefix: created.key.slice(0, 12),
      });
      const rows = await apiKeyRows();
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ id: created.id, name: 'CI', tenant_id: null, key_hash: hashApiKey(created.key) });
      expect(JSON.stringify(rows)).not.toContain(created.key);
    });

    it('issues a key scoped to an existing tenant', async () => {
      const created = await createApiKey(db, { name: 'acme', tenantId: tenantId.toUpperCase() });
      expect(created.tenantId).toBe(tenantId);
      const [row] = await apiKeyRows();
      expect(row!.tenant_id).toBe(tenantId);
    });

    it.each([
      [{ name: '' }, /name must not be empty/],
      [{ name: '   ' }, /name must not be empty/],
      [{ name: 'x'.repeat(101) }, /at most 100 characters/],
      [{ name: 'two\nlines' }, /control characters/],
      [{ name: 'ok', tenantId: 'acme' }, /tenant id must be a UUID/],
      [{ name: 'ok', tenantId: '7d3c4d8e-8a41-4a5e-9d0e-2f1b3c4d5e6f' }, /no tenant has id 7d3c4d8e-/],
    ])('refuses %j', async (input, message) => {
      await expect(createApiKey(db, input)).rejects.toThrow(ApiKeyError);
      await expect(createApiKey(db, input)).rejects.toThrow(message);
      expect(await apiKeyRows()).toHaveLength(0);
    });

    it('takes a name of exactly 100 characters', async () => {
      await expect(createApiKey(db, { name: 'x'.repeat(100) })).resolves.toMatchObject({ name: 'x'.repeat(100) });
    });
  });

  describe('listing', () => {
    it('shows every key newest first, with its tenant, and never a hash', async () => {
      const a = await createApiKey(db, { name: 'first' });
      await pause(5);
      const b = await createApiKey(db, { name: 'second', tenantId });
      await pause(5);
      const c = await createApiKey(db, { name: 'third', tenantId: otherTenantId });
      await revokeApiKey(db, a.id);

      const listed = await listApiKeys(db);
      expect(listed.map((k) => k.id)).toEqual([c.id, b.id, a.id]);
      expect(listed[0]).toMatchObject({ name: 'third', tenantId: otherTenantId, tenantName: null, tenantExternalId: 'globex' });
      expect(listed[1]).toMatchObject({
        name: 'second',
        prefix: b.prefix,
        tenantId,
        tenantName: 'Acme',
        tenantExternalId: 'organization-test-acme',
        lastUsedAt: null,
        revokedAt: null,
      });
      expect(listed[1]!.createdAt).toBeInstanceOf(Date);
      expect(listed[2]).toMatchObject({ tenantId: null, tenantName: null, revokedAt: expect.any(Date) });

      const text = JSON.stringify(listed);
      for (const k of [a, b, c]) {
        expect(text).not.toContain(k.key);
        expect(text).not.toContain(hashApiKey(k.key));
      }
      expect(Object.keys(listed[0]!)).not.toContain('keyHash');
    });
  });

  describe('revoking', () => {
    it('by id, by prefix or by the key itself; twice is not an error', async () => {
      for (const by of ['id', 'prefix', 'short prefix', 'key'] as const) {
        const k = await createApiKey(db, { name: by });
        const ref = { id: k.id, prefix: k.prefix, 'short prefix': k.prefix.slice(0, 9), key: k.key }[by];
        const revoked = await revokeApiKey(db, ref);
        expect(revoked, by).toMatchObject({ id: k.id, name: by, prefix: k.prefix, alreadyRevoked: false });
        const again = await revokeApiKey(db, ref);
        expect(again.alreadyRevoked, by).toBe(true);
        expect(again.revokedAt.getTime(), by).toBe(revoked.revokedAt.getTime());
      }
      expect((await listApiKeys(db)).every((k) => k.revokedAt !== null)).toBe(true);
    });

    it('refuses what matches no key, several keys, or is too short to be sure', async () => {
      // Prefixes chosen to collide; '_' would be a LIKE wildcard, so it must match literally.
      await db.insert(apiKeys).values([
        { name: 'one', keyHash: 'h1', prefix: 'dsk_AAAA_111' },
        { name: 'two', keyHash: 'h2', prefix: 'dsk_AAAA2222' },
      ]);
      await expect(revokeApiKey(db, 'dsk_AAAA')).rejects.toThrow(/matches several API keys: dsk_AAAA_111 \(one\), dsk_AAAA2222 \(two\)|matches several API keys: dsk_AAAA2222 \(two\), dsk_AAAA_111 \(one\)/);
      await expect(revokeApiKey(db, 'dsk_AAAA_')).resolves.toMatchObject({ name: 'one' });
      await expect(revokeApiKey(db, 'dsk_ZZZZ')).rejects.toThrow(/no API key matches dsk_ZZZZ/);
      await expect(revokeApiKey(db, '3f1e2d3c-4b5a-4697-8a7b-6c5d4e3f2a1b')).rejects.toThrow(ApiKeyError);
      await expect(revokeApiKey(db, 'dsk_AA')).rejects.toThrow(/neither a key id/);
      await expect(revokeApiKey(db, '')).rejects.toThrow(/neither a key id/);
      const rows = await apiKeyRows();
      expect(rows.find((r) => r.name === 'two')!.revoked_at).toBeNull();
    });
  });

  describe('authenticating', () => {
    it('turns an admin key into an admin viewer and a tenant key into that tenant', async () => {
      const admin = await createApiKey(db, { name: 'ops' });
      const scoped = await createApiKey(db, { name: 'acme app', tenantId });
      const authenticate = createAuthenticator(db, { bootstrapKeys: [] });
      expect(await authenticate(`Bearer ${admin.key}`)).toEqual({ kind: 'admin', keyId: admin.id, name: 'ops' });
      expect(await authenticate(`  bearer   ${scoped.key} `)).toEqual({
        kind: 'tenant',
        keyId: scoped.id,
        name: 'acme app',
        tenantId,
      });
      await authenticate.flush();
    });

    it('accepts the bootstrap keys as admin without a row, in any format', async () => {
      const local = generateApiKey();
      const authenticate = createAuthenticator(db, { bootstrapKeys: ['another-admin-secret', local] });
      const viewer = { kind: 'admin', keyId: null, name: 'ADMIN_API_KEY' };
      expect(await authenticate(`Bearer ${local}`)).toEqual(viewer);
      expect(await authenticate('Bearer another-admin-secret')).toEqual(viewer);
      // A bootstrap key set by the operator need not look like ours.
      const configured = createAuthenticator(db, { bootstrapKeys: ['s3cr3t-admin-key-from-the-environment'] });
      expect(await configured('BEARER s3cr3t-admin-key-from-the-environment')).toEqual(viewer);
      expect(await configured('Bearer s3cr3t-admin-key-from-the-environmenT')).toEqual({ error: AUTH_ERRORS.malformed });
      expect(await configured(`Bearer ${local}`)).toEqual({ error: AUTH_ERRORS.invalid });
      expect(await apiKeyRows()).toHaveLength(0);
    });

    it('never treats an empty bootstrap key as a key', async () => {
      const authenticate = createAuthenticator(db, { bootstrapKeys: ['', ''] });
      expect(await authenticate('Bearer ')).toEqual({ error: AUTH_ERRORS.empty });
      expect(await authenticate('Bearer')).toEqual({ error: AUTH_ERRORS.empty });
    });

    it('refuses missing, malformed, unknown and revoked keys; revocation applies to the next request', async () => {
      const k = await createApiKey(db, { name: 'soon revoked', tenantId });
      const authenticate = createAuthenticator(db, { bootstrapKeys: [] });
      expect(await authenticate(undefined)).toEqual({
        error: 'missing Authorization header: send "Authorization: Bearer <api key>"',
      });
      expect(await authenticate(`Basic ${k.key}`)).toEqual({ error: AUTH_ERRORS.scheme });
      expect(await authenticate(`Bearer ${k.key.slice(0, -1)}`)).toEqual({ error: AUTH_ERRORS.malformed });
      expect(await authenticate(`Bearer ${k.key} ${k.key}`)).toEqual({ error: AUTH_ERRORS.malformed });
      // A sign-in token where tokens are not configured: told so, not "malformed".
      expect(await authenticate('Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl')).toEqual({ error: AUTH_ERRORS.tokensOff });
      expect(await authenticate(`Bearer ${generateApiKey()}`)).toEqual({ error: 'invalid or revoked API key' });

      expect(await authenticate(`Bearer ${k.key}`)).toMatchObject({ kind: 'tenant', keyId: k.id });
      await revokeApiKey(db, k.prefix);
      expect(await authenticate(`Bearer ${k.key}`)).toEqual({ error: 'invalid or revoked API key' });
      await authenticate.flush();
    });

    it('with a cache: a known key costs no lookup until its revocation notice, an unknown key is never kept', async () => {
      const k = await createApiKey(db, { name: 'cached', tenantId });
      const cache = createKeyCache();
      cache.listening(true);
      const authenticate = createAuthenticator(db, { bootstrapKeys: [], cache });
      expect(await authenticate(`Bearer ${k.key}`)).toMatchObject({ kind: 'tenant', keyId: k.id });
      const unknown = generateApiKey();
      expect(await authenticate(`Bearer ${unknown}`)).toEqual({ error: AUTH_ERRORS.invalid });
      expect(cache.size).toBe(1);

      // Revoked behind the cache's back (no notice): the cache still answers, so it is in use.
      await db.update(apiKeys).set({ revokedAt: new Date() }).where(sql`${apiKeys.id} = ${k.id}`);
      expect(await authenticate(`Bearer ${k.key}`)).toMatchObject({ kind: 'tenant', keyId: k.id });
      // The notice (revokeApiKey sends it; server.ts hands it to the cache) ends that.
      cache.forget([k.id]);
      expect(await authenticate(`Bearer ${k.key}`)).toEqual({ error: AUTH_ERRORS.invalid });
      await authenticate.flush();
    });

    it('records the last use at most once a minute per key, across instances too', async () => {
      const k = await createApiKey(db, { name: 'busy' });
      const other = await createApiKey(db, { name: 'other' });
      let clock = new Date('2026-05-01T10:00:00.000Z');
      const authenticate = createAuthenticator(db, { bootstrapKeys: [], now: () => clock });
      const update = vi.spyOn(db, 'update');
      const lastUsed = async (id: string) =>
        (await listApiKeys(db)).find((row) => row.id === id)!.lastUsedAt?.toISOString() ?? null;

      const t0 = clock.toISOString();
      // A burst: one write, not one per request, even before the first write lands.
      await Promise.all(Array.from({ length: 10 }, () => authenticate(`Bearer ${k.key}`)));
      await authenticate.flush();
      expect(update).toHaveBeenCalledTimes(1);
      expect(await lastUsed(k.id)).toBe(t0);
      expect(await lastUsed(other.id)).toBeNull();

      clock = new Date(clock.getTime() + 30_000);
      await authenticate(`Bearer ${k.key}`);
      await authenticate.flush();
      expect(update).toHaveBeenCalledTimes(1);
      expect(await lastUsed(k.id)).toBe(t0);

      // Another process (its own authenticator) sees the stored time and does not write either.
      const elsewhere = createAuthenticator(db, { bootstrapKeys: [], now: () => clock });
      await elsewhere(`Bearer ${k.key}`);
      await elsewhere.flush();
      expect(update).toHaveBeenCalledTimes(1);

      clock = new Date(new Date(t0).getTime() + LAST_USED_RESOLUTION_MS + 1000);
      await authenticate(`Bearer ${k.key}`);
      await authenticate(`Bearer ${other.key}`);
      await authenticate.flush();
      expect(update).toHaveBeenCalledTimes(3);
      expect(await lastUsed(k.id)).toBe(clock.toISOString());
      expect(await lastUsed(other.id)).toBe(clock.toISOString());
      update.mockRestore();
    });

    it('a failed last-use write is reported, not thrown, and the request still succeeds', async () => {
      const k = await createApiKey(db, { name: 'k' });
      const failing = Object.create(db) as Database;
      const boom = new Error('database went away');
      failing.update = (() => ({
        set: () => ({ where: () => Promise.reject(boom) }),
      })) as unknown as Database['update'];
      const errors: unknown[] = [];
      const authenticate = createAuthenticator(failing, { bootstrapKeys: [], onError: (e) => errors.push(e) });
      expect(await authenticate(`Bearer ${k.key}`)).toMatchObject({ kind: 'admin', keyId: k.id });
      await authenticate.flush();
      expect(errors).toEqual([boom]);
      // Retried on the next request rather than silently skipped for a minute.
      await authenticate(`Bearer ${k.key}`);
      await authenticate.flush();
      expect(errors).toHaveLength(2);
    });

    it('lets a database failure reach the caller (to answer 503), not a 401', async () => {
      const broken = Object.create(db) as Database;
      broken.select = (() => {
        throw new Error('connection refused');
      }) as unknown as Database['select'];
      const authenticate = createAuthenticator(broken, { bootstrapKeys: ['admin-secret'] });
      await expect(authenticate(`Bearer ${generateApiKey()}`)).rejects.toThrow('connection refused');
      // The bootstrap key needs no database.
      expect(await authenticate('Bearer admin-secret')).toMatchObject({ kind: 'admin' });
    });
  });
});
