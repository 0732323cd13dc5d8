// A new user's first minutes, as real processes: `npm start` with nothing configured, then
// `npm run trigger`, a restart, and production's refusal to run without secrets.
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/open.js';
import { POLIS_SAMPLES, STYTCH_SAMPLE_NAMES, WORKOS_SAMPLE_NAMES } from '../../src/samples/events.js';
import { backend, createPostgresDatabase, onPostgres } from '../support/backend.js';
import { query } from '../support/db.js';
import { runScript, runShell, spawnService, startScript, type ServiceProcess } from '../support/process.js';
import { post } from '../support/server.js';

/** A port nothing listens on (taken and released). */
const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

/** The generated admin API key the banner shows, if any. */
const adminKeyIn = (output: string) => /Local admin API key[^\n]*\n\s+(dsk_\S+)/.exec(output)?.[1];

// The embedded database is what a first run uses; on the Postgres pass this has nothing to add.
describe.skipIf(onPostgres)(`first run on the embedded database (${backend})`, () => {
  let dataDir: string;
  let service: ServiceProcess;
  const trigger = (...args: string[]) =>
    runScript('src/cli/trigger.ts', [...args, '--url', service.url], { DATA_DIR: dataDir });

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'dsync-first-run-'));
    // package.json's own `npm start` command, as a newcomer runs it.
    service = await spawnService({ DATA_DIR: dataDir, NODE_ENV: 'development' }, { asNpmStart: true });
  });
  afterAll(async () => {
    if (service?.child.exitCode === null) await service.stop();
  });

  it('prints the URLs, the generated secrets and how to send an event', async () => {
    const out = service.output();
    expect(out).toContain(`POST ${service.url}/webhooks/polis`);
    expect(out).toContain(`POST ${service.url}/webhooks/stytch`);
    expect(out).toMatch(/POLIS_WEBHOOK_SECRET=[0-9a-f]{64}/);
    expect(out).toMatch(/STYTCH_WEBHOOK_SECRET=whsec_[A-Za-z0-9+/=]+/);
    expect(out).toMatch(/WORKOS_WEBHOOK_SECRET=[A-Za-z0-9_-]{32}/);
    expect(out).toContain(`POST ${service.url}/webhooks/workos`);
    expect(out).toContain('npm run trigger -- stytch member.created');

    const file = join(dataDir, 'local-secrets.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const secrets = JSON.parse(await readFile(file, 'utf8')) as { polis: string; stytch: string; adminApiKey: string };
    expect(out).toContain(secrets.stytch);

    // A local admin API key for GraphiQL, kept with the secrets and printed ready to paste.
    expect(secrets.adminApiKey).toMatch(/^dsk_[A-Za-z0-9_-]{43}$/);
    expect(adminKeyIn(out)).toBe(secrets.adminApiKey);
    expect(out).toContain(`${service.url}/graphiql`);
    expect(out).toContain(`{"Authorization": "Bearer ${secrets.adminApiKey}"}`);
    // It goes by what it is, not by a setting the newcomer never set.
    const viewer = await fetch(`${service.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${secrets.adminApiKey}` },
      body: JSON.stringify({ query: '{ viewer { name } }' }),
    });
    expect(await viewer.json()).toEqual({ data: { viewer: { name: 'local admin key' } } });
  });

  it('`npm run trigger -- stytch member.created` shows an accepted event', async () => {
    const result = await trigger('stytch', 'member.created');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('200 OK');
    expect(result.stdout).toContain('"status": "applied"');
  });

  it('each member.updated is a real change, --set sets fields, and mistakes are explained', async () => {
    for (let i = 0; i < 2; i++) {
      const updated = await trigger('stytch', 'member.updated');
      expect(updated.code, updated.stderr).toBe(0);
      // Not "unchanged": each update sample renames the member anew.
      expect(updated.stdout).toContain('"status": "applied"');
    }
    const set = await trigger('stytch', 'member.updated', '--set', 'email_address=ada.king@acme.example', '--set', 'name=Ada King');
    expect(set.stdout).toContain('"status": "applied"');
    const reply = await fetch(`${service.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${adminKeyIn(service.output())}` },
      body: JSON.stringify({ query: '{ members(first: 5) { edges { node { email name } } } }' }),
    });
    const members = ((await reply.json()) as { data: { members: { edges: { node: { email: string; name: string } }[] } } }).data.members.edges;
    expect(members.map((e) => e.node)).toEqual([{ email: 'ada.king@acme.example', name: 'Ada King' }]);

    // The CLI's exit code and message for a --set mistake (the others: test/unit/sample-edit.test.ts).
    const noValue = await trigger('stytch', 'member.updated', '--set', 'name');
    expect(noValue.code).toBe(2);
    expect(noValue.stderr).toMatch(/--set takes <field>=<value>, not name/);
    const typo = await trigger('stytch', 'member.updated', '--set', 'nme=x');
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/has no field nme \(did you mean name\?\).*use --add nme=x/s);
    const withAll = await trigger('--all', '--set', 'name=x');
    expect(withAll.code).toBe(2);
    expect(withAll.stderr).toMatch(/--set edits one event/);
  });

  it('can send every event it lists, for both providers, in one run', async () => {
    const list = await runScript('src/cli/trigger.ts', ['--list'], { DATA_DIR: dataDir });
    expect(list.code).toBe(0);
    const names = [...list.stdout.matchAll(/^ {2}(polis|stytch|workos) (\S+)$/gm)].map((m) => `${m[1]!} ${m[2]!}`);
    expect(names).toHaveLength(Object.keys(POLIS_SAMPLES).length + STYTCH_SAMPLE_NAMES.length + WORKOS_SAMPLE_NAMES.length);
    expect(names.length).toBe(16 + 18 + 16);

    const all = await trigger('--all');
    expect(all.code, `${all.stdout}${all.stderr}`).toBe(0);
    // One progress line an event, in --list's order, each accepted.
    const lines = [...all.stdout.matchAll(/^\[\s*(\d+)\/(\d+)\] (\d{3}) [^\n]*? {2}(polis|stytch|workos) (\S+)/gm)];
    expect(lines.map((m) => `${m[4]!} ${m[5]!}`)).toEqual(names);
    for (const m of lines) {
      expect(m[2]).toBe(String(names.length));
      expect(m[3], m[0]).toBe('200');
    }
    expect(all.stdout).toContain(`${names.length} of ${names.length} events accepted`);
  });

  it('--all for one source sends only its events, and says which were refused', async () => {
    const polis = await trigger('--all', 'polis');
    expect(polis.code).toBe(0);
    expect(polis.stdout).toContain(`${Object.keys(POLIS_SAMPLES).length} of ${Object.keys(POLIS_SAMPLES).length} events accepted`);
    expect(polis.stdout).not.toMatch(/ stytch /);
    const unknown = await trigger('--all', 'workday');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown source workday/);
    // Signed with a secret the service does not have: each is refused, and the run fails.
    const forged = await runScript('src/cli/trigger.ts', ['--all', 'stytch', '--url', service.url], {
      DATA_DIR: dataDir,
      STYTCH_WEBHOOK_SECRET: 'whsec_bm90IHRoZSBzZXJ2aWNlJ3Mgc2VjcmV0IGF0IGFsbA==',
    });
    expect(forged.code).toBe(1);
    expect(forged.stdout).toContain(`0 of ${STYTCH_SAMPLE_NAMES.length} events accepted, ${STYTCH_SAMPLE_NAMES.length} refused`);
    expect(forged.stdout).toMatch(/401 Unauthorized {2}stytch member\.created/);
  });

  it('explains what it cannot do', async () => {
    const unknown = await trigger('stytch', 'member.exploded');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown stytch event member\.exploded.*--list/);
    const port = await freePort();
    const nobody = await runScript('src/cli/trigger.ts', ['stytch', 'member.created', '--url', `http://127.0.0.1:${port}`], {
      DATA_DIR: dataDir,
    });
    expect(nobody.code).toBe(1);
    expect(nobody.stderr).toMatch(/nothing is listening.*npm start/);
  });

  it('stops cleanly, restarts with the same secrets, and keeps its data', async () => {
    const firstOutput = service.output();
    expect(await service.stop('SIGTERM')).toBe(0);
    service = await spawnService({ DATA_DIR: dataDir, NODE_ENV: 'development' });
    const secretLine = (text: string) => /STYTCH_WEBHOOK_SECRET=(\S+)/.exec(text)?.[1];
    expect(secretLine(service.output())).toBe(secretLine(firstOutput));
    expect(adminKeyIn(service.output())).toBeDefined();
    expect(adminKeyIn(service.output())).toBe(adminKeyIn(firstOutput));

    const updated = await trigger('stytch', 'member.updated');
    expect(updated.stdout).toContain('"status": "applied"');
    expect(await service.stop('SIGTERM')).toBe(0);

    const database = await openDatabase({ pgliteDir: join(dataDir, 'pglite') });
    try {
      const [member] = await query(database, sql`select email, deleted_at from members where external_id like 'member-live-%'`);
      expect(member).toBeDefined();
      const [deliveries] = await query(database, sql`select count(*)::int as n from deliveries`);
      // One from the first test, 3 updates, 50 from --all, 16 from --all polis, one after the restart.
      expect(deliveries!.n).toBe(1 + 3 + 50 + 16 + 1);
    } finally {
      await database.close();
    }
  });
});

