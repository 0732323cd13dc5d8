// A cheap closed-loop HTTP load generator for the benchmarks: a fixed number of workers, each
// sending its next POST as soon as the last is answered, over keep-alive connections (Node's
// http Agent, no fetch overhead), for a warm-up and then a measured window. Every answer is
// checked; the CPU of the given processes is read over the measured window.
import { Agent, request } from 'node:http';
import { cpuSnapshot, cpuUse, type CpuSnapshot, type CpuUse } from './proc.js';

export interface HttpLoad {
  /** Full URL to POST to. */
  url: string;
  headers: Record<string, string>;
  /** The body worker `w` sends next. */
  body(worker: number): string;
  /** Undefined when the answer is right; otherwise what is wrong with it. */
  check(worker: number, status: number, text: string): string | undefined;
  concurrency: number;
  warmupSeconds: number;
  seconds: number;
  /** Processes whose CPU is read over the measured window (the server first). */
  pids: () => number[];
}

export interface HttpLoadResult {
  ok: number;
  failed: number;
  errors: Map<string, number>;
  /** Sorted, ms. */
  latencies: number[];
  seconds: number;
  cpu: CpuUse | undefined;
}

export async function runHttpLoad(load: HttpLoad): Promise<HttpLoadResult> {
  const url = new URL(load.url);
  const agent = new Agent({ keepAlive: true, maxSockets: load.concurrency });
  const post = (body: string) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          headers: { ...load.headers, 'content-length': Buffer.byteLength(body) },
          agent,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });

  const latencies: number[] = [];
  const errors = new Map<string, number>();
  let ok = 0;
  let failed = 0;
  const start = performance.now();
  const measureFrom = start + load.warmupSeconds * 1000;
  const end = measureFrom + load.seconds * 1000;
  let before: CpuSnapshot | undefined;
  const warm = setTimeout(() => (before = cpuSnapshot(load.pids())), load.warmupSeconds * 1000);
  await Promise.all(
    Array.from({ length: load.concurrency }, async (_, worker) => {
      while (performance.now() < end) {
        const body = load.body(worker);
        const t0 = performance.now();
        let problem: string | undefined;
        try {
          const { status, text } = await post(body);
          problem = load.check(worker, status, text);
        } catch (error) {
          problem = (error as Error).message;
        }
        const t1 = performance.now();
        if (t0 < measureFrom || t1 > end) {
          // Outside the window, but never silently wrong.
          if (problem !== undefined) errors.set(`(warm-up) ${problem}`, (errors.get(`(warm-up) ${problem}`) ?? 0) + 1);
          continue;
        }
        if (problem === undefined) {
          ok++;
          latencies.push(t1 - t0);
        } else {
          failed++;
          errors.set(problem, (errors.get(problem) ?? 0) + 1);
        }
      }
    }),
  );
  const after = before && cpuSnapshot(before.pids);
  clearTimeout(warm);
  agent.destroy();
  return { ok, failed, errors, latencies: latencies.sort((a, b) => a - b), seconds: load.seconds, cpu: cpuUse(before, after) };
}

export const percentile = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
