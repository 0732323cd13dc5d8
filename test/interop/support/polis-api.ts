// The real Polis's REST API over HTTP: its own controllers (the in-process @boxyhq/saml-jackson
// of polis.ts) behind the routes Ory Polis serves them under (pages/api/v1/... in ory/polis),
// each doing what Polis's route handler does: read the query, call the controller, answer its
// data or its error's code. API keys are checked as Polis's proxy does (`Authorization:
// Api-Key <key>`, the token after the scheme). No logic of ours is here.
//
// `interfere` lets a test answer a request itself first (a 429, a broken body, a pause while
// something else happens), as a network or an overloaded Polis would.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Polis } from './polis.js';

export interface Interference {
  status: number;
  body: string;
  headers?: Record<string, string>;
}

export interface PolisApi {
  url: string;
  /** Every request's path and query, in order. */
  requests: string[];
  interfere?: (url: URL) => Promise<Interference | undefined> | Interference | undefined;
  close(): Promise<void>;
}

type Query = Record<string, string>;
type Answer = { status: number; body: unknown };

const pageParams = (q: Query) => ({
  pageOffset: parseInt(q.pageOffset ?? q.offset ?? ''),
  pageLimit: parseInt(q.pageLimit ?? q.limit ?? ''),
  pageToken: q.pageToken,
});

const failed = (error: { code?: number; message?: string }): Answer => ({ status: error.code ?? 500, body: { error } });

