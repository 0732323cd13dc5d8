// A real Prometheus scrapes a running service (on the main port, with the bearer token, as the
// docs tell an operator to configure it) during a known workload; then Prometheus's own HTTP
// API is asked for the request, delivery, feed-lag and subscription series, and their values
// must be what the workload did. Skipped, saying why, only where no Prometheus is installed;
// .ci/run installs one and sets TEST_PROMETHEUS, so CI always runs it.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backend, onPostgres } from '../support/backend.js';
import { stytchEvent } from '../support/directory.js';
import { eventually, subscribe, type LiveSubscription } from '../support/live.js';
import { findPrometheus, startPrometheus, type RunningPrometheus } from '../support/prometheus.js';
import { gql, post, sendStytch, startTestServer, stytchRequest, type TestServer } from '../support/server.js';

const binary = findPrometheus();
if (!binary) console.warn('prometheus.test.ts skipped: no Prometheus here (apt-get install prometheus, or set TEST_PROMETHEUS)');

// Once, on the embedded database: what Prometheus reads does not depend on the backend (the
// pool's gauge, which does, is checked on Postgres in metrics.test.ts), and CI time is short.
describe.runIf(binary && !onPostgres)(`a real Prometheus scraping the service (${backend})`, () => {
  const token = randomBytes(24).toString('hex');
  let server: TestServer;
  let prometheus: RunningPrometheus;

  beforeAll(async () => {
    server = await startTestServer({ env: { METRICS_TOKEN: token } });
    prometheus = await startPrometheus(binary!, { target: new URL(server.url).host, bearerToken: token });
  });
  afterAll(async () => {
    await prometheus?.stop();
    await server?.close();
  });

  /** The one value of an instant query, or undefined when it has no series. */
  const scalar = async (promql: string) => {
    const samples = await prometheus.query(promql);
    expect(samples.length, `${promql}: ${JSON.stringify(samples)}`).toBeLessThanOrEqual(1);
    return samples[0]?.value;
  };

  it('sees the workload: requests, deliveries by outcome, subscriptions, and a feed that is caught up', async () => {
    // Prometheus is scraping the service, with its token.
    await eventually(async () => (await scalar('up{job="directory"}')) === 1, 30_000, `a successful scrape; Prometheus said: ${prometheus.output()}`);

    const org = `organization-test-prom-${randomBytes(5).toString('hex')}`;
    let live: LiveSubscription<unknown> | undefined;
    try {
      live = subscribe(server.url, server.adminKey, 'subscription { memberChanged { action } }');
      await expect.poll(() => server.server.app.ws.stats().subscriptions).toBe(1);
      const events = [0, 1, 2, 3, 4].map((i) =>
        stytchEvent('member', 'CREATE', `member-test-${org}-${i}`, { member_id: `member-test-${org}-${i}`, organization_id: org, email_address: `p${i}@example.test`, status: 'active' }),
      );
      for (const event of events) expect((await sendStytch(server, event)).status).toBe(200);
      const forged = stytchRequest(`whsec_${randomBytes(24).toString('base64')}`, events[0]);
      expect((await post(`${server.url}/webhooks/stytch`, forged.body, forged.headers)).status).toBe(401);
      for (let i = 0; i < 3; i++) expect((await gql(server, '{ viewer { role } }')).status).toBe(200);
      await live.waitFor(5);

      // Waits for a scrape taken after the workload: the last counter it moved, the three
      // queries (a scrape between the deliveries and the queries has the deliveries only).
      const queries = 'graphql_server_operations_total{job="directory",graphql_operation_type="query",outcome="success",graphql_transport="http"}';
      await eventually(async () => (await scalar(queries)) === 3, 30_000, 'Prometheus to have scraped the three queries, the last of the workload');
      expect(await scalar('directory_webhook_deliveries_total{job="directory",source="stytch",outcome="applied",http_response_status_code="200"}')).toBe(5);
      await eventually(async () => (await scalar('directory_feed_follower_lag{job="directory"}')) === 0, 30_000, 'the feed follower to be caught up');

      expect(await scalar('directory_webhook_deliveries_total{job="directory",source="stytch",outcome="refused",http_response_status_code="401"}')).toBe(1);
      expect(await scalar('http_server_request_duration_seconds_count{job="directory",http_request_method="POST",http_route="/webhooks/stytch",http_response_status_code="200"}')).toBe(5);
      expect(await scalar('http_server_request_duration_seconds_count{job="directory",http_request_method="POST",http_route="/webhooks/stytch",http_response_status_code="401"}')).toBe(1);
      expect(await scalar('sum(directory_changes_total{job="directory",entity="MEMBER",action="CREATED"})')).toBe(5);
      expect(await scalar('directory_active_subscriptions{job="directory",graphql_field="memberChanged"}')).toBe(1);
      expect(await scalar('directory_websocket_connections{job="directory"}')).toBe(1);
      expect(await scalar('directory_feed_follower_lag_seconds{job="directory"}')).toBe(0);
      // A histogram Prometheus can compute a quantile from.
      const p99 = await scalar('histogram_quantile(0.99, sum by (le) (http_server_request_duration_seconds_bucket{job="directory",http_route="/webhooks/stytch"}))');
      expect(p99).toBeGreaterThan(0);
    } finally {
      await live?.close();
    }
    // Every query of the Grafana dashboard in ops/ is valid PromQL over series the service has.
    const dashboard = JSON.parse(await readFile(new URL('../../ops/grafana-dashboard.json', import.meta.url), 'utf8')) as {
      panels: { title: string; targets: { expr: string }[] }[];
    };
    const scraped = await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
    for (const panel of dashboard.panels) {
      for (const { expr } of panel.targets) {
        const promql = expr
          .replaceAll('$__rate_interval', '1m')
          .replaceAll('$__range', '5m')
          .replaceAll('$job', '.*')
          .replaceAll('$instance', '.*');
        for (const [, name] of promql.matchAll(/\b([a-z_][a-z0-9_]*)\{/g)) {
          expect(scraped, `${panel.title}: ${name} is not among the service's metrics`).toMatch(new RegExp(`^${name}[{ ]`, 'm'));
        }
        const samples = await prometheus.query(promql);
        // Retention has not completed a round in this short run: that panel alone may be empty.
        // A rate needs two scrapes of a series: wait for them rather than for a time.
        if (!panel.title.startsWith('Retention: since') && samples.length === 0) {
          await eventually(async () => (await prometheus.query(promql)).length > 0, 30_000, `${panel.title} to have data: ${promql}`);
        }
      }
    }
    // The subscription's end reaches Prometheus too.
    await eventually(async () => (await scalar('directory_active_subscriptions{job="directory",graphql_field="memberChanged"}')) === 0, 30_000, 'the closed subscription to be scraped');
  });
});