describe.skipIf(onPostgres)(`production mode (${backend})`, () => {
  it('refuses to start without webhook secrets', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'dsync-prod-'));
    const result = await runScript('src/main.ts', [], { NODE_ENV: 'production', DATA_DIR: dataDir, PORT: '0' });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/refusing to start in production without webhook secrets/);
    await expect(stat(join(dataDir, 'local-secrets.json'))).rejects.toThrow();
  });

  it('with one provider configured, refuses every delivery for the other, signed or not', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'dsync-prod-'));
    const service = await spawnService({
      NODE_ENV: 'production',
      DATA_DIR: dataDir,
      STYTCH_WEBHOOK_SECRET: 'whsec_dGhpcyBpcyBub3QgYSByZWFsIHNlY3JldA==',
    });
    try {
      const json = { 'content-type': 'application/json' };
      const polis = await post(`${service.url}/webhooks/polis`, '{"event":"user.created"}', json);
      expect(polis.status).toBe(401);
      expect(polis.body.error).toMatch(/not configured.*POLIS_WEBHOOK_SECRET/);
      const stytch = await post(`${service.url}/webhooks/stytch`, '{"action":"CREATE"}', json);
      expect(stytch.status).toBe(401);
      expect(service.output()).toMatch(/no POLIS_WEBHOOK_SECRET/);
      expect(service.output()).not.toMatch(/STYTCH_WEBHOOK_SECRET=/);
      // Production never generates an admin key either.
      expect(service.output()).not.toMatch(/dsk_|admin API key/);
      await expect(stat(join(dataDir, 'local-secrets.json'))).rejects.toThrow();
    } finally {
      expect(await service.stop()).toBe(0);
    }
  });
});

