// Reading a provider's REST API during reconciliation: JSON over HTTPS with a deadline per
// request, 429 and 503 answered by waiting (Retry-After when given), other failures retried a
// few times with backoff, and every error worded for an operator: which provider, which
// request (never its credentials), what came back.
import type { z } from 'zod';
import { describeZodError } from '../lib/zod-error.js';
import { truncate } from '../lib/truncate.js';

export class ProviderError extends Error {
  constructor(
    message: string,
    /** rejected credentials, unreachable, a bad answer, or the provider's own error. */
    readonly kind: 'credentials' | 'unreachable' | 'garbage' | 'provider',
  ) {
    super(message);
    this.name = 'ProviderError';
  }
}

export interface ProviderHttpOptions {
  /** Shown in errors: "Polis", "Stytch". */
  provider: string;
  baseUrl: string;
  headers: Record<string, string>;
  /** Per request (default 30 s). */
  timeoutMs?: number;
  /** Attempts per request, first included (default 5). */
  attempts?: number;
  /** The longest Retry-After honoured; a longer one fails the run (default 120 s). */
  maxRetryAfterMs?: number;
  /** Told before each wait, for progress output. */
  onWait?: (what: string, ms: number) => void;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  /** Abandons every request and wait at once (the run lost its lock, or is stopping). */
  signal?: AbortSignal;
}

