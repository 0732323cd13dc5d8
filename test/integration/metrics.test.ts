// GET /metrics against a running service: served behind its token on the main port and
// without one on its own port; after a known workload (webhooks applied, repeated and refused,
// GraphQL queries that succeed and fail, a live subscription) the series say exactly that, and
// no label carries a tenant, an email or a key.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { backend, onPostgres } from '../support/backend.js';
import { stytchEvent } from '../support/directory.js';
import { subscribe, type LiveSubscription } from '../support/live.js';
import { gql, post, sendStytch, startTestServer, stytchRequest, type TestServer } from '../support/server.js';

const token = randomBytes(24).toString('hex');
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ env: { METRICS_TOKEN: token, METRICS_PORT: '0' } });
});
afterAll(() => server?.close());

async function scrape(): Promise<string> {
  const reply = await fetch(server.server.metricsUrl!);
  expect(reply.status).toBe(200);
  expect(reply.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return reply.text();
}

/** The value of one series, by its name and exact labels (undefined when absent). */
function value(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const found = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => found[k] === v) && Object.keys(found).length === Object.keys(labels).length) return Number(m[3]);
  }
  return undefined;
}

describe(`Prometheus metrics (${backend})`, () => {
  it('on the main port only with the token, on its own port without', async () => {
    const url = `${server.url}/metrics`;
    expect((await fetch(url)).status).toBe(401);
    expect((await fetch(url, { headers: { authorization: 'Bearer nope' } })).status).toBe(401);
    const ok = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('process_cpu_user_seconds_total');
    expect(await scrape()).toContain('http_server_request_duration_seconds_bucket');
    // The front page says where everything is, /metrics included.
    const index = (await (await fetch(`${server.url}/`)).json()) as Record<string, unknown>;
    expect(index).toMatchObject({ graphql: { graphiql: '/graphiql' }, metrics: expect.stringContaining('/metrics') });
  });

  it('where they are not served, /metrics says which setting serves them', async () => {
    const off = await startTestServer();
    const ownPort = await startTestServer({ env: { METRICS_PORT: '0' } });
    try {
      const none = await fetch(`${off.url}/metrics`);
      expect(none.status).toBe(404);
      expect(await none.json()).toEqual({
        error: 'metrics are off: set METRICS_TOKEN to serve them here (with Authorization: Bearer <METRICS_TOKEN>), or METRICS_PORT to serve them on a port of their own',
      });
      const elsewhere = await fetch(`${ownPort.url}/metrics`);
      expect(elsewhere.status).toBe(404);
      expect(((await elsewhere.json()) as { error: string }).error).toMatch(/served on their own port \(METRICS_PORT, a free port the service chose\), not here; set METRICS_TOKEN/);
      // Any other unknown path is still a plain 404.
      expect(((await (await fetch(`${off.url}/metricz`)).json()) as { error: string }).error).toBe('no route for GET /metricz');
    } finally {
      await Promise.all([off.close(), ownPort.close()]);
    }
  });

  it('counts what a known workload did, and no label names a tenant, an email or a key', async () => {
    const org = `organization-test-${randomBytes(6).toString('hex')}`;
    const email = `metrics-${randomBytes(4).toString('hex')}@example.test`;
    let live: LiveSubscription<unknown> | undefined;
    try {
      live = subscribe(server.url, server.adminKey, 'subscription { memberChanged { action member { email } } }');
      // Subscribed once the instance counts it (a change before that would not reach it).
      await expect.poll(async () => value(await scrape(), 'directory_active_subscriptions', { graphql_field: 'memberChanged' })).toBe(1);
      const events = [0, 1, 2].map((i) =>
        stytchEvent('member', 'CREATE', `member-test-${org}-${i}`, { member_id: `member-test-${org}-${i}`, organization_id: org, email_address: `${i}${email}`, status: 'active' }),
      );
      const first = stytchRequest(server.stytchSecret, events[0]);
      expect((await post(`${server.url}/webhooks/stytch`, first.body, first.headers)).status).toBe(200);
      expect((await post(`${server.url}/webhooks/stytch`, first.body, first.headers)).body.status).toBe('duplicate');
      for (const event of events.slice(1)) expect((await sendStytch(server, event)).status).toBe(200);
      const forged = stytchRequest(`whsec_${randomBytes(24).toString('base64')}`, events[1]);
      expect((await post(`${server.url}/webhooks/stytch`, forged.body, forged.headers)).status).toBe(401);
      expect((await gql(server, '{ viewer { role } }')).status).toBe(200);
      expect((await gql(server, '{ viewer { role } }')).status).toBe(200);
      expect((await gql(server, '{ nope }')).errors?.length).toBe(1);
      const refused = subscribe(server.url, server.adminKey, 'subscription { memberChanged(tenantId: "nope") { action } }');
      await refused.done;
      expect(refused.errors.length).toBe(1);
      await refused.close();
      await expect.poll(() => server.server.app.ws.stats().sockets).toBe(1);
      await live.waitFor(3);

      const text = await scrape();
      const deliveries = (outcome: string, status: string) =>
        value(text, 'directory_webhook_deliveries_total', { source: 'stytch', outcome, http_response_status_code: status });
      expect(deliveries('applied', '200')).toBe(3);
      expect(deliveries('duplicate', '200')).toBe(1);
      expect(deliveries('refused', '401')).toBe(1);
      const requests = (status: string) =>
        value(text, 'http_server_request_duration_seconds_count', { http_request_method: 'POST', http_route: '/webhooks/stytch', http_response_status_code: status });
      expect(requests('200')).toBe(4);
      expect(requests('401')).toBe(1);
      const operations = (type: string, outcome: string, transport: string) =>
        value(text, 'graphql_server_operations_total', { graphql_operation_type: type, outcome, graphql_transport: transport });
      expect(operations('query', 'success', 'http')).toBeGreaterThanOrEqual(2);
      expect(operations('unknown', 'error', 'http')).toBe(1);
      // Over the WebSocket: the subscription that started, and one refused before it ran.
      expect(operations('subscription', 'success', 'websocket')).toBe(1);
      expect(operations('subscription', 'error', 'websocket')).toBe(1);
      // Three members appeared; four deliveries reached the store (the repeat among them), the forged one did not.
      expect(value(text, 'directory_changes_total', { entity: 'MEMBER', action: 'CREATED' })).toBe(3);
      expect(value(text, 'directory_ingest_batch_deliveries_sum')).toBe(4);
      expect(value(text, 'directory_ingest_transaction_duration_seconds_count')).toBe(value(text, 'directory_ingest_batch_deliveries_count'));
      expect(value(text, 'directory_websocket_connections')).toBe(1);
      expect(value(text, 'directory_websocket_operations')).toBe(1);
      expect(value(text, 'directory_active_subscriptions', { graphql_field: 'memberChanged' })).toBe(1);
      expect(value(text, 'directory_active_subscriptions', { graphql_field: 'groupChanged' })).toBe(0);
      // The three members, pushed to the one subscriber.
      expect(value(text, 'directory_subscription_messages_total')).toBe(3);
      // The pool is idle between requests; its size is what the service opened it with.
      expect(value(text, 'db_client_connection_max')).toBeGreaterThanOrEqual(1);
      expect(value(text, 'db_client_connection_count', { db_client_connection_state: 'used' })).toBe(0);
      expect(value(text, 'db_client_connection_pending_requests')).toBe(0);
      // The subscriber has every change, so this instance has handed them all on.
      expect(value(text, 'directory_feed_follower_lag')).toBe(0);
      expect(value(text, 'directory_feed_follower_lag_seconds')).toBe(0);

      for (const secret of [org, email, server.adminKey, token, server.stytchSecret]) expect(text).not.toContain(secret);
    } finally {
      await live?.close();
    }
    expect(value(await scrape(), 'directory_websocket_connections')).toBeLessThanOrEqual(1);
  });

  it('names a request that matched no route by `unmatched`, never by its path', async () => {
    const path = `/no-such-${randomBytes(4).toString('hex')}`;
    expect((await fetch(`${server.url}${path}`)).status).toBe(404);
    const text = await scrape();
    expect(value(text, 'http_server_request_duration_seconds_count', { http_request_method: 'GET', http_route: 'unmatched', http_response_status_code: '404' })).toBeGreaterThanOrEqual(1);
    expect(text).not.toContain(path);
  });
});

