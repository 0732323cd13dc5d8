// The lock PGlite lacks: one owner at a time, taken over only from a process that is gone.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  acquirePgliteLock,
  PgliteLockedError,
  pgliteLockFile,
  tryLock,
  waitForLock,
} from '../../src/db/pglite-lock.js';
import { budget } from '../support/time.js';

const children: ReturnType<typeof spawn>[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill();
});

/** A live process that is not this one. */
function liveProcess(): number {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
  children.push(child);
  return child.pid!;
}

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid!;
}

const ownerFile = (pid: number, token = 'someone-else') =>
  JSON.stringify({ pid, host: 'elsewhere', token, since: '2026-01-01T00:00:00.000Z' });

async function tempDir() {
  return mkdtemp(join(tmpdir(), 'dsync-lock-'));
}

describe('PGlite data directory lock', () => {
  it('is a file next to the directory naming this process, removed on release', async () => {
    const dir = join(await tempDir(), 'pglite');
    const release = await acquirePgliteLock(dir);
    const lockFile = pgliteLockFile(dir);
    expect(lockFile).toBe(`${dir}.lock`);
    expect(JSON.parse(await readFile(lockFile, 'utf8'))).toMatchObject({ pid: process.pid });
    await release();
    await expect(readFile(lockFile)).rejects.toThrow(/ENOENT/);
    // No drafts or stale copies left behind.
    expect(await readdir(join(dir, '..'))).toEqual([]);
  });

  it('refuses a second holder in the same process until released', async () => {
    const dir = join(await tempDir(), 'pglite');
    const release = await acquirePgliteLock(dir);
    await expect(acquirePgliteLock(dir)).rejects.toThrow(PgliteLockedError);
    await release();
    const again = await acquirePgliteLock(dir);
    await again();
  });

  it('refuses while another live process holds it, saying who and what to do', async () => {
    const dir = join(await tempDir(), 'pglite');
    const pid = liveProcess();
    await writeFile(pgliteLockFile(dir), ownerFile(pid));
    const error = await acquirePgliteLock(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PgliteLockedError);
    expect((error as Error).message).toContain(`process ${pid}`);
    expect((error as Error).message).toMatch(/stop the service first, or set DATABASE_URL/);
    // Still theirs.
    expect(JSON.parse(await readFile(pgliteLockFile(dir), 'utf8'))).toMatchObject({ pid });
  });

  it('takes over a lock whose process is gone, or that is unreadable', async () => {
    const dir = join(await tempDir(), 'pglite');
    await writeFile(pgliteLockFile(dir), ownerFile(await deadPid()));
    const release = await acquirePgliteLock(dir);
    expect(JSON.parse(await readFile(pgliteLockFile(dir), 'utf8'))).toMatchObject({ pid: process.pid });
    await release();

    await writeFile(pgliteLockFile(dir), 'not json');
    await (await acquirePgliteLock(dir))();
  });

  it("takes over a lock with this process's pid that this process does not hold (a restarted container)", async () => {
    const dir = join(await tempDir(), 'pglite');
    await writeFile(pgliteLockFile(dir), ownerFile(process.pid, 'previous-run'));
    await (await acquirePgliteLock(dir))();
  });

  it('gives it to exactly one of many concurrent takers, even over a stale lock', async () => {
    for (const stale of [false, true]) {
      const lockFile = join(await tempDir(), 'x.lock');
      if (stale) await writeFile(lockFile, ownerFile(await deadPid()));
      const results = await Promise.all(Array.from({ length: 20 }, () => tryLock(lockFile)));
      const winners = results.filter((r) => 'release' in r);
      expect(winners).toHaveLength(1);
      for (const r of results) if (!('release' in r)) expect(r).toMatchObject({ owner: { pid: process.pid } });
    }
  });

  it('release never removes a lock someone else now holds', async () => {
    const lockFile = join(await tempDir(), 'x.lock');
    const result = await tryLock(lockFile);
    if (!('release' in result)) throw new Error('expected the lock');
    await writeFile(lockFile, ownerFile(liveProcess()));
    await result.release();
    expect(await readFile(lockFile, 'utf8')).toContain('someone-else');
  });

  it('waitForLock serialises many short holders without giving up', async () => {
    const lockFile = join(await tempDir(), 'x.lock');
    let inside = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 30 }, async () => {
        const release = await waitForLock(lockFile, budget(5000));
        most = Math.max(most, ++inside);
        await new Promise((r) => setTimeout(r, 1));
        inside--;
        await release();
      }),
    );
    expect(most).toBe(1);
  });

  it('excludes across processes: holders never overlap', async () => {
    const dir = await tempDir();
    const log = join(dir, 'log');
    const script = join(dir, 'worker.mts');
    const lockModule = new URL('../../src/db/pglite-lock.ts', import.meta.url).href;
    await writeFile(
      script,
      `import { appendFileSync } from 'node:fs';
       import { waitForLock } from '${lockModule}';
       for (let i = 0; i < 15; i++) {
         const release = await waitForLock(${JSON.stringify(join(dir, 'x.lock'))}, ${budget(30_000)});
         appendFileSync(${JSON.stringify(log)}, 'in ' + process.pid + '\\n');
         await new Promise((r) => setTimeout(r, 2));
         appendFileSync(${JSON.stringify(log)}, 'out ' + process.pid + '\\n');
         await release();
       }`,
    );
    const codes = await Promise.all(
      Array.from({ length: 5 }, () => {
        const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: 'inherit' });
        children.push(child);
        return new Promise<number | null>((resolve) => child.once('exit', resolve));
      }),
    );
    expect(codes).toEqual([0, 0, 0, 0, 0]);
    const lines = (await readFile(log, 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(5 * 15 * 2);
    for (let i = 0; i < lines.length; i += 2) {
      const pid = lines[i]!.split(' ')[1];
      expect([lines[i], lines[i + 1]]).toEqual([`in ${pid}`, `out ${pid}`]);
    }
  }, budget(60_000));

  it('waitForLock waits for a short-lived holder', async () => {
    const lockFile = join(await tempDir(), 'x.lock');
    const first = await waitForLock(lockFile);
    setTimeout(() => void first(), 100);
    const started = Date.now();
    const second = await waitForLock(lockFile);
    expect(Date.now() - started).toBeGreaterThanOrEqual(80);
    await second();
  });
});
