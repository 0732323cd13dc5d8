import { chmod, mkdtemp, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { API_KEY_PATTERN } from '../../src/auth/api-keys.js';
import { resolveSecrets } from '../../src/local-secrets.js';

describe('configuration', () => {
  it('has the documented defaults', () => {
    expect(loadConfig({})).toMatchObject({
      port: 4000,
      dataDir: './data',
      databaseUrl: undefined,
      toleranceSeconds: 300,
      polisSecrets: [],
      stytchSecrets: [],
      corsOrigins: [],
      logLevel: 'info',
      subscriptionBuffer: 1000,
      wsMaxSubscriptions: 100,
      graphqlLimits: { maxDepth: 12, maxAliases: 15, maxDirectives: 25, maxTokens: 2000, maxCost: 50_000, introspection: true },
    });
  });

  it('reads read replicas, only beside a Postgres, and names a bad entry by position', () => {
    const primary = 'postgres://app@primary:5432/directory';
    expect(loadConfig({ DATABASE_URL: primary, DATABASE_READ_URLS: 'postgres://app@r1/directory, postgresql://app@r2/directory' })).toMatchObject({
      databaseReadUrls: ['postgres://app@r1/directory', 'postgresql://app@r2/directory'],
      databaseReadMaxLagSeconds: 10,
    });
    expect(loadConfig({}).databaseReadUrls).toEqual([]);
    expect(() => loadConfig({ DATABASE_READ_URLS: 'postgres://app@r1/directory' })).toThrow(/DATABASE_READ_URLS names replicas of a Postgres: set DATABASE_URL/);
    expect(() => loadConfig({ DATABASE_URL: primary, DATABASE_READ_URLS: 'postgres://app@r1/d,mysql://r2' })).toThrow(/DATABASE_READ_URLS entry 2 must be a postgres:\/\/ or postgresql:\/\/ URL/);
    expect(() => loadConfig({ DATABASE_URL: primary, DATABASE_READ_MAX_LAG_SECONDS: '-1' })).toThrow(ConfigError);
  });

  it('turns introspection off in production unless GRAPHQL_INTROSPECTION says otherwise', () => {
    const introspection = (env: Record<string, string>) => loadConfig(env).graphqlLimits.introspection;
    expect(introspection({ NODE_ENV: 'production' })).toBe(false);
    expect(introspection({ NODE_ENV: 'production', GRAPHQL_INTROSPECTION: 'true' })).toBe(true);
    expect(introspection({ GRAPHQL_INTROSPECTION: 'false' })).toBe(false);
    expect(introspection({ NODE_ENV: 'production', GRAPHQL_INTROSPECTION: '' })).toBe(false);
    expect(() => loadConfig({ GRAPHQL_INTROSPECTION: 'yes' })).toThrow(/GRAPHQL_INTROSPECTION/);
    expect(() => loadConfig({ GRAPHQL_MAX_DEPTH: '0' })).toThrow(/GRAPHQL_MAX_DEPTH/);
  });

  it('reads the providers\' API settings for reconciliation, in pairs, and its interval', () => {
    expect(loadConfig({})).toMatchObject({ polisApi: undefined, stytchApi: undefined, reconcileIntervalMs: undefined, apiKeyCacheMs: 0 });
    expect(loadConfig({ POLIS_API_URL: 'https://polis.example', POLIS_API_KEY: 'k' }).polisApi).toEqual({ url: 'https://polis.example', key: 'k' });
    expect(() => loadConfig({ POLIS_API_URL: 'https://polis.example' })).toThrow(/POLIS_API_URL and POLIS_API_KEY go together/);
    expect(() => loadConfig({ POLIS_API_URL: 'polis.example', POLIS_API_KEY: 'k' })).toThrow(/POLIS_API_URL: must be an http/);
    expect(loadConfig({ STYTCH_PROJECT_ID: 'project-test-1', STYTCH_SECRET: 's' }).stytchApi).toEqual({ url: undefined, projectId: 'project-test-1', secret: 's' });
    expect(() => loadConfig({ STYTCH_SECRET: 's' })).toThrow(/STYTCH_PROJECT_ID and STYTCH_SECRET go together/);
    const interval = (v: string) => loadConfig({ RECONCILE_INTERVAL: v }).reconcileIntervalMs;
    expect([interval('900'), interval('900s'), interval('15m'), interval('6h')]).toEqual([900_000, 900_000, 900_000, 21_600_000]);
    for (const bad of ['30s', '1d', 'hourly', '-5m']) expect(() => loadConfig({ RECONCILE_INTERVAL: bad }), bad).toThrow(/RECONCILE_INTERVAL/);
    expect(loadConfig({ API_KEY_CACHE_SECONDS: '60' }).apiKeyCacheMs).toBe(60_000);
  });

  it('reads several Polis secrets from POLIS_WEBHOOK_SECRET and WEBHOOK_SECRET', () => {
    const c = loadConfig({ POLIS_WEBHOOK_SECRET: 'a, b', WEBHOOK_SECRET: 'c,a' });
    expect(c.polisSecrets).toEqual(['a', 'b', 'c']);
  });

  it('reads Polis secrets scoped to a tenant, product or directory, and names a bad entry by position only', () => {
    const config = loadConfig({ POLIS_SCOPED_SECRETS: 'acme=s1, globex/portal=s=2,a%2Fb/p%3Dq/dir-1=s3' });
    expect(config.polisScopedSecrets).toEqual([
      { tenant: 'acme', secret: 's1' },
      { tenant: 'globex', product: 'portal', secret: 's=2' },
      { tenant: 'a/b', product: 'p=q', directory: 'dir-1', secret: 's3' },
    ]);
    for (const bad of ['no-equals-sign-hunter2', 'acme=', '=hunter2', 'a/b/c/d=hunter2', 'acme//x=hunter2', '%zz=hunter2']) {
      const attempt = () => loadConfig({ POLIS_SCOPED_SECRETS: `ok=fine,${bad}` });
      expect(attempt).toThrow(ConfigError);
      expect(attempt).toThrow(/POLIS_SCOPED_SECRETS entry 2 must be/);
      expect(attempt).not.toThrow(/hunter2/);
    }
  });

  it('reads several Stytch secrets separated by spaces or commas', () => {
    const c = loadConfig({ STYTCH_WEBHOOK_SECRET: 'whsec_abc= whsec_def,whsec_ghi' });
    expect(c.stytchSecrets).toEqual(['whsec_abc=', 'whsec_def', 'whsec_ghi']);
  });

  it('refuses a Stytch secret that is not a Svix secret, without echoing it', () => {
    expect(() => loadConfig({ STYTCH_WEBHOOK_SECRET: 'whsec_ok hunter2' })).toThrow(/entry 2 is not a Svix secret/);
    try {
      loadConfig({ STYTCH_WEBHOOK_SECRET: 'hunter2' });
    } catch (error) {
      expect((error as Error).message).not.toContain('hunter2');
    }
  });

  it('names the bad setting', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(/PORT/);
    expect(() => loadConfig({ DATABASE_URL: 'mysql://x' })).toThrow(/DATABASE_URL/);
    expect(() => loadConfig({ WEBHOOK_TOLERANCE_SECONDS: '0' })).toThrow(/WEBHOOK_TOLERANCE_SECONDS/);
  });

  it('reads JWT sign-in only whole and safe: one key source, issuer and audience, algorithms that suit the key', () => {
    const base = { JWT_ISSUER: 'https://issuer.test', JWT_AUDIENCE: 'directory' };
    expect(loadConfig({}).jwt).toBeUndefined();
    expect(loadConfig({ ...base, JWT_JWKS_URL: 'https://issuer.test/jwks' }).jwt).toMatchObject({
      keys: { jwksUrl: 'https://issuer.test/jwks' },
      algorithms: ['RS256', 'ES256'],
      clockSkewSeconds: 30,
      jwksCooldownMs: 30_000,
      tenantClaim: 'dsync_tenant',
      adminClaim: 'dsync_admin',
    });
    expect(loadConfig({ ...base, JWT_SECRET: 'x'.repeat(32) }).jwt).toMatchObject({ algorithms: ['HS256'] });
    expect(loadConfig({ ...base, JWT_PUBLIC_KEY: '-----BEGIN PUBLIC KEY-----\\nAAAA\\n-----END PUBLIC KEY-----', JWT_ALGORITHMS: 'ES256' }).jwt?.keys).toEqual({
      publicKey: '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----',
    });
    expect(() => loadConfig({ ...base, JWT_JWKS_URL: 'https://issuer.test/jwks', JWT_SECRET: 'x'.repeat(32) })).toThrow(/one of JWT_JWKS_URL/);
    expect(() => loadConfig({ JWT_JWKS_URL: 'https://issuer.test/jwks' })).toThrow(/JWT_ISSUER and JWT_AUDIENCE/);
    // An HMAC algorithm with a public key is the algorithm-confusion attack: refused at start.
    expect(() => loadConfig({ ...base, JWT_JWKS_URL: 'https://issuer.test/jwks', JWT_ALGORITHMS: 'RS256,HS256' })).toThrow(/HS256 cannot be used with a public key/);
    expect(() => loadConfig({ ...base, JWT_SECRET: 'x'.repeat(32), JWT_ALGORITHMS: 'RS256' })).toThrow(/RS256 cannot be used with JWT_SECRET/);
    expect(() => loadConfig({ ...base, JWT_JWKS_URL: 'https://issuer.test/jwks', JWT_ALGORITHMS: 'none' })).toThrow(/none cannot be used/);
    expect(() => loadConfig({ ...base, JWT_SECRET: 'short' })).toThrow(/JWT_SECRET/);
    expect(() => loadConfig({ ...base, JWT_PUBLIC_KEY: 'pem', JWT_ALGORITHMS: 'RS256,ES256' })).toThrow(/one algorithm/);
  });

  it('holds METRICS_TOKEN to the rule of keys, and serves METRICS_PORT on loopback unless METRICS_HOST says otherwise', () => {
    for (const weak of ['x', 'short-token', 'has a space in it!!']) {
      expect(() => loadConfig({ METRICS_TOKEN: weak, NODE_ENV: 'production' })).toThrow(/METRICS_TOKEN: must be at least 16 characters with no spaces/);
    }
    expect(loadConfig({ METRICS_TOKEN: 'm'.repeat(24) }).metrics?.token).toBe('m'.repeat(24));
    expect(loadConfig({ METRICS_PORT: '9464', HOST: '0.0.0.0' }).metrics).toEqual({ token: undefined, port: 9464, host: '127.0.0.1' });
    expect(loadConfig({ METRICS_PORT: '9464', METRICS_HOST: '0.0.0.0' }).metrics?.host).toBe('0.0.0.0');
  });

  it('refuses sign-in tokens without an expiry unless JWT_MAX_AGE_SECONDS says how old one may be', () => {
    const jwt = { JWT_SECRET: 's'.repeat(40), JWT_ISSUER: 'https://i.test', JWT_AUDIENCE: 'a' };
    expect(loadConfig(jwt).jwt?.maxAgeSeconds).toBeUndefined();
    expect(loadConfig({ ...jwt, JWT_MAX_AGE_SECONDS: '900' }).jwt?.maxAgeSeconds).toBe(900);
    expect(() => loadConfig({ ...jwt, JWT_MAX_AGE_SECONDS: '0' })).toThrow(/JWT_MAX_AGE_SECONDS/);
  });

  it('treats empty values as unset (docker compose passes them)', () => {
    expect(loadConfig({ DATABASE_URL: '', STYTCH_WEBHOOK_SECRET: ' ' })).toMatchObject({ databaseUrl: undefined, stytchSecrets: [] });
  });
});

