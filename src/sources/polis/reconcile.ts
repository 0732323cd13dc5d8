// Reads one tenant's state from Ory Polis's REST API (`Authorization: Api-Key <key>`) for
// reconciliation, on whichever store Polis runs (shared/reference/providers.md has the routes as
// Polis's own handlers serve them):
//
// - SSO connections: `GET /api/v1/sso?tenant&product` answers at most the store's page limit
//   (DB_PAGE_LIMIT) and cannot be paged, so the product's list, `/api/v1/sso/product`, is paged
//   too and the tenant's connections taken from it. Directories likewise (`/api/v1/dsync` and
//   `/api/v1/dsync/product`).
// - Users, groups and a group's members are paged by `pageToken` where the store gives one
//   (DynamoDB) and by `pageOffset` otherwise (SQL, memory). A store that ignores the offset and
//   gives no token (DynamoDB's group members) answers the same page again: reading stops there,
//   and the report says that list was not read whole.
// - Nothing missing from a listing is taken as gone: an SSO connection is looked up by its
//   client id (`/api/v1/sso/exists`), a directory, a user or a group by its id; a membership,
//   for which Polis has no route by id, only when its group's member list was read whole, twice.
//
// Each object is cut to the shape Polis's own webhooks carry (see providers.md: the `sso.*`,
// `dsync.*`, `user.*`, `group.*` payloads) and read by the same code that reads webhooks, so a
// reconciled object that did not change hashes as the stored one does and reaches no feed.
import { z } from 'zod';
import type { InboundEvent, Json, TenantKey, Version } from '../../directory/types.js';
import { redact } from '../../lib/redact.js';
import { createProviderHttp, type ProviderHttpOptions } from '../../reconcile/provider-http.js';
import type { Presence, PulledTenant, Puller, PullOptions, PullProgress } from '../../reconcile/types.js';
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
const ssoList = z.array(z.looseObject({ clientID: z.string().min(1), tenant: z.string().nullish() }));
const directory = z.looseObject({ id: z.string().min(1), tenant: z.string().nullish() });
const directoryList = z.object({ data: z.array(directory) });
const page = <T extends z.ZodType>(item: T) => z.object({ data: z.array(item), pageToken: z.string().nullish() });
const directoryPage = page(directory);
const userPage = page(z.looseObject({ id: z.string().min(1) }));
const groupPage = page(z.looseObject({ id: z.string().min(1) }));
const memberPage = page(z.looseObject({ user_id: z.string().min(1) }));
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

/** A list read to its end, or as far as the store lets it be read. */
interface Listing<T> {
  items: T[];
  /** False when the store answered a page it had answered already: it cannot be paged. */
  complete: boolean;
}

