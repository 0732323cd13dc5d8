// Reads one organization's state from WorkOS's API (`Authorization: Bearer sk_...`) for
// reconciliation, in two parts (shared/reference/providers.md has the routes as workos-node
// calls them):
//
// - The Events API (`GET /events`), WorkOS's own ordered log, from where the tenant's last run
//   left it: each event becomes the delivery its webhook would have been, keyed by its id, so a
//   webhook that did arrive makes it a duplicate and one that was lost is applied as sent,
//   deletions included. The log keeps 30 days; a first run starts it at the pull.
// - A full pull of the list routes (organization, connections, directories, directory users and
//   groups, and each user's groups through `/directory_groups?user=`: a user's `groups` field is
//   deprecated), cursor-paged with `after`. Each object is read by the code that reads webhooks,
//   at its own `updated_at`, as an event would be.
//
// What the lists miss is ended only on WorkOS's word: a 404 for it by id, or, for a membership,
// the user's groups read whole (cursors do not skip) without the group. Requests are paced
// under WorkOS's limits: 6,000 a minute per key, 4 a second per directory on directory users.
import { z } from 'zod';
import type { Delivery, InboundEvent, Json, TenantKey, Version } from '../../directory/types.js';
import { redact } from '../../lib/redact.js';
import { createProviderHttp, type ProviderHttp, type ProviderHttpOptions } from '../../reconcile/provider-http.js';
import type { Presence, PulledTenant, Puller, PullOptions, PullProgress } from '../../reconcile/types.js';
import { readListedObject, readLoggedEvent, WORKOS_EVENTS, type WorkosListedKind } from './index.js';

export interface WorkosPullerOptions {
  /** https://api.workos.com (or a stand-in in tests). */
  apiUrl: string;
  apiKey: string;
  /** Objects per page asked for (WorkOS allows 1 to 100). */
  pageLimit?: number;
  http?: Partial<ProviderHttpOptions>;
  /** The clock, for the pacing (tests). */
  now?: () => number;
}


/** At most 6,000 requests a minute per key, spread evenly. */
const KEY_SPACING_MS = 10;
/** At most 4 a second per directory on /directory_users. */
const DIRECTORY_USERS_SPACING_MS = 250;

type Obj = { [key: string]: Json };
const object = z.looseObject({ id: z.string().min(1) });
const list = z.object({
  data: z.array(object),
  list_metadata: z.looseObject({ after: z.string().nullish() }),
});
const eventList = z.object({
  data: z.array(z.looseObject({ id: z.string().min(1), event: z.string() })),
  list_metadata: z.looseObject({ after: z.string().nullish() }),
});

/** What the tenant's log cursor says: after an event, or from a time (no event seen yet). */
const fromCursor = (cursor: string | undefined): { after?: string; range_start?: string } =>
  cursor === undefined ? {} : cursor.startsWith('event_') ? { after: cursor } : { range_start: cursor };

