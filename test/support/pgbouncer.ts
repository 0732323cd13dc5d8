// A real PgBouncer (Debian's `pgbouncer`) in transaction mode in front of a Postgres, on a free
// port: for the pooler test, and for the `pgbouncer` project, which runs the ingest, live and
// isolation suites' main files through one (global-setup.ts starts it when TEST_PGBOUNCER names
// the binary, as CI does). PgBouncer refuses to run as root: as root it runs as postgres.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmod, chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './own-postgres.js';
import { budget } from './time.js';

const run = promisify(execFile);
export const PGBOUNCER = process.env.TEST_PGBOUNCER || '/usr/sbin/pgbouncer';
const asRoot = process.env.TEST_PG_AS_ROOT === '1';

export const pgbouncerRuns = (): Promise<boolean> =>
  run(PGBOUNCER, ['--version']).then(
    () => true,
    () => false,
  );

export interface PgBouncer {
  port: number;
  /** What it printed (its log goes to stderr). */
  log(): string;
  stop(): Promise<void>;
}

/** Starts PgBouncer in transaction mode in front of the server `directUrl` names, for any database on it. */
export async function startPgBouncer(directUrl: string): Promise<PgBouncer> {
  const direct = new URL(directUrl);
  const dir = await mkdtemp('/tmp/dsync-pgbouncer-');
  const port = await freePort();
  await writeFile(join(dir, 'userlist.txt'), `"${direct.username || 'postgres'}" ""\n`);
  await writeFile(
    join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `* = host=${direct.hostname} port=${direct.port || 5432}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      "unix_socket_dir = ''",
      'auth_type = trust',
      `auth_file = ${join(dir, 'userlist.txt')}`,
      'pool_mode = transaction',
      'max_client_conn = 2000',
      'default_pool_size = 20',
      'ignore_startup_parameters = extra_float_digits',
      '',
    ].join('\n'),
  );
  await chmod(dir, 0o755);
  if (asRoot) {
    const { stdout: uid } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    for (const f of ['', 'userlist.txt', 'pgbouncer.ini']) await chown(join(dir, f), Number(uid), Number(gid));
  }
  const args = [join(dir, 'pgbouncer.ini')];
  const child: ChildProcess = asRoot ? spawn('runuser', ['-u', 'postgres', '--', PGBOUNCER, ...args]) : spawn(PGBOUNCER, args);
  let log = '';
  child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const listening = () =>
    new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => (socket.end(), resolve(true)));
      socket.on('error', () => resolve(false));
    });
  const deadline = Date.now() + budget(30_000);
  while (!(await listening())) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
      throw new Error(`PgBouncer did not listen on ${port}: ${log.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    port,
    log: () => log,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** `directUrl` through the pooler on `port`: the same database, user and parameters. */
export function throughPooler(directUrl: string, port: number): string {
  const pooled = new URL(directUrl);
  pooled.hostname = '127.0.0.1';
  pooled.port = String(port);
  return pooled.toString();
}
