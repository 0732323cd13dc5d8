// Measures how fast this machine runs the suite's kind of work right now, against the machine
// the tests' deadlines were written on, so they can be scaled (test/support/time.ts). It runs
// in vitest's main process before any test, so it sees the machine as the tests will: slower
// hardware and other processes competing for the cores both lengthen it.
import { createHash } from 'node:crypto';

/**
 * The workload's median on the reference machine: the 2-vCPU shared VM of this project's kind
 * the deadlines were tuned on, quiet, Node 20 (63–72 ms over five runs on 2026-11-30; 125 ms
 * there with two busy loops beside it).
 */
export const REFERENCE_MS = 65;

/** A CPU-bound mix like the suite's own: hashing (signatures), JSON, maps. */
function workload(): number {
  const started = performance.now();
  let digest = Buffer.alloc(32);
  const data = Buffer.alloc(64 * 1024, 7);
  for (let i = 0; i < 400; i++) digest = createHash('sha256').update(data).update(digest).digest();
  let doc: { members: { id: string; email: string; roles: string[]; n: number }[] } = { members: [] };
  for (let i = 0; i < 2000; i++) doc.members.push({ id: `member-${i}`, email: `m${i}@example.com`, roles: ['a', 'b'], n: i });
  for (let i = 0; i < 10; i++) doc = JSON.parse(JSON.stringify(doc)) as typeof doc;
  const map = new Map<string, number>();
  let sum = 0;
  for (let i = 0; i < 200_000; i++) {
    map.set(`k${i % 5000}`, i);
    sum += map.get(`k${(i * 7) % 5000}`) ?? 0;
  }
  if (sum < 0) throw new Error('unreachable');
  return performance.now() - started;
}

/** The median of several runs after a warm-up, in milliseconds. */
export function measureWorkloadMs(runs = 7): number {
  workload();
  const times = Array.from({ length: runs }, workload).sort((a, b) => a - b);
  return times[Math.floor(runs / 2)]!;
}

export interface Calibration {
  scale: number;
  /** Where the scale came from: TEST_TIME_SCALE as given, or measured here. */
  source: 'TEST_TIME_SCALE' | 'measured';
  measuredMs?: number;
}

/** The time scale for this run: TEST_TIME_SCALE if set, else measured (never below 1, at most 20). */
export function calibrate(given: string | undefined): Calibration {
  const fixed = Number(given);
  if (given !== undefined && given !== '' && Number.isFinite(fixed) && fixed >= 1) return { scale: fixed, source: 'TEST_TIME_SCALE' };
  const measuredMs = measureWorkloadMs();
  const scale = Math.min(20, Math.max(1, Math.round((measuredMs / REFERENCE_MS) * 10) / 10));
  return { scale, source: 'measured', measuredMs };
}
