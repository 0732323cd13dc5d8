// `npm run replay` as a real process on the embedded database the service used (stopped first:
// PGlite allows one process), and its usage errors.
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { backend, onPostgres } from '../support/backend.js';
import { runScript, seededDataDir, spawnService } from '../support/process.js';
import { polisRequest, post } from '../support/server.js';

describe.skipIf(onPostgres)(`npm run replay (${backend})`, () => {
  it('replays the rejected deliveries it is asked for and says what became of them', async () => {
    const dataDir = await seededDataDir('dsync-replay-');
    const env = { DATA_DIR: dataDir, NODE_ENV: 'development' };
    const service = await spawnService(env);
    const { polis } = JSON.parse(await readFile(join(dataDir, 'local-secrets.json'), 'utf8')) as { polis: string };
    const unreadable = polisRequest(polis, { event: 'user.created', tenant: 't', product: 'p', directory_id: 'd', data: { uid: 'u-1' } });
    const readable = polisRequest(polis, { event: 'user.created', tenant: 't', product: 'p', directory_id: 'd', data: { id: 'u-2' } });
    const rejected = await post(`${service.url}/webhooks/polis`, unreadable.body, unreadable.headers);
    expect(rejected.body.status).toBe('rejected');
    expect((await post(`${service.url}/webhooks/polis`, readable.body, readable.headers)).body.status).toBe('applied');
    expect(await service.stop()).toBe(0);

    const dry = await runScript('src/cli/replay.ts', ['--dry-run'], env);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('1 deliveries read again (dry run: nothing applied)');
    expect(dry.stdout).toContain('rejected -> rejected: 1');

    const all = await runScript('src/cli/replay.ts', ['--status', 'all', '--source', 'polis'], env);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toContain('2 of 2 deliveries replayed; 0 changes reached the directory');
    expect(all.stdout).toContain('applied -> unchanged: 1');
    expect(all.stdout).toContain('rejected -> rejected: 1');
    expect(all.stdout).toContain('1 events still cannot be read');
    expect(all.stderr).toContain('replayed 2 of 2');

    const one = await runScript('src/cli/replay.ts', ['--delivery', rejected.body.deliveryId as string], env);
    expect(one.stdout).toContain('1 of 1 deliveries replayed');
    const none = await runScript('src/cli/replay.ts', ['--status', 'stale'], env);
    expect(none.stdout).toContain('no stored delivery matches');
    // Every provider the service takes webhooks from can be named, WorkOS too.
    const workos = await runScript('src/cli/replay.ts', ['--status', 'all', '--source', 'workos', '--dry-run'], env);
    expect(workos.code, workos.stderr).toBe(0);
    expect(workos.stdout).toContain('no stored delivery matches');
  });

  it('explains bad arguments with exit code 2', async () => {
    const env = { DATA_DIR: await mkdtemp(join(tmpdir(), 'dsync-replay-')) };
    for (const [args, message] of [
      [['--status', 'lost'], /--status must be one of rejected, stale/],
      [['--since', 'yesterday'], /--since: yesterday is not a time/],
      [['--delivery', '42'], /--delivery: 42 is not a delivery id/],
      [['--source', 'okta'], /--source must be polis, stytch or workos/],
    ] as const) {
      const result = await runScript('src/cli/replay.ts', [...args], env);
      expect(result.code, result.stdout).toBe(2);
      expect(result.stderr).toMatch(message);
    }
  });
});
