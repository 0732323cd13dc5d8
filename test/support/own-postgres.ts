// A throwaway Postgres cluster of a test's own, for tests that stop and restart the database
// server itself (which would take the shared TEST_DATABASE_URL server away from every other test
// file running in parallel). Built with the pg_ctl CI exports as TEST_PG_CTL, and initdb next to
// it; as root (TEST_PG_AS_ROOT=1) both run as the postgres user, since Postgres refuses root.
import { execFile } from 'node:child_process';
import { appendFile, chmod, chown, mkdir, mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { budget } from './time.js';

const run = promisify(execFile);

export const pgCtl = process.env.TEST_PG_CTL || undefined;
const asRoot = process.env.TEST_PG_AS_ROOT === '1';

export interface OwnPostgres {
  /** postgres:// URL of the cluster's `postgres` database. */
  url: string;
  port: number;
  /** Stops the server (fast shutdown: connections are terminated, as on a real restart). */
  stop(): Promise<void>;
  /** Starts it again on the same port and data. */
  start(): Promise<void>;
  /** The server's log, for failure messages. */
  log(): Promise<string>;
  /** Stops the server at once and deletes the cluster. */
  dispose(): Promise<void>;
}

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function pgUser(): Promise<{ uid: number; gid: number }> {
  const { stdout } = await run('id', ['-u', 'postgres']);
  const { stdout: g } = await run('id', ['-g', 'postgres']);
  return { uid: Number(stdout.trim()), gid: Number(g.trim()) };
}

export interface OwnPostgresOptions {
  /** Serve TLS with this certificate and key (PEM), and refuse connections without it. */
  tls?: { cert: string; key: string };
  /**
   * A streaming replica of this cluster instead of a new one: its data copied by pg_basebackup
   * with -R (a standby that follows the primary over replication), started on a port of its own.
   */
  replicaOf?: OwnPostgres;
}

export async function startOwnPostgres(own: OwnPostgresOptions = {}): Promise<OwnPostgres> {
  if (!pgCtl) throw new Error('TEST_PG_CTL is not set');
  // Where pg_ctl really is: a symlink on PATH (/usr/local/bin/pg_ctl) has no pg_basebackup beside it.
  const bin = dirname(await realpath(pgCtl));
  // Under /tmp, as CI's cluster is: the postgres user must reach it (a TMPDIR under root's home
  // would not do), and the socket path must stay short.
  const work = await mkdtemp('/tmp/dsync-own-pg-');
  // Run from the cluster's directory: the postgres user may not be able to enter ours.
  const asPg = (file: string, args: string[]) =>
    asRoot ? run('runuser', ['-u', 'postgres', '--', file, ...args], { cwd: work }) : run(file, args, { cwd: work });

  const data = join(work, 'data');
  const sock = join(work, 'sock');
  const logFile = join(work, 'server.log');
  await mkdir(sock);
  await chmod(work, 0o755);
  if (asRoot) {
    const { uid, gid } = await pgUser();
    for (const path of [work, sock]) await chown(path, uid, gid);
  }
  const port = await freePort();
  const options = `-p ${port} -k ${sock} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;

  const start = async () => {
    await asPg(pgCtl, ['-D', data, '-l', logFile, '-w', '-t', String(budget(60)), '-o', options, 'start']);
  };
  const stop = async (mode: 'fast' | 'immediate') => {
    await asPg(pgCtl, ['-D', data, '-m', mode, '-w', '-t', String(budget(60)), 'stop']);
  };

  try {
    if (own.replicaOf) {
      // initdb's pg_hba lets replication connections in from 127.0.0.1 with --auth=trust.
      await asPg(join(bin, 'pg_basebackup'), ['-D', data, '-R', '-X', 'stream', '-c', 'fast', '-h', '127.0.0.1', '-p', String(own.replicaOf.port), '-U', 'postgres']);
    } else await asPg(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '--encoding=UTF8']);
    if (own.tls && !own.replicaOf) {
      // TLS on, and TCP connections without it refused (the socket stays for pg_ctl).
      await writeFile(join(data, 'server.crt'), own.tls.cert);
      await writeFile(join(data, 'server.key'), own.tls.key, { mode: 0o600 });
      await appendFile(join(data, 'postgresql.conf'), "\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n");
      await writeFile(join(data, 'pg_hba.conf'), 'local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n');
      if (asRoot) {
        const { uid, gid } = await pgUser();
        for (const file of ['server.crt', 'server.key', 'postgresql.conf', 'pg_hba.conf']) await chown(join(data, file), uid, gid);
      }
    }
    await start();
  } catch (error) {
    await stop('immediate').catch(() => {});
    await rm(work, { recursive: true, force: true });
    throw error;
  }

  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    stop: () => stop('fast'),
    start,
    log: () => readFile(logFile, 'utf8').catch(() => ''),
    dispose: async () => {
      await stop('immediate').catch(() => {});
      await rm(work, { recursive: true, force: true });
    },
  };
}