export function createPolisPuller(options: PolisPullerOptions): Puller {
  const pageLimit = options.pageLimit ?? 50;

  return {
    source: 'polis',
    provider: 'POLIS',
    async pull(tenant: TenantKey, version: Version, onProgress: (p: PullProgress) => void, { signal }: PullOptions = {}): Promise<PulledTenant> {
      const http = createProviderHttp({
        provider: 'Polis',
        baseUrl: options.apiUrl,
        headers: { authorization: `Api-Key ${options.apiKey}` },
        ...options.http,
        ...(signal ? { signal } : {}),
      });

      /**
       * Every item of a paged list, by `pageToken` once the store gives one and by offset before
       * (the offset advances by what each page held: Polis lowers a page to its own limit). Ends
       * on an empty page, on a token-paged page without a token, or on a page with nothing new.
       */
      async function all<T>(
        path: string,
        query: Record<string, string>,
        schema: z.ZodType<{ data: T[]; pageToken?: string | null | undefined }>,
        idOf: (item: T) => string,
        what: string,
        onPage: (n: number) => void,
      ): Promise<Listing<T>> {
        const items: T[] = [];
        const seen = new Set<string>();
        let offset = 0;
        let pageToken: string | undefined;
        for (let n = 1; ; n++) {
          const reply = await http.get(path, { ...query, pageOffset: pageToken ? undefined : offset, pageLimit, pageToken }, schema);
          if (reply.data.length === 0) return { items, complete: true };
          const fresh = reply.data.filter((item) => !seen.has(idOf(item)));
          if (fresh.length === 0) return { items, complete: false };
          for (const item of fresh) {
            seen.add(idOf(item));
            items.push(item);
          }
          onPage(n);
          offset += reply.data.length;
          if (reply.pageToken) pageToken = reply.pageToken;
          else if (pageToken) return { items, complete: true };
          if (n > 100_000) throw new Error(`Polis kept sending pages of ${what}; stopped after ${n}`);
        }
      }

      /** A bare-array list route paged by offset (Polis's handler drops the store's token). */
      async function allArray<T>(path: string, query: Record<string, string>, schema: z.ZodType<T[]>, idOf: (item: T) => string, what: string): Promise<Listing<T>> {
        return all(path, query, z.array(z.unknown()).transform((data) => ({ data: schema.parse(data) })), idOf, what, () => {});
      }

      const scope = { tenant: tenant.externalId, product: tenant.product };
      const ofTenant = (item: { tenant?: string | null | undefined }) => item.tenant === tenant.externalId;
      let objects = 0;
      const events: InboundEvent[] = [];
      const unverified: string[] = [];
      const read = (item: Json) => {
        const result = normaliseEvent(redact(item), version);
        // An object Polis lists but we cannot read (no id) cannot be in the directory either.
        if (result.ok) events.push(result.event);
        objects++;
      };
      const envelope = (event: string, data: Json, directoryId?: string): Json => ({
        event,
        ...scope,
        ...(directoryId === undefined ? {} : { directory_id: directoryId }),
        data,
      });

      onProgress({ reading: 'SSO connections', objects });
      const byClientId = new Map((await http.get('/api/v1/sso', scope, ssoList)).map((c) => [c.clientID, c]));
      const productSso = await allArray('/api/v1/sso/product', { product: tenant.product }, ssoList, (c) => c.clientID, 'SSO connections');
      for (const c of productSso.items) if (ofTenant(c) && !byClientId.has(c.clientID)) byClientId.set(c.clientID, c);
      if (!productSso.complete) unverified.push(`SSO connections: Polis's store answered one page of the product's connections; any of the tenant's beyond what it lists were not read`);
      for (const c of byClientId.values()) {
        read(envelope(c.deactivated === true ? 'sso.deactivated' : 'sso.activated', ssoPayload(c)));
      }

      onProgress({ reading: 'directories', objects });
      const directories = new Map((await http.get('/api/v1/dsync', scope, directoryList)).data.map((d) => [d.id, d]));
      const productDirectories = await all('/api/v1/dsync/product', { product: tenant.product }, directoryPage, (d) => d.id, 'directories', () => {});
      for (const d of productDirectories.items) if (ofTenant(d) && !directories.has(d.id)) directories.set(d.id, d);
      if (!productDirectories.complete) unverified.push(`directories: Polis's store answered one page of the product's directories; any of the tenant's beyond what it lists were not read`);
      for (const d of directories.values()) {
        read(envelope(d.deactivated === true ? 'dsync.deactivated' : 'dsync.activated', pick(d, ['id', 'name', 'type'])));
      }

      /** Per group whose member list was read whole, its members' ids. */
      const wholeGroups = new Map<string, Set<string>>();
      const memberList = (d: string, g: string) =>
        all(`/api/v1/dsync/groups/${encodeURIComponent(g)}/members`, { ...scope, directoryId: d }, memberPage, (m) => m.user_id, `members of group ${g}`, (n) =>
          onProgress({ reading: `members of group ${g} (page ${n})`, objects }),
        );
      for (const d of directories.keys()) {
        const inDirectory = { ...scope, directoryId: d };
        const users = await all('/api/v1/dsync/users', inDirectory, userPage, (u) => u.id, 'users', (n) =>
          onProgress({ reading: `users of directory ${d} (page ${n})`, objects }),
        );
        if (!users.complete) unverified.push(`users of directory ${d}: Polis's store answered one page (it cannot be paged by offset); users beyond it, if any, were not read`);
        const byId = new Map(users.items.map((u) => [u.id, u]));
        for (const u of users.items) read(envelope('user.updated', userPayload(u), d));
        const groups = await all('/api/v1/dsync/groups', inDirectory, groupPage, (g) => g.id, 'groups', (n) =>
          onProgress({ reading: `groups of directory ${d} (page ${n})`, objects }),
        );
        if (!groups.complete) unverified.push(`groups of directory ${d}: Polis's store answered one page (it cannot be paged by offset); groups beyond it, if any, were not read`);
        for (const g of groups.items) read(envelope('group.updated', groupPayload(g), d));
        for (const g of groups.items) {
          const members = await memberList(d, g.id);
          if (members.complete) wholeGroups.set(g.id, new Set(members.items.map((m) => m.user_id)));
          else unverified.push(`members of group ${g.id}: Polis's store answered one page and gives no token to page on; memberships missing from it were not ended`);
          // A member row whose user Polis no longer lists is a leftover, not a membership.
          for (const userId of new Set(members.items.map((m) => m.user_id))) {
            const user = byId.get(userId);
            if (user) read(envelope('group.user_added', { ...userPayload(user), group: groupPayload(g) }, d));
          }
        }
      }
      onProgress({ reading: 'done', objects });

      /** A group's member list read whole a second time, once per group, for the memberships it would end. */
      const rereads = new Map<string, Promise<Listing<{ user_id: string }>>>();
      return {
        events,
        unverified,
        async confirmGone(candidate): Promise<Presence> {
          const id = encodeURIComponent(candidate.externalId);
          const inDirectory = { ...scope, ...(candidate.directory ? { directoryId: candidate.directory } : {}) };
          const presence = (gone: boolean): Presence => (gone ? 'gone' : 'there');
          switch (candidate.entity) {
            case 'MEMBER':
              return presence((await http.find(`/api/v1/dsync/users/${id}`, inDirectory, found))?.data == null);
            case 'GROUP':
              return presence((await http.find(`/api/v1/dsync/groups/${id}`, inDirectory, found))?.data == null);
            case 'CONNECTION':
              if (candidate.connectionKind === 'DIRECTORY') return presence((await http.find(`/api/v1/dsync/${id}`, {}, found))?.data == null);
              return presence(!(await http.exists('/api/v1/sso/exists', { clientID: candidate.externalId })));
            case 'MEMBERSHIP': {
              // Polis has no route for one membership. Its proof: the group's member list read
              // whole (the store let it be paged to its end) at the pull and again now, both
              // without the member; or the member or the group gone by id.
              const { group, member, directory: d } = candidate;
              if (!group || !member || !d) return 'unknown';
              const inDirectory = { ...scope, directoryId: d };
              const userGone = async () => (await http.find(`/api/v1/dsync/users/${encodeURIComponent(member)}`, inDirectory, found))?.data == null;
              const atPull = wholeGroups.get(group);
              if (!atPull) {
                const groupGone = (await http.find(`/api/v1/dsync/groups/${encodeURIComponent(group)}`, inDirectory, found))?.data == null;
                return groupGone || (await userGone()) ? 'gone' : 'unknown';
              }
              let again = rereads.get(group);
              if (!again) rereads.set(group, (again = memberList(d, group)));
              const now = await again;
              const listed = atPull.has(member) || now.items.some((m) => m.user_id === member);
              if (!listed && now.complete) return 'gone';
              // Listed (a row Polis left for a deleted user is listed too), or not read whole.
              if (await userGone()) return 'gone';
              return listed ? 'there' : 'unknown';
            }
          }
        },
      };
    },
  };
}
