// A stand-in for WorkOS's API, for reconciliation tests: WorkOS cannot run here. It holds only
// what a test puts in it and speaks the routes and shapes workos-node calls and declares
// (`DirectoryUserResponse`, `ListResponse`, `EventResponse`...; the tests read it back through
// the SDK to prove it): cursor-paged lists (`limit`, `after`, `order`), objects by id with 404s,
// the Events API (`events`, `organization_id`, `after`, `range_start`), Bearer keys. Each change
// a test makes is also an event in its log and, unless webhooks are being dropped, a signed
// webhook to the service, as WorkOS sends them. No logic of the service is here.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

type Obj = Record<string, unknown>;

export interface WorkosApi {
  url: string;
  /** Requests in order: method, path and query, and when they arrived (ms). */
  requests: { path: string; at: number }[];
  /** While true, changes make events but no webhooks (a webhook endpoint that is down). */
  dropping: boolean;
  /** Answers a request itself first, when it returns something (a cut-short page, a 429). */
  interfere?: (url: URL) => { status: number; body: unknown } | undefined;
  /** Largest page it answers, whatever `limit` asks (WorkOS: 100). */
  maxLimit: number;
  organization(name: string): Obj;
  connection(org: string, name: string, type?: string): Obj;
  setConnectionState(id: string, state: 'active' | 'inactive'): void;
  deleteConnection(id: string): void;
  directory(org: string, name: string): Obj;
  deleteDirectory(id: string): void;
  user(directory: string, first: string, last: string): Obj;
  updateUser(id: string, changes: Obj): void;
  deleteUser(id: string): void;
  group(directory: string, name: string): Obj;
  deleteGroup(id: string): void;
  addMember(group: string, user: string): void;
  removeMember(group: string, user: string): void;
  /** What WorkOS holds now, for comparing with the service. */
  state(): { organizations: Obj[]; connections: Obj[]; directories: Obj[]; users: Obj[]; groups: Obj[]; memberships: { user: string; group: string }[] };
  events: Obj[];
  /** Resolves once every webhook sent so far has been answered. */
  delivered(): Promise<void>;
  close(): Promise<void>;
}

/** ULID-like ids as WorkOS makes them (`directory_user_01H...`). */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const newId = (prefix: string) => `${prefix}_01${Array.from(randomBytes(24), (b) => ALPHABET[b % 32]).join('')}`;

