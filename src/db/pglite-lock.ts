// PGlite runs Postgres inside the process and takes no lock on its data directory: a second
// process that opens it (say `npm run apikey` while `npm start` runs) is let in, and one of
// them silently loses its writes (seen with @electric-sql/pglite 0.5.16). This is the lock it
// lacks: a file next to the directory naming the owning process, taken over only once that
// process is gone, so a crash never leaves the database locked.
import { randomBytes } from 'node:crypto';
import { link, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { z } from 'zod';
import { errorCode, readTextIfExists } from '../lib/files.js';

const ownerSchema = z.object({
  pid: z.number().int().positive(),
  host: z.string(),
  token: z.string().min(1),
  since: z.string(),
});
export type LockOwner = z.infer<typeof ownerSchema>;

export type Release = () => Promise<void>;

/** Tokens of the locks this process holds: its own pid in a lock file proves nothing else. */
const heldHere = new Set<string>();


/** The lock file's owner; undefined when there is no lock file, null when it is unreadable. */
async function readOwner(file: string): Promise<LockOwner | null | undefined> {
  const text = await readTextIfExists(file);
  if (text === undefined) return undefined;
  try {
    const parsed = ownerSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

function isAlive(owner: LockOwner): boolean {
  if (heldHere.has(owner.token)) return true;
  // Our own pid but not our token: a previous run that had the same pid (a container restart).
  if (owner.pid === process.pid) return false;
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return errorCode(error) === 'EPERM';
  }
}

export type TryLockResult =
  | { release: Release }
  | { owner: LockOwner }
  /** Other processes kept taking and releasing it while we tried: busy, owner unknown. */
  | { contended: true };

/**
 * Takes the lock file if no live process holds it. Resolves to a release function, or to the
 * owner that holds it. Never waits.
 */
export async function tryLock(lockFile: string): Promise<TryLockResult> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const owner: LockOwner = {
      pid: process.pid,
      host: hostname(),
      token: randomBytes(12).toString('hex'),
      since: new Date().toISOString(),
    };
    // Written aside, then linked into place: link() fails if the lock exists, like 'wx', but
    // the lock never exists half-written, so a reader never mistakes it for garbage.
    const draft = `${lockFile}.${owner.token}.tmp`;
    await writeFile(draft, `${JSON.stringify(owner)}\n`, { mode: 0o600, flag: 'wx' });
    try {
      await link(draft, lockFile);
      heldHere.add(owner.token);
      return { release: () => release(lockFile, owner.token) };
    } catch (error) {
      if (errorCode(error) !== 'EEXIST') throw error;
    } finally {
      await unlink(draft).catch(() => {});
    }

    const current = await readOwner(lockFile);
    if (current === undefined) continue; // released meanwhile
    if (current !== null && isAlive(current)) return { owner: current };

    // Stale. Only the holder of the takeover guard may remove it, and only if it is still the
    // same stale lock: moving it aside without a guard lets two takers each remove a lock the
    // other had just taken, and both would win.
    const guard = await takeGuard(`${lockFile}.takeover`);
    if (!guard) {
      await sleep(2 + Math.random() * 8);
      continue;
    }
    try {
      const again = await readOwner(lockFile);
      const same = again === null ? current === null : again !== undefined && again.token === current?.token;
      if (same) await unlink(lockFile).catch(() => {});
    } finally {
      await guard();
    }
  }
  return { contended: true };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The guard serialising stale-lock takeovers: a file created exclusively, held for a moment.
 * One left by a process that died holding it is removed (that needs a crash inside a crash).
 */
async function takeGuard(guardFile: string): Promise<Release | undefined> {
  const token = randomBytes(12).toString('hex');
  const draft = `${guardFile}.${token}.tmp`;
  await writeFile(draft, `${JSON.stringify({ pid: process.pid, host: hostname(), token, since: new Date().toISOString() })}\n`, {
    mode: 0o600,
    flag: 'wx',
  });
  try {
    await link(draft, guardFile);
    heldHere.add(token);
    return async () => {
      const current = await readOwner(guardFile);
      if (current?.token === token) await unlink(guardFile).catch(() => {});
      heldHere.delete(token);
    };
  } catch (error) {
    if (errorCode(error) !== 'EEXIST') throw error;
    const holder = await readOwner(guardFile);
    if (holder && !isAlive(holder)) await unlink(guardFile).catch(() => {});
    return undefined;
  } finally {
    await unlink(draft).catch(() => {});
  }
}

async function release(lockFile: string, token: string): Promise<void> {
  if (!heldHere.has(token)) return;
  // Still counted as held until the file is gone: were it stale in between, another taker
  // could replace it and this unlink would remove their lock instead.
  try {
    const current = await readOwner(lockFile);
    if (current?.token === token) await unlink(lockFile).catch(() => {});
  } finally {
    heldHere.delete(token);
  }
}

/** Polls tryLock for a lock that is only ever held for a moment. */
export async function waitForLock(lockFile: string, timeoutMs = 5000): Promise<Release> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await tryLock(lockFile);
    if ('release' in result) return result.release;
    if (Date.now() > deadline) {
      const by = 'owner' in result ? `process ${result.owner.pid}` : 'other processes';
      throw new Error(`${lockFile} is held by ${by}; delete it if no such process is running`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

export class PgliteLockedError extends Error {
  override name = 'PgliteLockedError';
  constructor(
    readonly dir: string,
    readonly lockFile: string,
    readonly owner: LockOwner,
  ) {
    const where = owner.host === hostname() ? `process ${owner.pid}` : `process ${owner.pid} on ${owner.host}`;
    super(
      `the embedded database in ${dir} is in use by ${where} (since ${owner.since}) and PGlite allows one process at a time: ` +
        `stop the service first, or set DATABASE_URL to use Postgres. If no such process is running, delete ${lockFile}`,
    );
  }
}

export const pgliteLockFile = (dir: string) => `${dir.replace(/[/\\]+$/, '')}.lock`;

/**
 * Takes `<dir>.lock` for a PGlite data directory, or throws PgliteLockedError naming the
 * process that has it. Call before PGlite.create; the release belongs in close().
 */
export async function acquirePgliteLock(dir: string): Promise<Release> {
  const lockFile = pgliteLockFile(dir);
  const result = await tryLock(lockFile);
  if ('release' in result) return result.release;
  if ('owner' in result) throw new PgliteLockedError(dir, lockFile, result.owner);
  throw new Error(`the embedded database in ${dir} is being opened by other processes at this moment; try again`);
}