// Postgres may be shared by instances with different DATA_DIRs: no local admin key there.
describe.skipIf(!onPostgres)(`first run on Postgres (${backend})`, () => {
  it('generates webhook secrets but no admin API key', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'dsync-first-run-pg-'));
    const database = await createPostgresDatabase();
    const service = await spawnService({ DATA_DIR: dataDir, NODE_ENV: 'development', DATABASE_URL: database.url });
    try {
      const out = service.output();
      expect(out).toMatch(/STYTCH_WEBHOOK_SECRET=whsec_/);
      expect(out).not.toMatch(/dsk_|admin API key/);
      // How to get a key, here and under Docker Compose, and a trigger hint for this port.
      expect(out).toContain('GraphQL needs an API key. Create an admin key (the service can keep running):');
      expect(out).toContain(`  DATABASE_URL=${database.url} npm run apikey -- create --name admin`);
      expect(out).toContain('  docker compose exec app node dist/cli/apikey.js create --name admin');
      expect(out).toContain(`  PORT=${new URL(service.url).port} npm run trigger -- stytch member.created`);
      const secrets = JSON.parse(await readFile(join(dataDir, 'local-secrets.json'), 'utf8')) as Record<string, unknown>;
      expect(secrets.stytch).toMatch(/^whsec_/);
      expect(secrets).not.toHaveProperty('adminApiKey');

      // The printed command, run as printed from a new terminal (none of the service's
      // environment), makes a key for this database: the service takes it.
      const command = /Create an admin key[^\n]*\n\s+(.+)\n/.exec(out)?.[1];
      expect(command).toMatch(/npm run apikey/);
      const made = await runShell(command!, {});
      expect(made.code, made.stderr).toBe(0);
      expect(made.stderr).toContain(`apikey: using Postgres at ${new URL(database.url).host}${new URL(database.url).pathname} (from DATABASE_URL)`);
      const key = /dsk_[A-Za-z0-9_-]{43}/.exec(made.stdout)?.[0];
      const viewer = await fetch(`${service.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({ query: '{ viewer { name } }' }),
      });
      expect(viewer.status).toBe(200);
      expect(await viewer.json()).toEqual({ data: { viewer: { name: 'admin' } } });
    } finally {
      expect(await service.stop()).toBe(0);
      await database.drop();
    }
  });
});

// A database that cannot be opened is one line saying where, why and what to check, never a
// stack; a wait for one that may be starting says so once, not at every attempt.
describe('when the database cannot be opened', () => {
  it.skipIf(onPostgres)('nothing listening at DATABASE_URL: one line with what to check, while it waits', async () => {
    const port = await freePort();
    const dataDir = await mkdtemp(join(tmpdir(), 'dsync-no-db-'));
    const started = startScript('src/main.ts', { DATA_DIR: dataDir, NODE_ENV: 'development', DATABASE_URL: `postgres://postgres:secret@127.0.0.1:${port}/directory`, PORT: '0' });
    const out = await started.waitFor(/Waiting up to 60 s/);
    await started.stop();
    expect(out).toContain(`cannot open Postgres at 127.0.0.1:${port}/directory: `);
    expect(out).toContain('Nothing is listening there: is Postgres running, and are the host and port in DATABASE_URL right?');
    expect(out).not.toMatch(/\n\s+at /);
    expect(out).not.toContain('secret');
  });

  it.runIf(onPostgres)('a database that does not exist: stops at once, saying how to create it', async () => {
    const url = new URL(process.env.TEST_DATABASE_URL!);
    url.pathname = `/dsync_missing_${Date.now().toString(36)}`;
    const result = await runScript('src/main.ts', [], { DATABASE_URL: url.toString(), DATA_DIR: await mkdtemp(join(tmpdir(), 'dsync-no-db-')), PORT: '0' });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `failed to start: cannot open Postgres at ${url.host}${url.pathname}: database "${url.pathname.slice(1)}" does not exist (3D000). ` +
        'That database does not exist: create it (createdb <name>) or fix its name in DATABASE_URL\n',
    );
  });
});

