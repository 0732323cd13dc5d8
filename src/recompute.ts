// Members' app values kept up in the running service: the change feed read for what each
// committed change moved (directory/app-changes.ts), and tenants recomputed a chunk at a time
// when their settings or a big group changed (directory/app-recompute.ts). Every instance takes
// steps while there is work, giving way to webhooks being stored before each. New feed rows
// (the live follower tells) and a mutation here start it at once; a request made elsewhere
// (another instance, `npm run roles`) is seen within the poll interval.
import { setImmediate as yieldTurn } from 'node:timers/promises';
import type { Logger } from 'pino';
import { isRetryable } from './db/errors.js';
import type { Database } from './db/open.js';
import { followStep, type AppValuesOptions } from './directory/app-changes.js';
import { recomputeStep, type RecomputeCause } from './directory/app-recompute.js';
import type { Priority } from './lib/priority.js';

export interface RecomputeEvents {
  recomputed(cause: RecomputeCause | 'changes', members: number, moved: number): void;
}

export interface AppRecomputeService {
  /** Looks for work now (new feed rows, or a setting changed here). */
  kick(): void;
  /** Resolves once no request is left that this instance can take (tests, the CLI). */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

export interface AppRecomputeOptions extends AppValuesOptions {
  /** How often to look for requests made elsewhere (default 2 s). */
  pollMs?: number;
  /** Webhooks being stored: a step waits for them (up to `yieldMs`) before it starts. */
  urgent?: Priority;
  /**
   * How long a step waits for webhooks being stored (default 5 s). The embedded database is
   * one connection in this process, where a step takes the webhooks' CPU too: it waits longer.
   */
  yieldMs?: number;
  events?: RecomputeEvents;
}

/** A long recompute says how far it is at most this often. */
const PROGRESS_EVERY_MS = 10_000;

export function startAppRecompute(db: Database, logger: Logger, options: AppRecomputeOptions): AppRecomputeService {
  let stopped = false;
  let running: Promise<void> | undefined;
  let again = false;
  const started = new Map<string, { at: number; told: number }>();

  /** A step of `take`, taken again when it lost a race for rows (a deadlock, a serialization failure). */
  const retried = async <T>(take: () => Promise<T>): Promise<T> => {
    for (;;) {
      try {
        return await take();
      } catch (error) {
        if (!isRetryable(error)) throw error;
      }
    }
  };

  const drain = async (): Promise<void> => {
    while (!stopped) {
      await options.urgent?.clear(options.yieldMs ?? 5000);
      // The feed first: what webhooks just changed is pushed before a long recompute goes on.
      const followed = await retried(() => followStep(db, options));
      if (followed) {
        options.events?.recomputed('changes', followed.members, followed.moved);
        await yieldTurn();
        continue;
      }
      const step = await retried(() => recomputeStep(db, options.attributeDefaults));
      if (!step) return;
      options.events?.recomputed(step.cause, step.recomputed, step.moved);
      const now = performance.now();
      const since = started.get(step.tenantId) ?? { at: now, told: now };
      started.set(step.tenantId, since);
      const fields = { tenantId: step.tenantId, cause: step.cause, members: step.done, moved: step.movedTotal };
      if (step.finished) {
        started.delete(step.tenantId);
        if (step.done > 0) {
          logger.info(
            { ...fields, seconds: Number(((now - since.at) / 1000).toFixed(3)) },
            'recomputed the app values of a tenant; members whose appRole, appRoles or attributes moved were fed as UPDATED',
          );
        }
      } else if (now - since.told >= PROGRESS_EVERY_MS) {
        since.told = now;
        logger.info(fields, 'recomputing the app values of a tenant');
      }
      await yieldTurn();
    }
  };

  const kick = (): void => {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = drain()
      .catch((error: unknown) => logger.warn({ err: error }, 'could not recompute app values; tries again shortly'))
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          kick();
        }
      });
  };

  const timer = setInterval(kick, options.pollMs ?? 2000);
  timer.unref();
  kick();

  return {
    kick,
    idle: async () => {
      kick();
      while (running) await running;
    },
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