export function createWorkosPuller(options: WorkosPullerOptions): Puller {
  const pageLimit = options.pageLimit ?? 100;
  const now = options.now ?? Date.now;

  return {
    source: 'workos',
    provider: 'WORKOS',
    async pull(tenant: TenantKey, _version: Version, onProgress: (p: PullProgress) => void, { signal, cursor }: PullOptions = {}): Promise<PulledTenant> {
      const http = createProviderHttp({
        provider: 'WorkOS',
        baseUrl: options.apiUrl,
        headers: { authorization: `Bearer ${options.apiKey}` },
        ...options.http,
        ...(signal ? { signal } : {}),
      });
      const sleep = options.http?.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
      const paced = pacing(now, sleep);
      const api: ProviderHttp = {
        get: async (path, query, schema) => (await paced(path, query), http.get(path, query, schema)),
        post: http.post,
        find: async (path, query, schema) => (await paced(path, query), http.find(path, query, schema)),
        exists: http.exists,
        get requests() {
          return http.requests;
        },
      };

      /** Every object of a cursor-paged list route, in WorkOS's own order. */
      async function all(path: string, query: Record<string, string>, what: string): Promise<Obj[]> {
        const items: Obj[] = [];
        let after: string | undefined;
        for (let n = 1; ; n++) {
          onProgress({ reading: `${what} (page ${n})`, objects });
          const page = await api.get(path, { ...query, limit: pageLimit, order: 'asc', after }, list);
          items.push(...(page.data as Obj[]));
          after = page.list_metadata.after ?? undefined;
          if (!after || page.data.length === 0) return items;
        }
      }

      const org = tenant.externalId;
      const events: InboundEvent[] = [];
      let objects = 0;
      const read = (kind: WorkosListedKind, item: Obj) => {
        // A listed user's `groups` (deprecated) is not part of the user its events carry.
        const { groups: _groups, ...withoutGroups } = item;
        const event = readListedObject(kind, redact(kind === 'directory_user' ? withoutGroups : item) as Obj, new Date(now()));
        if (event) events.push(event);
        objects++;
      };

      // The log first: what happened since the last run, exactly as it happened.
      const startedAt = new Date(now()).toISOString();
      const logged: Delivery[] = [];
      let position = cursor;
      if (cursor !== undefined) {
        for (let n = 1; ; n++) {
          onProgress({ reading: `events since the last run (page ${n})`, objects });
          const page = await api.get('/events', { events: WORKOS_EVENTS.join(','), organization_id: org, limit: pageLimit, ...fromCursor(position) }, eventList);
          for (const event of page.data) logged.push(readLoggedEvent(event as Obj, new Date(now())));
          if (page.data.length > 0) position = page.data.at(-1)!.id;
          if (!page.list_metadata.after || page.data.length === 0) break;
        }
      }

      onProgress({ reading: 'the organization', objects });
      const found = await api.find(`/organizations/${encodeURIComponent(org)}`, {}, object);
      if (found) read('organization', found as Obj);
      for (const c of await all('/connections', { organization_id: org }, 'SSO connections')) read('connection', c);
      const directories = await all('/directories', { organization_id: org }, 'directories');
      for (const d of directories) read('directory', d);
      for (const d of directories) {
        const users = await all('/directory_users', { directory: String(d.id) }, `users of directory ${String(d.id)}`);
        for (const u of users) read('directory_user', u);
        const groups = await all('/directory_groups', { directory: String(d.id) }, `groups of directory ${String(d.id)}`);
        for (const g of groups) read('directory_group', g);
        for (const u of users) {
          for (const g of await all('/directory_groups', { user: String(u.id) }, `groups of user ${String(u.id)}`)) {
            const { groups: _groups, ...user } = u;
            read('membership', { directory_id: d.id ?? null, user, group: g });
          }
        }
      }
      onProgress({ reading: 'done', objects });

      const gone = async (path: string) => (await api.find(path, {}, object)) === undefined;
      return {
        events,
        unverified: [],
        logged,
        // A first run starts the log at the pull; later ones where the last event read left it.
        cursor: position ?? startedAt,
        async confirmGone(candidate): Promise<Presence> {
          const id = encodeURIComponent(candidate.externalId);
          const presence = (isGone: boolean): Presence => (isGone ? 'gone' : 'there');
          switch (candidate.entity) {
            case 'CONNECTION':
              return presence(await gone(candidate.connectionKind === 'DIRECTORY' ? `/directories/${id}` : `/connections/${id}`));
            case 'MEMBER':
              return presence(await gone(`/directory_users/${id}`));
            case 'GROUP':
              return presence(await gone(`/directory_groups/${id}`));
            case 'MEMBERSHIP': {
              const { member, group } = candidate;
              if (!member || !group) return 'unknown';
              if ((await gone(`/directory_users/${encodeURIComponent(member)}`)) || (await gone(`/directory_groups/${encodeURIComponent(group)}`))) return 'gone';
              const groups = await all('/directory_groups', { user: member }, `groups of user ${member}`);
              return presence(!groups.some((g) => g.id === group));
            }
          }
        },
      };
    },
  };
}

/**
 * Waits before each request as WorkOS's limits ask: requests of one key spread to 6,000 a
 * minute, and those for one directory's users to 4 a second.
 */
function pacing(now: () => number, sleep: (ms: number) => Promise<void>): (path: string, query: Record<string, string | number | undefined>) => Promise<void> {
  let nextAny = 0;
  const nextForDirectory = new Map<string, number>();
  return async (path, query) => {
    const directory = path.startsWith('/directory_users') && query.directory !== undefined ? String(query.directory) : undefined;
    const at = Math.max(nextAny, directory ? (nextForDirectory.get(directory) ?? 0) : 0);
    nextAny = Math.max(at, now()) + KEY_SPACING_MS;
    if (directory) nextForDirectory.set(directory, Math.max(at, now()) + DIRECTORY_USERS_SPACING_MS);
    const wait = at - now();
    if (wait > 0) await sleep(wait);
  };
}
