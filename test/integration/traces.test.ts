// Traces (issue 34): with OTEL_EXPORTER_OTLP_ENDPOINT set, the service exports OpenTelemetry
// spans over OTLP/HTTP (JSON) to a receiver run here. One webhook's trace: its span, with the
// signature check inside; the ingest batch linked to it, with its commit inside; and a push span
// on every instance (two on Postgres, sharing one database) linked back to it through the feed
// row. A GraphQL operation's span carries the text of its SQL statements. No span holds a
// secret, a key or an email.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backend, onPostgres, openTestDatabase, type TestDatabase } from '../support/backend.js';
import { memberEmail, seedStytchOrg, sendAll, stytchEvent, type SeededOrg } from '../support/directory.js';
import { eventually, subscribe, type LiveSubscription } from '../support/live.js';
import { gql, startTestServer, type TestServer } from '../support/server.js';

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes?: { key: string; value: OtlpValue }[];
  links?: { traceId: string; spanId: string }[];
  events?: { name: string; attributes?: { key: string; value: OtlpValue }[] }[];
}

let receiver: Server;
const bodies: string[] = [];
const spans: OtlpSpan[] = [];
let database: TestDatabase;
let servers: TestServer[] = [];
let org: SeededOrg;

beforeAll(async () => {
  // An OTLP/HTTP receiver: what the Collector's otlp receiver takes, kept for the test to read.
  receiver = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      bodies.push(body);
      const parsed = JSON.parse(body) as { resourceSpans?: { scopeSpans?: { spans?: OtlpSpan[] }[] }[] };
      for (const r of parsed.resourceSpans ?? []) for (const s of r.scopeSpans ?? []) spans.push(...(s.spans ?? []));
      response.setHeader('content-type', 'application/json');
      response.end('{}');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const env = { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}` };
  database = await openTestDatabase();
  // Two instances on one database where Postgres allows it (PGlite is one process's).
  servers = [await startTestServer({ database, env })];
  if (onPostgres) servers.push(await startTestServer({ database, env }));
  org = await seedStytchOrg(servers[0]!, { members: 1, groups: 0 });
});
afterAll(async () => {
  for (const s of servers) await s.close();
  await database?.dispose();
  await new Promise<void>((resolve) => receiver?.close(() => resolve()));
});

const attr = (span: OtlpSpan, key: string) => {
  const v = span.attributes?.find((a) => a.key === key)?.value;
  return v?.stringValue ?? (v?.intValue !== undefined ? Number(v.intValue) : v?.boolValue);
};

describe(`traces from webhook to push (${backend})`, () => {
  it('follows one webhook through verification, its batch and commit, to a push on every instance', async () => {
    const subs: LiveSubscription<{ memberChanged: { member: { externalId: string } } }>[] = servers.map((s) =>
      subscribe(s.url, s.adminKey, 'subscription { memberChanged { member { externalId } } }'),
    );
    // Live once each has heard a member created after it subscribed.
    let n = 0;
    const created = (id: string) =>
      stytchEvent('member', 'CREATE', id, { member_id: id, organization_id: org.organizationId, email_address: memberEmail(org.tag, 100 + n), name: 'Traced', status: 'active' });
    await eventually(
      async () => {
        await sendAll(servers[0]!, [created(`member-warm-${org.tag}-${n++}`)], 1);
        return subs.every((s) => s.events.length > 0);
      },
      30_000,
      'every subscriber to be live',
    );
    const id = `member-traced-${org.tag}`;
    await sendAll(servers[0]!, [created(id)], 1);
    await eventually(() => subs.every((s) => s.events.some((e) => e.memberChanged.member.externalId === id)), 30_000, 'the push on every instance');
    await Promise.all(subs.map((s) => s.close()));

    // The webhook's span, found by its delivery id; then what links to it.
    const deliveryId = (await gql(servers[0]!, '{ deliveries(first: 1) { edges { node { id } } } }')).data as { deliveries: { edges: { node: { id: string } }[] } };
    const rawId = Buffer.from(deliveryId.deliveries.edges[0]!.node.id, 'base64url').toString().split(':')[1];
    await servers[0]!.server.telemetry!.flush();
    const webhook = await found(() => spans.find((s) => s.name === 'webhook stytch' && attr(s, 'dsync.delivery_id') === rawId), 'the webhook span');
    expect(attr(webhook, 'dsync.outcome')).toBe('applied');
    expect(attr(webhook, 'http.response.status_code')).toBe(200);
    const linked = (s: OtlpSpan) => (s.links ?? []).some((l) => l.traceId === webhook.traceId && l.spanId === webhook.spanId);
    await found(() => spans.find((s) => s.name === 'verify' && s.parentSpanId === webhook.spanId && s.traceId === webhook.traceId), 'verify inside the webhook');
    const batch = await found(() => spans.find((s) => s.name === 'ingest batch' && linked(s)), 'the batch linked to the webhook');
    await found(() => spans.find((s) => s.name === 'ingest commit' && s.parentSpanId === batch.spanId), 'the commit inside the batch');
    await eventually(
      async () => {
        await servers[0]!.server.telemetry!.flush();
        const instances = new Set(spans.filter((s) => s.name === 'push' && linked(s)).map((s) => attr(s, 'dsync.instance')));
        return instances.size === servers.length;
      },
      30_000,
      'a push span linked to the webhook on every instance',
    );
  });

  it('gives each GraphQL operation a span with its statements, and puts no secret, key or email in any span', async () => {
    await gql(servers[0]!, 'query Roster { members(first: 5) { edges { node { email } } } }');
    await servers[0]!.server.telemetry!.flush();
    const operation = await found(() => spans.find((s) => s.name === 'graphql' && attr(s, 'graphql.operation.name') === 'Roster'), 'the operation span');
    expect(attr(operation, 'graphql.operation.type')).toBe('query');
    expect(operation.events?.some((e) => e.name === 'db.query' && e.attributes?.some((a) => a.key === 'db.query.text' && /select/i.test(a.value.stringValue ?? '')))).toBe(true);
    const everything = bodies.join('\n');
    for (const s of servers) {
      for (const secret of [s.adminKey, s.stytchSecret, s.polisSecret, s.workosSecret]) expect(everything).not.toContain(secret);
    }
    for (const email of [...org.emails, memberEmail(org.tag, 100)]) expect(everything).not.toContain(email);
  });
});

async function found(look: () => OtlpSpan | undefined, what: string): Promise<OtlpSpan> {
  await eventually(async () => {
    if (look()) return true;
    await servers[0]!.server.telemetry!.flush();
    return look() !== undefined;
  }, 30_000, what);
  return look()!;
}
