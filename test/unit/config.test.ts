import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
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
    });
  });

  it('reads several Polis secrets from POLIS_WEBHOOK_SECRET and WEBHOOK_SECRET', () => {
    const c = loadConfig({ POLIS_WEBHOOK_SECRET: 'a, b', WEBHOOK_SECRET: 'c,a' });
    expect(c.polisSecrets).toEqual(['a', 'b', 'c']);
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
    expect(first.generated).toEqual({ polis: first.config.polisSecrets[0], stytch: first.config.stytchSecrets[0] });
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
});
