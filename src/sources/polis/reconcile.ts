// Reads one tenant's state from Ory Polis's REST API (`Authorization: Api-Key <key>`) for
// reconciliation: its SSO connections (`GET /api/v1/sso`), directories (`/api/v1/dsync`), and
// each directory's users, groups and group members (`/api/v1/dsync/users`, `.../groups`,
// `.../groups/{id}/members`), paged by `pageOffset`/`pageLimit` (and `pageToken` where Polis's
// store gives one).
//
// Each object is cut to the shape Polis's own webhooks carry (see providers.md: the `sso.*`,
// `dsync.*`, `user.*`, `group.*` payloads) and read by the same code that reads webhooks, so a
// reconciled object that did not change hashes as the stored one does and reaches no feed.
import { z } from 'zod';
import type { InboundEvent, Json, TenantKey, Version } from '../../directory/types.js';
import { redact } from '../../lib/redact.js';
import { createProviderHttp, type ProviderHttpOptions } from '../../reconcile/provider-http.js';
import type { PulledTenant, Puller, PullProgress } from '../../reconcile/types.js';
import { normaliseEvent } from './index.js';

export interface PolisPullerOptions {
  /** Polis's base URL, e.g. https://polis.example.com. */
  apiUrl: string;
  apiKey: string;
  /** Objects per page asked for (Polis caps it at its DB_PAGE_LIMIT, 50 by default). */
  pageLimit?: number;
  http?: Partial<ProviderHttpOptions>;
}

const object = z.looseObject({});
const ssoList = z.array(z.looseObject({ clientID: z.string().min(1) }));
const directoryList = z.object({ data: z.array(z.looseObject({ id: z.string().min(1) })) });
const page = <T extends z.ZodType>(item: T) => z.object({ data: z.array(item), pageToken: z.string().nullish() });
const userPage = page(z.looseObject({ id: z.string().min(1) }));
const groupPage = page(z.looseObject({ id: z.string().min(1) }));
const memberPage = z.object({ data: z.array(z.looseObject({ user_id: z.string().min(1) })), pageToken: z.string().nullish() });
const found = z.object({ data: object.nullish() });

type Obj = Record<string, unknown>;

/** The fields `pick` names that are present (a webhook's JSON has no undefined values). */
function pick(from: Obj, keys: string[]): { [key: string]: Json } {
  const out: { [key: string]: Json } = {};
  for (const k of keys) if (from[k] !== undefined) out[k] = from[k] as Json;
  return out;
}

/** An SSO connection as Polis's `sso.*` webhooks carry it. */
function ssoPayload(c: Obj): Json {
  const saml = c.idpMetadata as Obj | undefined;
  const oidc = c.oidcProvider as Obj | undefined;
  const base = pick(c, ['name', 'description', 'clientID', 'clientSecret']);
  if (saml && typeof saml === 'object') {
    return { ...base, ...pick(saml, ['provider']), friendlyProviderName: (saml.friendlyProviderName ?? null) as Json };
  }
  return { ...base, ...pick((oidc ?? {}) as Obj, ['provider']) };
}

const userPayload = (u: Obj) => pick(u, ['id', 'first_name', 'last_name', 'email', 'active', 'roles', 'raw']);
const groupPayload = (g: Obj) => pick(g, ['id', 'name', 'raw']);