describe.runIf(onPostgres)(`database pool metrics (${backend})`, () => {
  it('counts a statement waiting on a lock as a connection in use, and none once it is done', async () => {
    const lock = 7_255_810_999;
    const holder = postgres(server.databaseUrl!, { max: 1, onnotice: () => {} });
    try {
      await holder`select pg_advisory_lock(${lock})`;
      // Drizzle sends a statement when it is first awaited: then() starts it.
      const blocked = server.database.db.execute(sql`select pg_advisory_lock(${lock}), pg_advisory_unlock(${lock})`).then(() => undefined);
      await expect.poll(async () => value(await scrape(), 'db_client_connection_count', { db_client_connection_state: 'used' })).toBeGreaterThanOrEqual(1);
      await holder`select pg_advisory_unlock(${lock})`;
      await blocked;
      await expect.poll(async () => value(await scrape(), 'db_client_connection_count', { db_client_connection_state: 'used' })).toBe(0);
    } finally {
      await holder.end();
    }
  });
});

describe(`metric cardinality (${backend})`, () => {
  /** Series of the service's own metrics (the runtime's, which appear as the GC does, apart). */
  const ownSeries = (text: string) =>
    text.split('\n').filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith('nodejs_') && !l.startsWith('process_'));

  /** A round of traffic: 25 tenants' webhooks, 25 distinct operation texts, unknown paths. */
  async function round(tag: string): Promise<void> {
    for (let t = 0; t < 25; t++) {
      const org = `organization-test-card-${tag}-${t}`;
      const member = `member-test-card-${tag}-${t}`;
      const event = stytchEvent('member', 'CREATE', member, { member_id: member, organization_id: org, email_address: `${tag}.${t}@example.test`, status: 'active' });
      expect((await sendStytch(server, event)).status).toBe(200);
      // Each text is new: an alias and a field list no other request used.
      expect((await gql(server, `query Q${tag}${t} { a${tag}${t}: viewer { role } }`)).status).toBe(200);
      expect((await gql(server, `{ nope${tag}${t} }`)).errors?.length).toBe(1);
      expect((await fetch(`${server.url}/no-such-${tag}-${t}`)).status).toBe(404);
    }
  }

  it('stays the same number of series after traffic for 50 tenants and many operation texts', async () => {
    await round('a');
    const first = ownSeries(await scrape());
    await round('b');
    const second = ownSeries(await scrape());
    // Same kinds of traffic, new tenants, texts and paths: not one series more.
    expect(second.map((l) => l.replace(/ \S+$/, ''))).toEqual(first.map((l) => l.replace(/ \S+$/, '')));
    expect(second.length).toBeLessThan(1000);
    expect(second.join('\n')).not.toMatch(/card-|nope|Q[ab]\d/);
  });
});