export interface ProviderHttp {
  get<S extends z.ZodType>(path: string, query: Record<string, string | number | undefined>, schema: S): Promise<z.output<S>>;
  /** A POST with a JSON body, for the providers that search by POST (Stytch). */
  post<S extends z.ZodType>(path: string, body: unknown, schema: S): Promise<z.output<S>>;
  /** Like get, but a 404 answers undefined (the object is gone). */
  find<S extends z.ZodType>(path: string, query: Record<string, string | number | undefined>, schema: S): Promise<z.output<S> | undefined>;
  /** A route that answers by status alone (Polis's `/sso/exists`): 2xx true, 404 false. */
  exists(path: string, query: Record<string, string | number | undefined>): Promise<boolean>;
  /** Requests sent so far, retries included. */
  readonly requests: number;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Retry-After in ms: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export function createProviderHttp(options: ProviderHttpOptions): ProviderHttp {
  const doFetch = options.fetch ?? fetch;
  const sleepFor = options.sleep ?? defaultSleep;
  const sleep = async (ms: number) => {
    options.signal?.throwIfAborted();
    if (!options.signal) return sleepFor(ms);
    const signal = options.signal;
    let stop: () => void = () => {};
    const aborted = new Promise<never>((_, reject) => {
      stop = () => reject(signal.reason);
      signal.addEventListener('abort', stop, { once: true });
    });
    try {
      await Promise.race([sleepFor(ms), aborted]);
    } finally {
      signal.removeEventListener('abort', stop);
    }
  };
  const attempts = options.attempts ?? 5;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const maxRetryAfter = options.maxRetryAfterMs ?? 120_000;
  const base = options.baseUrl.replace(/\/+$/, '');
  let requests = 0;

  async function request<S extends z.ZodType>(
    path: string,
    query: Record<string, string | number | undefined>,
    schema: S | 'status',
    notFoundIsAnswer: boolean,
    body?: unknown,
  ): Promise<z.output<S> | true | undefined> {
    const url = new URL(base + path);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
    const method = body === undefined ? 'GET' : 'POST';
    // What errors show: the path and query, never the credentials (they travel in headers).
    const what = `${options.provider} ${method} ${url.pathname}${url.search}`;
    let lastError = '';
    for (let attempt = 1; attempt <= attempts; attempt++) {
      let response: Response;
      options.signal?.throwIfAborted();
      try {
        requests++;
        const deadline = AbortSignal.timeout(timeoutMs);
        response = await doFetch(url, {
          method,
          headers: { accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...options.headers },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: options.signal ? AbortSignal.any([deadline, options.signal]) : deadline,
        });
      } catch (error) {
        if (options.signal?.aborted) throw options.signal.reason;
        const cause = error instanceof Error && error.name === 'TimeoutError' ? `no answer within ${timeoutMs / 1000} s` : describeFetchError(error);
        lastError = `${what}: ${cause}`;
        if (attempt < attempts) {
          const wait = backoff(attempt);
          options.onWait?.(`${what} failed (${cause}); retrying`, wait);
          await sleep(wait);
          continue;
        }
        throw new ProviderError(`${lastError} (after ${attempts} attempts): is ${base} reachable from here?`, 'unreachable');
      }
      const text = await response.text().catch(() => '');
      if (response.status === 401 || response.status === 403) {
        throw new ProviderError(`${what}: ${response.status}, the API key was refused (${providerMessage(text)}): check the configured key`, 'credentials');
      }
      if (response.status === 404 && notFoundIsAnswer) return undefined;
      if (schema === 'status' && response.ok) return true;
      if (response.status === 429 || response.status === 503 || response.status >= 500) {
        const asked = retryAfterMs(response.headers.get('retry-after'));
        lastError = `${what}: ${response.status} ${providerMessage(text)}`;
        if (asked !== undefined && asked > maxRetryAfter) {
          throw new ProviderError(`${lastError}; it asks to wait ${Math.ceil(asked / 1000)} s, longer than the ${maxRetryAfter / 1000} s this run waits`, 'provider');
        }
        if (attempt < attempts) {
          const wait = asked ?? backoff(attempt);
          options.onWait?.(`${what}: ${response.status === 429 ? 'rate limited' : `answered ${response.status}`}; waiting`, wait);
          await sleep(wait);
          continue;
        }
        throw new ProviderError(`${lastError} (after ${attempts} attempts)`, 'provider');
      }
      if (!response.ok) throw new ProviderError(`${what}: ${response.status} ${providerMessage(text)}`, 'provider');
      if (schema === 'status') throw new ProviderError(`${what}: ${response.status} ${providerMessage(text)}`, 'provider');
      let answer: unknown;
      try {
        answer = JSON.parse(text);
      } catch {
        throw new ProviderError(`${what}: the answer is not JSON (${JSON.stringify(truncate(text, 120))})`, 'garbage');
      }
      const parsed = schema.safeParse(answer);
      if (!parsed.success) {
        throw new ProviderError(`${what}: the answer is not the shape ${options.provider} documents (${describeZodError(parsed.error, [])})`, 'garbage');
      }
      return parsed.data;
    }
    throw new ProviderError(lastError, 'provider');
  }

  return {
    get: async (path, query, schema) => (await request(path, query, schema, false)) as z.output<typeof schema>,
    post: async (path, body, schema) => (await request(path, {}, schema, false, body ?? {})) as z.output<typeof schema>,
    find: async (path, query, schema) => (await request(path, query, schema, true)) as z.output<typeof schema> | undefined,
    exists: async (path, query) => (await request(path, query, 'status', true)) === true,
    get requests() {
      return requests;
    },
  };
}

const backoff = (attempt: number) => Math.min(10_000, 250 * 2 ** (attempt - 1));

function describeFetchError(error: unknown): string {
  // fetch says only "fetch failed"; what went wrong is in its cause.
  const cause = (error as { cause?: { code?: string; message?: string } } | null)?.cause;
  if (cause?.code) return cause.message ? `${cause.code} (${cause.message})` : cause.code;
  if (cause?.message) return cause.message;
  return error instanceof Error ? error.message : String(error);
}

/** The provider's own error message when it sent one, else the start of the body. */
function providerMessage(text: string): string {
  try {
    const body = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown; error_message?: unknown };
    const message =
      typeof body.error === 'string' ? body.error : body.error?.message ?? body.error_message ?? body.message;
    if (typeof message === 'string') return JSON.stringify(truncate(message, 200));
  } catch {
    // not JSON
  }
  return text ? JSON.stringify(truncate(text, 120)) : 'with no body';
}