export function createPolisPuller(options: PolisPullerOptions): Puller {
  const http = createProviderHttp({
    provider: 'Polis',
    baseUrl: options.apiUrl,
    headers: { authorization: `Api-Key ${options.apiKey}` },
    ...options.http,
  });
  const pageLimit = options.pageLimit ?? 50;

  /** Every item of a paged list: until a page comes back empty (Polis may cap the page size below what was asked). */
  async function all<T>(
    path: string,
    query: Record<string, string>,
    schema: z.ZodType<{ data: T[]; pageToken?: string | null | undefined }>,
    what: string,
    onPage: (n: number) => void,
  ): Promise<T[]> {
    const items: T[] = [];
    let pageToken: string | undefined;
    for (let n = 1; ; n++) {
      const reply = await http.get(path, { ...query, pageOffset: items.length, pageLimit, pageToken }, schema);
      if (reply.data.length === 0) return items;
      items.push(...reply.data);
      onPage(n);
      pageToken = reply.pageToken ?? undefined;
      if (n > 100_000) throw new Error(`Polis kept sending pages of ${what}; stopped after ${n}`);
    }
  }

  return {
    source: 'polis',
    provider: 'POLIS',
    async pull(tenant: TenantKey, version: Version, onProgress: (p: PullProgress) => void): Promise<PulledTenant> {
      const scope = { tenant: tenant.externalId, product: tenant.product };
      let objects = 0;
      const events: InboundEvent[] = [];
      const read = (item: Json) => {
        const result = normaliseEvent(redact(item), version);
        // An object Polis lists but we cannot read (no id) cannot be in the directory either.
        if (result.ok) events.push(result.event);
        objects++;
      };
      const envelope = (event: string, data: Json, directory?: string): Json => ({
        event,
        ...scope,
        ...(directory === undefined ? {} : { directory_id: directory }),
        data,
      });

      onProgress({ reading: 'SSO connections', objects });
      for (const c of await http.get('/api/v1/sso', scope, ssoList)) {
        read(envelope(c.deactivated === true ? 'sso.deactivated' : 'sso.activated', ssoPayload(c)));
      }
      onProgress({ reading: 'directories', objects });
      const directories = (await http.get('/api/v1/dsync', scope, directoryList)).data;
      for (const d of directories) {
        read(envelope(d.deactivated === true ? 'dsync.deactivated' : 'dsync.activated', pick(d, ['id', 'name', 'type'])));
      }
      for (const d of directories) {
        const inDirectory = { ...scope, directoryId: d.id };
        const users = await all('/api/v1/dsync/users', inDirectory, userPage, 'users', (n) =>
          onProgress({ reading: `users of directory ${d.id} (page ${n})`, objects }),
        );
        const byId = new Map(users.map((u) => [u.id, u]));
        for (const u of users) read(envelope('user.updated', userPayload(u), d.id));
        const groups = await all('/api/v1/dsync/groups', inDirectory, groupPage, 'groups', (n) =>
          onProgress({ reading: `groups of directory ${d.id} (page ${n})`, objects }),
        );
        for (const g of groups) read(envelope('group.updated', groupPayload(g), d.id));
        for (const g of groups) {
          const rows = await all(`/api/v1/dsync/groups/${encodeURIComponent(g.id)}/members`, inDirectory, memberPage, `members of group ${g.id}`, (n) =>
            onProgress({ reading: `members of group ${g.id} (page ${n})`, objects }),
          );
          // A member row whose user Polis no longer lists is a leftover, not a membership.
          for (const userId of new Set(rows.map((r) => r.user_id))) {
            const user = byId.get(userId);
            if (user) read(envelope('group.user_added', { ...userPayload(user), group: groupPayload(g) }, d.id));
          }
        }
      }
      onProgress({ reading: 'done', objects });

      return {
        events,
        async confirmGone(entity, externalId, directory) {
          const q = { ...scope, ...(directory ? { directoryId: directory } : {}) };
          const id = encodeURIComponent(externalId);
          switch (entity) {
            case 'MEMBER':
              return (await http.find(`/api/v1/dsync/users/${id}`, q, found))?.data == null;
            case 'GROUP':
              return (await http.find(`/api/v1/dsync/groups/${id}`, q, found))?.data == null;
            case 'CONNECTION': {
              // A directory by id; an SSO connection is gone when the tenant's list (read again) lacks it.
              const directoryGone = (await http.find(`/api/v1/dsync/${id}`, {}, found))?.data == null;
              if (!directoryGone) return false;
              const sso = await http.get('/api/v1/sso', scope, ssoList);
              return !sso.some((c) => c.clientID === externalId);
            }
            case 'MEMBERSHIP':
              // The group's whole member list was read and lacks it; a group that is itself gone
              // or a user that is has its memberships ended with it either way.
              return true;
          }
        },
      };
    },
  };
}