describe('first-run secrets', () => {
  it('are generated once into DATA_DIR, private, and reused', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'dsync-'));
    const first = await resolveSecrets(loadConfig({ DATA_DIR: dataDir }));
    expect(first.config.polisSecrets).toHaveLength(1);
    expect(first.config.stytchSecrets[0]).toMatch(/^whsec_/);
    expect(first.generated).toEqual({
      polis: first.config.polisSecrets[0],
      stytch: first.config.stytchSecrets[0],
      workos: first.config.workosSecrets[0],
      adminApiKey: first.config.adminApiKey,
    });
    expect(first.config.workosSecrets[0]).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(first.config.adminApiKey).toMatch(API_KEY_PATTERN);
    expect((await stat(join(dataDir, 'local-secrets.json'))).mode & 0o777).toBe(0o600);
    const again = await resolveSecrets(loadConfig({ DATA_DIR: dataDir }));
    expect(again.config.polisSecrets).toEqual(first.config.polisSecrets);
    expect(JSON.parse(await readFile(join(dataDir, 'local-secrets.json'), 'utf8'))).toEqual(first.generated);
  });

  it('fill in only what the environment leaves unset', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'dsync-'));
    const r = await resolveSecrets(loadConfig({ DATA_DIR: dataDir, POLIS_WEBHOOK_SECRET: 'mine' }));
    expect(r.config.polisSecrets).toEqual(['mine']);
    expect(r.generated.polis).toBeUndefined();
    expect(r.generated.stytch).toMatch(/^whsec_/);
  });

  it('are never generated in production, which refuses to start with none', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'dsync-'));
    await expect(resolveSecrets(loadConfig({ NODE_ENV: 'production', DATA_DIR: dataDir }))).rejects.toThrow(ConfigError);
    const one = await resolveSecrets(loadConfig({ NODE_ENV: 'production', DATA_DIR: dataDir, POLIS_WEBHOOK_SECRET: 'p' }));
    expect(one.config.stytchSecrets).toEqual([]);
    await expect(stat(join(dataDir, 'local-secrets.json'))).rejects.toThrow();
  });

  it('add a local admin API key for the embedded database, kept and reused', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'dsync-'));
    const first = await resolveSecrets(
      loadConfig({ DATA_DIR: dataDir, POLIS_WEBHOOK_SECRET: 'p', STYTCH_WEBHOOK_SECRET: 'whsec_abc', WORKOS_WEBHOOK_SECRET: 'w'.repeat(20) }),
    );
    expect(first.generated).toEqual({ adminApiKey: first.config.adminApiKey });
    expect(first.config.adminApiKey).toMatch(API_KEY_PATTERN);
    const file = JSON.parse(await readFile(join(dataDir, 'local-secrets.json'), 'utf8')) as Record<string, string>;
    expect(file.adminApiKey).toBe(first.config.adminApiKey);
    const again = await resolveSecrets(loadConfig({ DATA_DIR: dataDir }));
    expect(again.config.adminApiKey).toBe(first.config.adminApiKey);
  });

  it('refuse an ADMIN_API_KEY that could never be sent as a Bearer token, or is too short to be one', () => {
    for (const bad of ['has a space in it 0123456789', 'short']) {
      expect(() => loadConfig({ ADMIN_API_KEY: bad })).toThrow(/ADMIN_API_KEY: must be at least 16 characters with no spaces/);
    }
  });

  it('never make an admin key with ADMIN_API_KEY set, with DATABASE_URL, or in production', async () => {
    for (const env of [
      { ADMIN_API_KEY: 'my-own-admin-key-0123456789' },
      { DATABASE_URL: 'postgres://localhost/x' },
      { NODE_ENV: 'production', POLIS_WEBHOOK_SECRET: 'p' },
    ]) {
      const dataDir = await mkdtemp(join(tmpdir(), 'dsync-'));
      const r = await resolveSecrets(loadConfig({ DATA_DIR: dataDir, ...env }));
      expect(r.generated.adminApiKey, JSON.stringify(env)).toBeUndefined();
      expect(r.config.adminApiKey, JSON.stringify(env)).toBe(env.ADMIN_API_KEY);
      const text = await readFile(join(dataDir, 'local-secrets.json'), 'utf8').catch(() => '');
      expect(text, JSON.stringify(env)).not.toContain('dsk_');
    }
    // Everything configured, nothing to generate: no file at all.
    const dataDir = await mkdtemp(join(tmpdir(), 'dsync-'));
    await resolveSecrets(
      loadConfig({ DATA_DIR: dataDir, POLIS_WEBHOOK_SECRET: 'p', STYTCH_WEBHOOK_SECRET: 'whsec_abc', WORKOS_WEBHOOK_SECRET: 'w'.repeat(20), ADMIN_API_KEY: 'k'.repeat(32) }),
    );
    expect(await readdir(dataDir)).toEqual([]);
  });

  it('add the admin key and a WorkOS secret to a file from before them, once, privately, keeping the rest', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'dsync-'));
    const path = join(dataDir, 'local-secrets.json');
    const old = { polis: 'p'.repeat(64), stytch: 'whsec_c2VjcmV0', fromLater: 'kept' };
    await writeFile(path, JSON.stringify(old));
    await chmod(path, 0o644);

    // Several at once (the service and a CLI starting together) must agree on one key.
    const results = await Promise.all(Array.from({ length: 8 }, () => resolveSecrets(loadConfig({ DATA_DIR: dataDir }))));
    const keys = new Set(results.map((r) => r.config.adminApiKey));
    expect(keys.size).toBe(1);
    const [key] = [...keys];
    expect(key).toMatch(API_KEY_PATTERN);
    expect(results[0]!.config.polisSecrets).toEqual([old.polis]);

    const workos = new Set(results.map((r) => r.config.workosSecrets[0]));
    expect(workos.size).toBe(1);
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({ ...old, workos: [...workos][0], adminApiKey: key });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await readdir(dataDir)).toEqual(['local-secrets.json']);
  });

  it('agree on one file when several processes create it at once', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'dsync-'));
    const results = await Promise.all(Array.from({ length: 8 }, () => resolveSecrets(loadConfig({ DATA_DIR: dataDir }))));
    expect(new Set(results.map((r) => r.config.adminApiKey)).size).toBe(1);
    expect(new Set(results.map((r) => r.config.polisSecrets[0])).size).toBe(1);
    expect(await readdir(dataDir)).toEqual(['local-secrets.json']);
  });
});
