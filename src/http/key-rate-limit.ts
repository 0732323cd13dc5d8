// How many GraphQL requests (or WebSocket operations) one credential may start per minute on
// this instance. The concurrency caps bound what a key holds at once; this bounds how fast it
// can come back for more, so one key cannot keep the database busy by asking quickly.
import { createHash } from 'node:crypto';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';

export type RateVerdict = { ok: true } | { ok: false; retryAfterSeconds: number };

export interface KeyRateLimit {
  /** Requests per minute allowed; 0: no limit. */
  readonly perMinute: number;
  /** Counts one request of this holder (limitKeyOf a viewer; hashed here, whatever it is). */
  take(holder: string): Promise<RateVerdict>;
}

export function keyRateLimit(perMinute: number): KeyRateLimit {
  if (perMinute <= 0) return { perMinute: 0, take: async () => ({ ok: true }) };
  // A fixed one-minute window per key: within it a key may spend its minute's worth at once
  // (a page load's burst), never more; buckets of quiet keys expire with their window.
  const limiter = new RateLimiterMemory({ points: perMinute, duration: 60 });
  return {
    perMinute,
    take: async (holder) => {
      const key = createHash('sha256').update(holder).digest('base64url');
      try {
        await limiter.consume(key);
        return { ok: true };
      } catch (refusal) {
        if (!(refusal instanceof RateLimiterRes)) throw refusal;
        return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(refusal.msBeforeNext / 1000)) };
      }
    },
  };
}

/** The message a refused request carries, the same on HTTP and WebSocket. */
export const rateLimitMessage = (perMinute: number, retryAfterSeconds: number): string =>
  `this key started ${perMinute} GraphQL requests in the last minute here, its limit (GRAPHQL_RATE_PER_KEY): retry in ${retryAfterSeconds} s`;
