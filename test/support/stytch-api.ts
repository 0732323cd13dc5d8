// A stand-in for Stytch's B2B API, for reconciliation tests: Stytch cannot run here. It speaks the
// routes and shapes Stytch documents (and its Node SDK sends): organizations by id, members by
// POST search with cursor paging and by id, SSO connections, the SCIM connection and its
// groups with cursor paging, HTTP Basic with the project id and secret, errors as
// `{ status_code, error_type, error_message }`. It holds what the test puts in `state` and no
// logic of ours. `interfere` lets a test answer a request itself first (a 429, a bad body).
import http from 'node:http';
import type { AddressInfo } from 'node:net';

type Obj = Record<string, unknown>;

export interface StytchState {
  organizations: Map<string, Obj>;
  /** By member_id; each carries organization_id and status. */
  members: Map<string, Obj>;
  saml: Map<string, Obj>;
  oidc: Map<string, Obj>;
  /** By organization_id. */
  scim: Map<string, Obj>;
  /** By group_id; each carries organization_id and connection_id. */
  groups: Map<string, Obj>;
}

export interface StytchApi {
  url: string;
  state: StytchState;
  /** Method, path and query of every request, in order. */
  requests: string[];
  interfere?: (method: string, url: URL, body: Obj) => { status: number; body: string; headers?: Record<string, string> } | undefined;
  close(): Promise<void>;
}

const cursorOf = (offset: number) => Buffer.from(`offset:${offset}`).toString('base64url');
const offsetOf = (cursor: unknown) =>
  typeof cursor === 'string' && cursor !== '' ? Number(Buffer.from(cursor, 'base64url').toString('utf8').split(':')[1] ?? 0) : 0;

export async function startStytchApi(projectId: string, secret: string): Promise<StytchApi> {
  const state: StytchState = {
    organizations: new Map(),
    members: new Map(),
    saml: new Map(),
    oidc: new Map(),
    scim: new Map(),
    groups: new Map(),
  };
  const requests: string[] = [];
  const expected = `Basic ${Buffer.from(`${projectId}:${secret}`).toString('base64')}`;
  const ofOrg = (map: Map<string, Obj>, org: string) => [...map.values()].filter((o) => o.organization_id === org);
  const page = <T>(items: T[], limit: unknown, cursor: unknown) => {
    const size = Math.min(Number(limit) || 100, 1000);
    const start = offsetOf(cursor);
    const slice = items.slice(start, start + size);
    return { slice, next: start + size < items.length ? cursorOf(start + size) : null };
  };
  const notFound = (type: string, message: string) => ({ status: 404, body: { status_code: 404, error_type: type, error_message: message } });

  function route(method: string, url: URL, body: Obj): { status: number; body: unknown } {
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const ok = (data: Obj) => ({ status: 200, body: { status_code: 200, request_id: `request-id-test-${requests.length}`, ...data } });
    // /v1/b2b/organizations/members/search
    if (method === 'POST' && url.pathname === '/v1/b2b/organizations/members/search') {
      const orgs = (body.organization_ids as string[] | undefined) ?? [];
      const members = [...state.members.values()].filter((m) => orgs.includes(m.organization_id as string) && m.status !== 'deleted');
      const { slice, next } = page(members, body.limit, body.cursor);
      return ok({ members: slice, results_metadata: { total: members.length, next_cursor: next } });
    }
    if (method !== 'GET' || parts[0] !== 'v1' || parts[1] !== 'b2b') return notFound('route_not_found', 'Route not found.');
    const [, , area, org, sub, connection] = parts;
    if (area === 'organizations' && org && sub === undefined) {
      const found = state.organizations.get(org);
      return found ? ok({ organization: found }) : notFound('organization_not_found', 'Organization could not be found.');
    }
    if (area === 'organizations' && org && sub === 'member') {
      const member = state.members.get(url.searchParams.get('member_id') ?? '');
      return member && member.organization_id === org ? ok({ member, organization: state.organizations.get(org) }) : notFound('member_not_found', 'Member could not be found.');
    }
    if (area === 'sso' && org && sub === undefined) {
      return ok({ saml_connections: ofOrg(state.saml, org), oidc_connections: ofOrg(state.oidc, org), external_connections: [] });
    }
    if (area === 'scim' && org && sub === 'connection' && connection === undefined) {
      const found = state.scim.get(org);
      return ok(found ? { connection: found } : {});
    }
    if (area === 'scim' && org && sub === 'connection' && connection) {
      const groups = ofOrg(state.groups, org).filter((g) => g.connection_id === connection);
      const { slice, next } = page(groups, url.searchParams.get('limit'), url.searchParams.get('cursor'));
      return ok({ scim_groups: slice, ...(next ? { next_cursor: next } : {}) });
    }
    return notFound('route_not_found', 'Route not found.');
  }

  const api: StytchApi = {
    url: '',
    state,
    requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://stytch.test');
      const method = req.method ?? 'GET';
      requests.push(`${method} ${url.pathname}${url.search}`);
      const send = (status: number, text: string, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(text);
      };
      let body: Obj;
      try {
        body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Obj) : {};
      } catch {
        return send(400, JSON.stringify({ status_code: 400, error_type: 'invalid_json', error_message: 'Request body is not JSON.' }));
      }
      const interference = api.interfere?.(method, url, body);
      if (interference) return send(interference.status, interference.body, interference.headers);
      if (req.headers.authorization !== expected) {
        return send(401, JSON.stringify({ status_code: 401, error_type: 'unauthorized_credentials', error_message: 'Unauthorized credentials.' }));
      }
      const answer = route(method, url, body);
      send(answer.status, JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  api.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return api;
}
