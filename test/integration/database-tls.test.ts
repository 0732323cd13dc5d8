// TLS to Postgres (issue 35): a Postgres of the test's own that serves TLS with a certificate made
// here (a CA of the test's, and a server certificate for 127.0.0.1 and localhost) and refuses
// connections without it. The URL's libpq parameters are what managed Postgres hands out:
// `sslmode=verify-full&sslrootcert=<ca>` connects and is encrypted; a CA that did not sign the
// server's certificate is refused; no TLS at all is refused by the server. The service runs on it
// as a real process from such a URL.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey } from '../../src/auth/api-keys.js';
import { openDatabase } from '../../src/db/open.js';
import { resultRows } from '../../src/db/result.js';
import { backend, onPostgres } from '../support/backend.js';
import { pgCtl, startOwnPostgres, type OwnPostgres } from '../support/own-postgres.js';
import { spawnService } from '../support/process.js';
import { stytchRequest, post } from '../support/server.js';
import { newStytchSecret } from '../support/sign.js';

const run = promisify(execFile);

let dir: string;
let pg: OwnPostgres;
let base: URL;

/** A CA, a server certificate it signs (for 127.0.0.1 and localhost), and a CA that signed nothing. */
async function certificates(at: string): Promise<void> {
  const openssl = (...args: string[]) => run('openssl', args, { cwd: at });
  await openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=directory-sync test CA');
  await openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  await writeFile(join(at, 'server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n');
  await openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '1', '-extfile', 'server.ext');
  await openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'other.key', '-out', 'other.crt', '-days', '1', '-subj', '/CN=another CA');
}

const withParams = (params: Record<string, string>) => {
  const url = new URL(base);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url.toString();
};

describe.skipIf(!onPostgres || !pgCtl)(`Postgres over TLS (${backend})`, () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dsync-tls-'));
    await certificates(dir);
    pg = await startOwnPostgres({ tls: { cert: await readFile(join(dir, 'server.crt'), 'utf8'), key: await readFile(join(dir, 'server.key'), 'utf8') } });
    base = new URL(pg.url);
  });
  afterAll(async () => {
    await pg?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it('connects with sslmode=verify-full against its CA, encrypted, and with require', async () => {
    const modes: Record<string, string>[] = [{ sslmode: 'verify-full', sslrootcert: join(dir, 'ca.crt') }, { sslmode: 'require' }];
    for (const params of modes) {
      const handle = await openDatabase({ databaseUrl: withParams(params), poolSize: 1 });
      try {
        const [row] = resultRows<{ ssl: boolean }>(await handle.db.execute(sql`select ssl from pg_stat_ssl where pid = pg_backend_pid()`));
        expect(row?.ssl, JSON.stringify(params)).toBe(true);
      } finally {
        await handle.close();
      }
    }
  });

  it('refuses a certificate its CA did not sign, a TLS mode no one knows, and no TLS at all', async () => {
    await expect(openDatabase({ databaseUrl: withParams({ sslmode: 'verify-full', sslrootcert: join(dir, 'other.crt') }), poolSize: 1 })).rejects.toThrow(/certificate/i);
    await expect(openDatabase({ databaseUrl: withParams({ sslmode: 'verify-everything' }), poolSize: 1 })).rejects.toThrow(/sslmode=verify-everything .*expected one of/);
    await expect(openDatabase({ databaseUrl: withParams({ sslmode: 'verify-full', sslrootcert: join(dir, 'missing.crt') }), poolSize: 1 })).rejects.toThrow(/sslrootcert=.*cannot read it/);
    await expect(openDatabase({ databaseUrl: withParams({ sslmode: 'disable' }), poolSize: 1 })).rejects.toThrow(/no encryption|pg_hba/i);
  });

  it('the service refuses to start on a certificate its CA did not sign, saying what to give it', async () => {
    const refused = await spawnService({
      DATABASE_URL: withParams({ sslmode: 'verify-full', sslrootcert: join(dir, 'other.crt') }),
      STYTCH_WEBHOOK_SECRET: newStytchSecret(),
      LOG_LEVEL: 'warn',
    }).then(
      () => undefined,
      (error: Error) => error.message,
    );
    expect(refused).toMatch(/exited with 1/);
    expect(refused).toMatch(/does not chain to the CA in sslrootcert/);
  });

  it('runs the service from a verify-full URL: a webhook is stored and read back', async () => {
    const stytchSecret = newStytchSecret();
    const adminKey = generateApiKey();
    const service = await spawnService({
      DATABASE_URL: withParams({ sslmode: 'verify-full', sslrootcert: join(dir, 'ca.crt') }),
      STYTCH_WEBHOOK_SECRET: stytchSecret,
      ADMIN_API_KEY: adminKey,
      LOG_LEVEL: 'warn',
    });
    try {
      const organization = `organization-tls-${randomBytes(4).toString('hex')}`;
      const sent = stytchRequest(stytchSecret, {
        action: 'CREATE',
        event_id: `event-${randomBytes(6).toString('hex')}`,
        id: organization,
        object_type: 'organization',
        project_id: 'project-test',
        source: 'DIRECT',
        timestamp: new Date().toISOString(),
        vertical: 'B2B',
        organization: { organization_id: organization, organization_name: 'Over TLS', organization_slug: 'over-tls' },
      });
      expect((await post(`${service.url}/webhooks/stytch`, sent.body, sent.headers)).status).toBe(200);
      const reply = await fetch(`${service.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${adminKey}` },
        body: JSON.stringify({ query: '{ tenants { edges { node { name } } } }' }),
      });
      expect(await reply.text()).toContain('Over TLS');
    } finally {
      await service.stop();
    }
  });
});