export async function startWorkosApi(options: { apiKey: string; deliver: (event: Obj) => Promise<void> }): Promise<WorkosApi> {
  const organizations = new Map<string, Obj>();
  const connections = new Map<string, Obj>();
  const directories = new Map<string, Obj>();
  const users = new Map<string, Obj>();
  const groups = new Map<string, Obj>();
  const memberships = new Map<string, { user: string; group: string }>();
  const events: Obj[] = [];
  // A clock that always moves: two changes never share an `updated_at`.
  let last = 0;
  const now = () => new Date((last = Math.max(last + 1, Date.now()))).toISOString();

  const emit = (event: string, data: Obj) => {
    const e = { object: 'event', id: newId('event'), event, data: structuredClone(data), created_at: now() };
    events.push(e);
    // In order, one after another, as a test's reading of the service expects them.
    if (!api.dropping) delivering = delivering.then(() => options.deliver(e));
  };
  let delivering = Promise.resolve();
  const touch = (o: Obj) => Object.assign(o, { updated_at: now() });
  const userWithout = (u: Obj) => structuredClone(u);

  const api: WorkosApi = {
    url: '',
    requests: [],
    dropping: false,
    maxLimit: 100,
    events,
    organization(name) {
      const at = now();
      const o = { object: 'organization', id: newId('org'), name, allow_profiles_outside_organization: false, domains: [], external_id: null, metadata: {}, created_at: at, updated_at: at };
      organizations.set(o.id, o);
      emit('organization.created', o);
      return o;
    },
    connection(org, name, type = 'OktaSAML') {
      const at = now();
      const c = { object: 'connection', id: newId('conn'), organization_id: org, name, connection_type: type, state: 'active', domains: [], created_at: at, updated_at: at };
      connections.set(c.id, c);
      emit('connection.activated', c);
      return c;
    },
    setConnectionState(id, state) {
      const c = touch(Object.assign(connections.get(id)!, { state }));
      emit(state === 'active' ? 'connection.activated' : 'connection.deactivated', c);
    },
    deleteConnection(id) {
      const c = touch(connections.get(id)!);
      connections.delete(id);
      emit('connection.deleted', c);
    },
    directory(org, name) {
      const at = now();
      const d = { object: 'directory', id: newId('directory'), organization_id: org, name, domain: 'acme.example', external_key: randomBytes(8).toString('hex'), state: 'linked', type: 'okta scim v2.0', created_at: at, updated_at: at };
      directories.set(d.id, d);
      emit('dsync.activated', { ...d, domains: [] });
      return d;
    },
    deleteDirectory(id) {
      // WorkOS deletes the directory's users and groups with it, with no event of their own.
      const d = touch(directories.get(id)!);
      directories.delete(id);
      for (const [uid, u] of users) if (u.directory_id === id) users.delete(uid);
      for (const [gid, g] of groups) if (g.directory_id === id) groups.delete(gid);
      for (const [k, m] of memberships) if (!users.has(m.user) || !groups.has(m.group)) memberships.delete(k);
      emit('dsync.deleted', { ...d, state: 'deleting', domains: [] });
    },
    user(directory, first, last) {
      const d = directories.get(directory)!;
      const at = now();
      const email = `${first}.${last}@acme.example`.toLowerCase();
      const u = {
        object: 'directory_user',
        id: newId('directory_user'),
        idp_id: randomBytes(6).toString('hex'),
        directory_id: directory,
        organization_id: d.organization_id,
        first_name: first,
        last_name: last,
        email,
        state: 'active',
        raw_attributes: { userName: email },
        custom_attributes: { department: 'Engineering' },
        role: { slug: 'member' },
        roles: [{ slug: 'member' }],
        created_at: at,
        updated_at: at,
      };
      users.set(u.id, u);
      emit('dsync.user.created', u);
      return u;
    },
    updateUser(id, changes) {
      const u = users.get(id)!;
      const previous = Object.fromEntries(Object.keys(changes).map((k) => [k, u[k]]));
      touch(Object.assign(u, changes));
      emit('dsync.user.updated', { ...userWithout(u), previous_attributes: previous });
    },
    deleteUser(id) {
      const u = touch(users.get(id)!);
      users.delete(id);
      for (const [k, m] of memberships) if (m.user === id) memberships.delete(k);
      emit('dsync.user.deleted', { ...u, state: 'inactive' });
    },
    group(directory, name) {
      const d = directories.get(directory)!;
      const at = now();
      const g = { object: 'directory_group', id: newId('directory_group'), idp_id: randomBytes(6).toString('hex'), directory_id: directory, organization_id: d.organization_id, name, raw_attributes: {}, created_at: at, updated_at: at };
      groups.set(g.id, g);
      emit('dsync.group.created', g);
      return g;
    },
    deleteGroup(id) {
      const g = touch(groups.get(id)!);
      groups.delete(id);
      for (const [k, m] of memberships) if (m.group === id) memberships.delete(k);
      emit('dsync.group.deleted', g);
    },
    addMember(group, user) {
      memberships.set(`${user}|${group}`, { user, group });
      const g = groups.get(group)!;
      emit('dsync.group.user_added', { directory_id: g.directory_id, user: userWithout(users.get(user)!), group: g });
    },
    removeMember(group, user) {
      memberships.delete(`${user}|${group}`);
      const g = groups.get(group)!;
      emit('dsync.group.user_removed', { directory_id: g.directory_id, user: userWithout(users.get(user)!), group: g });
    },
    state: () => ({
      organizations: [...organizations.values()],
      connections: [...connections.values()],
      directories: [...directories.values()],
      users: [...users.values()],
      groups: [...groups.values()],
      memberships: [...memberships.values()],
    }),
    delivered: () => delivering,
    close: async () => {
      await delivering.catch(() => {});
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  /** A `ListResponse`, cursor-paged as WorkOS pages: by object id, in creation order or its reverse. */
  function page(items: Obj[], q: URLSearchParams): { status: number; body: unknown } {
    const limit = Math.min(api.maxLimit, Math.max(1, Number(q.get('limit') ?? 10)));
    const ordered = q.get('order') === 'asc' ? items : [...items].reverse();
    let start = 0;
    const after = q.get('after');
    if (after) {
      const at = ordered.findIndex((o) => o.id === after);
      start = at < 0 ? ordered.length : at + 1;
    }
    const data = ordered.slice(start, start + limit);
    const more = start + limit < ordered.length;
    return { status: 200, body: { object: 'list', data, list_metadata: { before: null, after: more ? (data.at(-1)?.id ?? null) : null } } };
  }
  const byId = (map: Map<string, Obj>, id: string, extra: (o: Obj) => Obj = (o) => o) => {
    const o = map.get(id);
    return o ? { status: 200, body: extra(o) } : { status: 404, body: { message: `Not Found: ${id}`, code: 'entity_not_found' } };
  };
  const groupsOf = (user: string) => [...groups.values()].filter((g) => memberships.has(`${user}|${String(g.id)}`));

  function route(url: URL): { status: number; body: unknown } {
    const q = url.searchParams;
    const [, kind, id, ...rest] = url.pathname.split('/');
    if (rest.length > 0) return { status: 404, body: { message: 'Not Found' } };
    switch (kind) {
      case 'organizations':
        return id ? byId(organizations, id) : page([...organizations.values()], q);
      case 'connections':
        return id ? byId(connections, id) : page([...connections.values()].filter((c) => !q.get('organization_id') || c.organization_id === q.get('organization_id')), q);
      case 'directories':
        return id ? byId(directories, id) : page([...directories.values()].filter((d) => !q.get('organization_id') || d.organization_id === q.get('organization_id')), q);
      case 'directory_users': {
        if (id) return byId(users, id, (u) => ({ ...u, groups: groupsOf(String(u.id)) }));
        const group = q.get('group');
        const list = [...users.values()].filter((u) => (group ? memberships.has(`${String(u.id)}|${group}`) : u.directory_id === q.get('directory')));
        return page(list.map((u) => ({ ...u, groups: groupsOf(String(u.id)) })), q);
      }
      case 'directory_groups': {
        if (id) return byId(groups, id);
        const user = q.get('user');
        return page(user ? groupsOf(user) : [...groups.values()].filter((g) => g.directory_id === q.get('directory')), q);
      }
      case 'events': {
        const names = (q.get('events') ?? '').split(',').filter(Boolean);
        const org = q.get('organization_id');
        const from = q.get('range_start');
        let list = events.filter((e) => (names.length === 0 || names.includes(String(e.event))) && (!from || String(e.created_at) >= from));
        if (org) list = list.filter((e) => JSON.stringify(e.data).includes(org));
        const after = q.get('after');
        if (after) list = list.slice(list.findIndex((e) => e.id === after) + 1);
        const limit = Math.min(api.maxLimit, Math.max(1, Number(q.get('limit') ?? 10)));
        const data = list.slice(0, limit);
        return { status: 200, body: { object: 'list', data, list_metadata: { after: list.length > limit ? (data.at(-1)?.id ?? null) : null } } };
      }
      default:
        return { status: 404, body: { message: 'Not Found' } };
    }
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://workos.test');
    api.requests.push({ path: url.pathname + url.search, at: Date.now() });
    const answer =
      api.interfere?.(url) ??
      (req.headers.authorization !== `Bearer ${options.apiKey}`
        ? { status: 401, body: { message: 'Could not authorize the request. Maybe your API key is invalid?' } }
        : req.method !== 'GET'
          ? { status: 405, body: { message: 'Method not allowed' } }
          : route(url));
    res.writeHead(answer.status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(answer.body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  api.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return api;
}
