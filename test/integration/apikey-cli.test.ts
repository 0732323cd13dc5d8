// `npm run apikey` as a real process, on the database the service would use: the embedded one
// in a temporary DATA_DIR, or a Postgres of its own through DATABASE_URL.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH_ERRORS, createAuthenticator, generateApiKey } from '../../src/auth/api-keys.js';
import { openDatabase, type DatabaseHandle } from '../../src/db/open.js';
import { tenants } from '../../src/db/schema.js';
import { backend, createPostgresDatabase, onPostgres } from '../support/backend.js';
import { runScript, seededDataDir, spawnService } from '../support/process.js';

const KEY = /dsk_[A-Za-z0-9_-]{43}/g;

let dataDir: string;
let env: Record<string, string>;
let dropDatabase: (() => Promise<void>) | undefined;

beforeAll(async () => {
  dataDir = await seededDataDir('dsync-apikey-');
  env = { DATA_DIR: dataDir, NODE_ENV: 'development' };
  if (onPostgres) {
    const created = await createPostgresDatabase();
    env.DATABASE_URL = created.url;
    dropDatabase = created.drop;
  }
});
afterAll(async () => {
  await dropDatabase?.();
});

const apikey = (...args: string[]) => runScript('src/cli/apikey.ts', args, env);

/** What the CLI says first, on stderr: the database it works on (a new terminal may not have the service's). */
const usingLine = () =>
  env.DATABASE_URL
    ? `apikey: using Postgres at ${new URL(env.DATABASE_URL).host}${new URL(env.DATABASE_URL).pathname} (from DATABASE_URL)\n`
    : `apikey: using the embedded database in ${join(dataDir, 'pglite')} (DATABASE_URL is not set)\n`;

/** The CLI's database, opened here only between CLI runs (PGlite allows one process). */
async function withDatabase<T>(fn: (handle: DatabaseHandle) => Promise<T>): Promise<T> {
  const handle = await openDatabase({ databaseUrl: env.DATABASE_URL, pgliteDir: join(dataDir, 'pglite') });
  try {
    return await fn(handle);
  } finally {
    await handle.close();
  }
}

describe(`npm run apikey (${backend})`, () => {
  let adminKey: string;
  let tenantKey: string;
  let tenantId: string;

  it('creates an admin key and prints it once', async () => {
    const result = await apikey('create', '--name', 'ci pipeline');
    expect(result.code, result.stderr).toBe(0);
    const keys = result.stdout.match(KEY) ?? [];
    expect(keys).toHaveLength(1);
    adminKey = keys[0]!;
    expect(result.stdout).toContain('admin key (every tenant) "ci pipeline"');
    expect(result.stdout).toMatch(/only time the key is shown/);
    expect(result.stdout).toContain(`prefix  ${adminKey.slice(0, 12)}`);
  });

  it("creates a tenant key from the tenant's GraphQL id", async () => {
    tenantId = await withDatabase(async ({ db }) => {
      const [row] = await db
        .insert(tenants)
        .values({ provider: 'STYTCH', externalId: 'organization-test-cli', name: 'Initech' })
        .returning({ id: tenants.id });
      return row!.id;
    });
    const globalId = Buffer.from(`Tenant:${tenantId}`).toString('base64url');
    const result = await apikey('create', '--name', 'initech portal', '--tenant', globalId);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`tenant key for tenant ${tenantId}`);
    tenantKey = (result.stdout.match(KEY) ?? [])[0]!;
    expect(tenantKey).toBeDefined();
  });

  it('lists both in an aligned table, newest first, without the keys', async () => {
    const result = await apikey('list');
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^ID\s+PREFIX\s+NAME\s+SCOPE\s+CREATED\s+LAST USED\s+STATUS$/);
    expect(lines[1]).toContain(tenantKey.slice(0, 12));
    expect(lines[1]).toContain(`tenant Initech (${tenantId})`);
    expect(lines[2]).toContain(adminKey.slice(0, 12));
    expect(lines[2]).toContain('admin (every tenant)');
    for (const line of lines.slice(1)) expect(line).toMatch(/\sactive$/);
    // Aligned: every column starts at the same place on every line.
    for (const column of ['PREFIX', 'NAME', 'SCOPE', 'CREATED', 'STATUS']) {
      const at = lines[0]!.indexOf(column);
      for (const line of lines.slice(1)) expect(line[at - 1], column).toBe(' ');
      for (const line of lines.slice(1)) expect(line[at], column).not.toBe(' ');
    }
    expect(result.stdout).not.toContain(adminKey);
    expect(result.stdout).not.toContain(tenantKey);
  });

  it('the printed keys work, each with its own scope', async () => {
    await withDatabase(async ({ db }) => {
      const authenticate = createAuthenticator(db, { bootstrapKeys: [] });
      expect(await authenticate(`Bearer ${adminKey}`)).toMatchObject({ kind: 'admin', name: 'ci pipeline' });
      expect(await authenticate(`Bearer ${tenantKey}`)).toMatchObject({ kind: 'tenant', tenantId });
      await authenticate.flush();
    });
  });

  it('revokes by prefix; the list then shows it revoked and the key stops working', async () => {
    const prefix = adminKey.slice(0, 12);
    const result = await apikey('revoke', prefix);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`Revoked ${prefix} "ci pipeline"`);

    const again = await apikey('revoke', prefix);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/was already revoked at/);

    const list = await apikey('list');
    const line = list.stdout.split('\n').find((l) => l.includes(prefix));
    expect(line).toMatch(/revoked \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
    expect(list.stdout.split('\n').find((l) => l.includes(tenantKey.slice(0, 12)))).toMatch(/active$/);

    await withDatabase(async ({ db }) => {
      const authenticate = createAuthenticator(db, { bootstrapKeys: [] });
      expect(await authenticate(`Bearer ${adminKey}`)).toEqual({ error: AUTH_ERRORS.invalid });
      expect(await authenticate(`Bearer ${tenantKey}`)).toMatchObject({ kind: 'tenant' });
      await authenticate.flush();
    });
  });

  it('answers a usage mistake with 2 and the usage', async () => {
    for (const args of [
      [],
      ['rotate'],
      ['create'],
      ['create', '--name', ''],
      ['create', '--name', 'x', '--tenant', 'acme'],
      ['create', '--name', 'x', '--bogus'],
      ['list', 'extra'],
      ['revoke'],
    ]) {
      const result = await apikey(...args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toMatch(/^apikey: .+\n\nUsage:/);
      expect(result.stdout, args.join(' ')).toBe('');
    }
    const help = await apikey('--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('npm run apikey -- create --name <label> [--tenant <tenant id>]');
  });

  it('answers an error with 1 and one line on stderr, after the line saying which database it used', async () => {
    const missingTenant = await apikey('create', '--name', 'x', '--tenant', '5b2f0c52-7f6e-4f7e-9a2c-1d3e5f7a9b0c');
    expect(missingTenant.code).toBe(1);
    expect(missingTenant.stderr).toBe(`${usingLine()}apikey: no tenant has id 5b2f0c52-7f6e-4f7e-9a2c-1d3e5f7a9b0c\n`);
    const unknown = await apikey('revoke', 'dsk_zzzzzzzz');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe(`${usingLine()}apikey: no API key matches dsk_zzzzzzzz\n`);
  });

  it('names the keys it accepts from elsewhere: ADMIN_API_KEY, and a local key only where it applies', async () => {
    const fromEnv = await runScript('src/cli/apikey.ts', ['list'], { ...env, ADMIN_API_KEY: generateApiKey() });
    expect(fromEnv.stdout).toContain('ADMIN_API_KEY from the environment: an admin key (every tenant)');
    if (!onPostgres) return;
    // On Postgres, an embedded run's key left in DATA_DIR is said not to apply (and not shown).
    const local = generateApiKey();
    await writeFile(
      join(dataDir, 'local-secrets.json'),
      JSON.stringify({ polis: randomBytes(32).toString('hex'), stytch: `whsec_${randomBytes(24).toString('base64')}`, adminApiKey: local }),
      { mode: 0o600 },
    );
    const listed = await apikey('list');
    expect(listed.stdout).toMatch(/local-secrets\.json holds an admin key for the embedded database only: it does not open this one/);
    expect(listed.stdout).not.toContain(local);
  });
});

