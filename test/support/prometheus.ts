// A real Prometheus for the tests: Debian's `prometheus` (which .ci/run installs), started on a
// free port with a config and data directory of its own, scraping the service as an operator's
// would. Nothing here interprets metrics: the tests ask Prometheus's HTTP API.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from './live.js';

const CANDIDATES = ['/usr/bin/prometheus', '/usr/local/bin/prometheus'];

/** TEST_PROMETHEUS, or a system Prometheus; undefined when there is none. */
export function findPrometheus(): string | undefined {
  const fromEnv = process.env.TEST_PROMETHEUS;
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`TEST_PROMETHEUS=${fromEnv} does not exist`);
    return fromEnv;
  }
  return CANDIDATES.find((path) => existsSync(path));
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || !address) throw new Error('no port');
  return address.port;
}

export interface Sample {
  metric: Record<string, string>;
  value: number;
}

export interface RunningPrometheus {
  url: string;
  /** An instant query: every series it returns with its value. */
  query(promql: string): Promise<Sample[]>;
  /** Prometheus's output so far, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

export interface ScrapeTarget {
  /** host:port */
  target: string;
  metricsPath?: string;
  bearerToken?: string;
}

export async function startPrometheus(binary: string, scrape: ScrapeTarget): Promise<RunningPrometheus> {
  const dir = await mkdtemp(join(tmpdir(), 'dsync-prometheus-'));
  const port = await freePort();
  const config = [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 1s',
    'scrape_configs:',
    '  - job_name: directory',
    `    metrics_path: ${scrape.metricsPath ?? '/metrics'}`,
    ...(scrape.bearerToken ? ['    authorization:', '      type: Bearer', `      credentials: ${scrape.bearerToken}`] : []),
    '    static_configs:',
    `      - targets: ['${scrape.target}']`,
    '',
  ].join('\n');
  await writeFile(join(dir, 'prometheus.yml'), config, { mode: 0o600 });
  let log = '';
  const child: ChildProcess = spawn(
    binary,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await eventually(
      async () => {
        if (child.exitCode !== null) throw new Error(`prometheus exited (${child.exitCode}): ${log}`);
        return (await fetch(`${url}/-/ready`).catch(() => undefined))?.ok === true;
      },
      30_000,
      'Prometheus to be ready',
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url,
    output: () => log,
    query: async (promql) => {
      const reply = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`);
      const body = (await reply.json()) as {
        status: string;
        error?: string;
        data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
      };
      if (body.status !== 'success') throw new Error(`Prometheus refused ${promql}: ${body.error}`);
      return (body.data?.result ?? []).map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
    },
    stop,
  };
}
