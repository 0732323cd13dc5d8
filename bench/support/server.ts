// Starts the real service as its own process for a benchmark, so the load generator and the
// server do not share an event loop. It runs as it is deployed (the Docker image): the build,
// `node dist/main.js`, made once per checkout and run (`npm run build`); BENCH_RUN=tsx runs the
// sources through tsx instead, whose loader adds memory and start-up time of its own.
// BENCH_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=prof") profiles the server under load.
import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The per-key caps off: a benchmark's one key stands for many clients. */
export const BENCH_UNCAPPED: Record<string, string> = {
  GRAPHQL_RATE_PER_KEY: '0',
  GRAPHQL_MAX_CONCURRENT_PER_KEY: '10000',
  WS_MAX_SOCKETS_PER_KEY: '1000000',
  WS_MAX_SUBSCRIPTIONS_PER_KEY: '10000000',
};

export interface BenchServer {
  url: string;
  pid: number;
  /** Everything the server printed so far. */
  output(): string;
  stop(): Promise<void>;
}

const builds = new Map<string, Promise<string>>();

/** The checkout's build entry point, built by this run the first time it is asked for. */
function built(root: string): Promise<string> {
  let build = builds.get(root);
  if (!build) {
    console.log(`building ${root} (npm run build) to run it as deployed`);
    build = promisify(execFile)('npm', ['run', '-s', 'build'], { cwd: root }).then(() => 'dist/main.js');
    builds.set(root, build);
  }
  return build;
}

/** `env` is the server's whole environment besides PATH, HOME and PORT=0. */
/** `root`: the checkout to run (another build, to compare with this one in the same run). */
export async function startBenchServer(env: Record<string, string>, root = ROOT): Promise<BenchServer> {
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const entry = process.env.BENCH_RUN === 'tsx' ? ['--import', 'tsx', 'src/main.ts'] : [await built(root)];
  const child = spawn(process.execPath, [...nodeArgs, ...entry], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: '0', ...env },
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', () => {
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m?.[1]) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}:\n${out}`)));
  });
  return {
    url,
    pid: child.pid ?? 0,
    output: () => out,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