// Only the embedded database has one process at a time.
describe.skipIf(onPostgres)(`npm run apikey while the service has the embedded database (${backend})`, () => {
  it('fails with a clear message and leaves the data alone, then works once the service stops', async () => {
    const dir = await seededDataDir('dsync-apikey-lock-');
    const service = await spawnService({ DATA_DIR: dir, NODE_ENV: 'development' });
    let stopped = false;
    try {
      for (const args of [['list'], ['create', '--name', 'while running']]) {
        const result = await runScript('src/cli/apikey.ts', args, { DATA_DIR: dir });
        expect(result.code, result.stderr).toBe(1);
        expect(result.stderr).toMatch(
          /^apikey: using the embedded database in \S+ \(DATABASE_URL is not set\)\napikey: the embedded database in \S+ is in use by process \d+ .*stop the service first, or set DATABASE_URL to use Postgres.*\n$/,
        );
        expect(result.stdout).toBe('');
      }
      const health = await fetch(`${service.url}/readyz`);
      expect(health.status).toBe(200);
      await service.stop('SIGTERM');
      stopped = true;

      const after = await runScript('src/cli/apikey.ts', ['list'], { DATA_DIR: dir });
      expect(after.code, after.stderr).toBe(0);
      expect(after.stdout).toMatch(/No API keys in the database yet/);
      // The key the service printed at start is listed too: it is the one that opens it.
      const printed = /Local admin API key[^\n]*\n\s+(dsk_\S+)/.exec(service.output())?.[1];
      expect(printed).toMatch(KEY);
      expect(after.stdout).toMatch(/Local admin key of the embedded database/);
      expect(after.stdout).toContain(printed!);
    } finally {
      if (!stopped) await service.stop('SIGKILL');
    }
  });

  it('takes over the lock of a process that died without releasing it', async () => {
    const dir = await seededDataDir('dsync-apikey-lock-');
    const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    await new Promise((resolve) => child.once('exit', resolve));
    await writeFile(
      join(dir, 'pglite.lock'),
      JSON.stringify({ pid: child.pid, host: 'here', token: 'crashed', since: new Date().toISOString() }),
    );
    const result = await runScript('src/cli/apikey.ts', ['create', '--name', 'after a crash'], { DATA_DIR: dir });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(KEY);
  });
});
