// Sends webhooks open loop (request i at start + i / rate, whatever the earlier ones are doing)
// from a worker thread: its own event loop, so the time it reads when a response arrives is
// not held back by whatever the bench's main thread is busy with (a thousand subscribers'
// messages). Times are milliseconds since the epoch, comparable across threads.
import { Worker } from 'node:worker_threads';

export interface Request {
  url: string;
  headers: Record<string, string>;
  body: string;
}

export interface Sent {
  /** Epoch ms when the request was started. */
  sentAt: number;
  /** Epoch ms when the response (status and headers) arrived. */
  at: number;
  /** The HTTP status of a 2xx, else what went wrong. */
  status: number | string;
}

// Plain JavaScript: an eval'd worker does not go through the TypeScript loader.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { requests, startAt, rate } = workerData;
const now = () => performance.timeOrigin + performance.now();
(async () => {
  const results = new Array(requests.length);
  const inflight = [];
  for (let i = 0; i < requests.length; i++) {
    const wait = startAt + (i * 1000) / rate - now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const { url, headers, body } = requests[i];
    const sentAt = now();
    inflight.push(
      fetch(url, { method: 'POST', headers, body }).then(
        async (response) => {
          const at = now();
          const text = await response.text();
          results[i] = { sentAt, at, status: response.ok ? response.status : response.status + ' ' + text.slice(0, 200) };
        },
        (error) => (results[i] = { sentAt, at: now(), status: String(error && error.message) }),
      ),
    );
  }
  await Promise.all(inflight);
  parentPort.postMessage(results);
})();
`;

/** Sends every request at `rate` per second from `startAt` (epoch ms); resolves with each outcome. */
export function sendOpenLoop(requests: readonly Request[], rate: number, startAt: number): Promise<Sent[]> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER, { eval: true, workerData: { requests, startAt, rate } });
    worker.once('message', (results: Sent[]) => {
      resolve(results);
      void worker.terminate();
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`the webhook sender stopped with code ${code}`));
    });
  });
}

/** This thread's performance.now() for an epoch time from the sender. */
export const localTime = (epochMs: number) => epochMs - performance.timeOrigin;