/** `polis` may be given later than the API (a service configured with the API's URL starts first). */
export async function startPolisApi(polis: Polis | (() => Polis), apiKey: string): Promise<PolisApi> {
  const jackson = () => (typeof polis === 'function' ? polis() : polis).jackson;
  const dsync = new Proxy({} as Polis['jackson']['directorySyncController'], { get: (_t, p) => Reflect.get(jackson().directorySyncController, p) });
  const sso = new Proxy({} as Polis['jackson']['connectionAPIController'], {
    get: (_t, p) => {
      const controller = jackson().connectionAPIController;
      const value: unknown = Reflect.get(controller, p);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(controller) : value;
    },
  });

  /** Polis's handlers take tenant and product from the directory when the query lacks them. */
  async function tenancy(q: Query): Promise<{ tenant: string; product: string } | Answer> {
    let tenant = q.tenant ?? '';
    let product = q.product ?? '';
    if ((!tenant || !product) && q.directoryId) {
      const { data: directory } = await dsync.directories.get(q.directoryId);
      if (!directory) return { status: 404, body: { error: { message: 'Directory not found.' } } };
      tenant = directory.tenant;
      product = directory.product;
    }
    return { tenant, product };
  }

  const routes: [RegExp, (q: Query, ...ids: string[]) => Promise<Answer>][] = [
    [/^\/api\/v1\/sso$/, async (q) => ({ status: 200, body: await sso.getConnections(q as Parameters<typeof sso.getConnections>[0]) })],
    // pages/api/v1/sso/exists.ts: 404 with {} when no connection matches, else 204.
    [
      /^\/api\/v1\/sso\/exists$/,
      async (q) => ((await sso.getConnections(q as Parameters<typeof sso.getConnections>[0])).length === 0 ? { status: 404, body: {} } : { status: 204, body: undefined }),
    ],
    // pages/api/v1/sso/product.ts: answers the page's data only (the store's pageToken is dropped).
    [
      /^\/api\/v1\/sso\/product$/,
      async (q) => ({ status: 200, body: (await sso.getConnectionsByProduct({ product: q.product!, ...pageParams(q) })).data }),
    ],
    // pages/api/v1/dsync/product.ts: the whole answer of filterBy ({ data, pageToken, error }).
    [/^\/api\/v1\/dsync\/product$/, async (q) => ({ status: 200, body: await dsync.directories.filterBy({ product: q.product!, ...pageParams(q) }) })],
    [
      /^\/api\/v1\/dsync$/,
      async (q) => {
        if (!q.tenant || !q.product) return { status: 400, body: { error: { message: 'Please provide tenant and product' } } };
        const { data, error } = await dsync.directories.getByTenantAndProduct(q.tenant, q.product);
        return error ? failed(error) : { status: 200, body: { data } };
      },
    ],
    [
      /^\/api\/v1\/dsync\/users$/,
      async (q) => {
        const t = await tenancy(q);
        if ('status' in t) return t;
        const users = await dsync.users.setTenantAndProduct(t.tenant, t.product).getAll({ ...pageParams(q), directoryId: q.directoryId });
        return users.error ? failed(users.error) : { status: 200, body: users };
      },
    ],
    [
      /^\/api\/v1\/dsync\/users\/([^/]+)$/,
      async (q, userId) => {
        const t = await tenancy(q);
        if ('status' in t) return t;
        const { data, error } = await dsync.users.setTenantAndProduct(t.tenant, t.product).get(userId!);
        return error ? failed(error) : { status: 200, body: { data } };
      },
    ],
    [
      /^\/api\/v1\/dsync\/groups$/,
      async (q) => {
        const t = await tenancy(q);
        if ('status' in t) return t;
        const groups = await dsync.groups.setTenantAndProduct(t.tenant, t.product).getAll({ ...pageParams(q), directoryId: q.directoryId });
        return groups.error ? failed(groups.error) : { status: 200, body: groups };
      },
    ],
    [
      /^\/api\/v1\/dsync\/groups\/([^/]+)$/,
      async (q, groupId) => {
        const t = await tenancy(q);
        if ('status' in t) return t;
        const { data, error } = await dsync.groups.setTenantAndProduct(t.tenant, t.product).get(groupId!);
        return error ? failed(error) : { status: 200, body: { data } };
      },
    ],
    [
      /^\/api\/v1\/dsync\/groups\/([^/]+)\/members$/,
      async (q, groupId) => {
        const t = await tenancy(q);
        if ('status' in t) return t;
        const { data, error } = await dsync.groups
          .setTenantAndProduct(t.tenant, t.product)
          .getGroupMembers({ groupId: groupId!, ...pageParams(q) });
        return error ? failed(error) : { status: 200, body: { data } };
      },
    ],
    [
      /^\/api\/v1\/dsync\/([^/]+)$/,
      async (_q, directoryId) => {
        const { data, error } = await dsync.directories.get(directoryId!);
        return error ? failed(error) : { status: 200, body: { data } };
      },
    ],
  ];

  const requests: string[] = [];
  const api: PolisApi = {
    url: '',
    requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  const server = http.createServer((req, res) => {
    const send = (status: number, body: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(body);
    };
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://polis.test');
      requests.push(url.pathname + url.search);
      const interference = await api.interfere?.(url);
      if (interference) return send(interference.status, interference.body, interference.headers);
      const token = (req.headers.authorization ?? '').split(' ')[1];
      if (token !== apiKey) return send(401, JSON.stringify({ error: { message: 'Unauthorized' } }));
      if (req.method !== 'GET') return send(405, JSON.stringify({ error: { message: `Method ${req.method} Not Allowed` } }));
      const query = Object.fromEntries(url.searchParams) as Query;
      for (const [pattern, handle] of routes) {
        const match = pattern.exec(url.pathname);
        if (!match) continue;
        try {
          const answer = await handle(query, ...match.slice(1).map(decodeURIComponent));
          if (answer.status === 204) {
            res.writeHead(204);
            return res.end();
          }
          return send(answer.status, JSON.stringify(answer.body));
        } catch (error) {
          const e = error as { statusCode?: number; message?: string };
          return send(e.statusCode ?? 500, JSON.stringify({ error: { message: e.message ?? String(error) } }));
        }
      }
      return send(404, JSON.stringify({ error: { message: 'Not found' } }));
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  api.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return api;
}
