// Live work waits out a database outage instead of failing its subscribers: they would all
// reconnect at once the moment the database came back.
import { setTimeout as sleep } from 'node:timers/promises';
import { isUnavailable } from '../db/errors.js';

/**
 * Runs `work`, waiting out a database outage (retrying with backoff) for as long as `wanted`
 * says someone still wants the result; undefined once nobody does.
 */
export async function waitingOutOutages<T>(work: () => Promise<T>, wanted: () => boolean): Promise<T | undefined> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (!isUnavailable(error)) throw error;
      if (!wanted()) return undefined;
      await sleep(Math.min(5000, 100 * 2 ** attempt));
      if (!wanted()) return undefined;
    }
  }
}
