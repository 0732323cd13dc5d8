// POST /webhooks/<source>: raw body -> readDelivery (src/sources: verify, parse, scope) -> store
// -> answer. Only HTTP here: status codes, the store's deadline, shutdown.
// The order of checks is the contract's: 415 and 413 before anything is read, 401 before the
// body is parsed, 400 only for a body that is not JSON, 503 when storage fails. A signed JSON
// body is always stored: events that cannot be read are `rejected` (2xx) and kept for replay.
import { inSpan, inSpanSync, spanAttributes, SpanKind, tracing } from '../lib/tracing.js';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { MAX_BODY_BYTES } from '../config.js';
import { isUnavailable } from '../db/errors.js';
import { DeadlineExceeded, withDeadline } from '../lib/deadline.js';
import type { Priority } from '../lib/priority.js';
import { truncate } from '../lib/truncate.js';
import { RejectedBoundReached, type DirectoryStore } from '../directory/store.js';
import type { IngestResult } from '../directory/types.js';
import { readDelivery } from '../sources/read-delivery.js';
import type { SourceAdapter } from '../sources/types.js';

export interface WebhookDeps {
  sources: SourceAdapter[];
  store: DirectoryStore;
  /**
   * False while shutting down: deliveries that arrive from then on are turned away so the
   * sender retries; those whose headers had already arrived are finished.
   */
  accepting: () => boolean;
  /**
   * How long a delivery may wait for the database before the sender is told 503. Svix gives
   * up after 15 s; a partitioned database can otherwise hang a request for ever.
   */
  storeTimeoutMs: number;
  /** Told each delivery's outcome once answered: the stored status, or `refused` (the HTTP status says why). */
  onOutcome?: (source: string, outcome: string, status: number) => void;
  /**
   * Asked when a delivery ran out of time: whether the database stayed available while it
   * waited (no statement failed for want of it since `since`, a performance.now() time) and
   * answers now. Yes means the service (or a lock) was too slow, not the database gone.
   * Absent: every timeout is the database's.
   */
  databaseAnswers?: (since: number) => Promise<boolean>;
  /** Marks each delivery urgent while it is stored: background work gives way to it. */
  urgent?: Priority;
}


function isJsonContentType(value: string | undefined): boolean {
  const mediaType = value?.split(';')[0]?.trim().toLowerCase();
  return mediaType === 'application/json';
}

const fail = (reply: FastifyReply, status: number, error: string) => reply.code(status).send({ error });

/**
 * `databaseAnswers` for a database that can be pinged: a ping within a second, shared by the
 * deliveries that time out together and remembered for a second, so an overload that times
 * many out adds one ping, not one each.
 */
export function databaseProbe(ping: () => Promise<void>, lastUnavailableAt: () => number): (since: number) => Promise<boolean> {
  let last: { at: number; answer: Promise<boolean> } | undefined;
  return async (since) => {
    if (lastUnavailableAt() >= since) return false;
    const now = performance.now();
    if (!last || now - last.at > 1000) {
      last = { at: now, answer: withDeadline(ping(), 1000).then(() => true, () => false) };
    }
    return last.answer;
  };
}

export const webhookRoutes =
  (deps: WebhookDeps): FastifyPluginAsync =>
  async (app) => {
    // Encapsulated: only these routes receive the body as the exact bytes that were signed.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser(
      'application/json',
      { parseAs: 'buffer', bodyLimit: MAX_BODY_BYTES },
      (_request, body, done) => done(null, body),
    );

    // Decided when the headers arrive, not when the handler runs: a sender still uploading its
    // body when shutdown begins has its delivery under way, and finishing it is what a
    // graceful shutdown promises. Turned-away requests are answered once their body is read,
    // so the sender is reading a reply rather than writing into a reset connection.
    const arrivedWhileStopping = new WeakSet<FastifyRequest>();
    app.addHook('onRequest', async (request) => {
      if (!deps.accepting()) arrivedWhileStopping.add(request);
    });
    const outcomes = new WeakMap<FastifyRequest, string>();
    if (deps.onOutcome) {
      const report = deps.onOutcome;
      app.addHook('onResponse', async (request, reply) => {
        const source = request.routeOptions.url?.replace('/webhooks/', '');
        if (source) report(source, outcomes.get(request) ?? 'refused', reply.statusCode);
      });
    }

    for (const source of deps.sources) {
      // The trace of a delivery starts here: verification, then the ingest batch it joins (linked),
      // its commit, and the pushes it causes on every instance (linked through the feed row).
      app.post(`/webhooks/${source.name}`, (request, reply) =>
        inSpan(
          `webhook ${source.name}`,
          { kind: SpanKind.SERVER, attributes: { 'dsync.source': source.name, 'dsync.instance': tracing.instance } },
          async (span) => {
            const answer = await handle(request, reply);
            span?.setAttributes({ 'http.response.status_code': reply.statusCode, 'dsync.outcome': outcomes.get(request) ?? 'refused' });
            return answer;
          },
        ),
      );
      const handle = async (request: FastifyRequest, reply: FastifyReply) => {
        if (!isJsonContentType(request.headers['content-type'])) {
          return fail(reply, 415, 'content type must be application/json');
        }
        if (arrivedWhileStopping.has(request)) {
          void reply.header('retry-after', '5').header('connection', 'close');
          return fail(reply, 503, 'shutting down; retry later');
        }
        const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);

        const reading = inSpanSync('verify', { 'dsync.source': source.name }, () => readDelivery(source, { headers: request.headers, body, now: new Date() }));
        if (!reading.ok) {
          if (reading.status === 401) request.log.warn({ source: source.name, reason: reading.reason }, 'webhook refused');
          return fail(reply, reading.status, reading.reason);
        }
        const { delivery } = reading;

        const waitingSince = performance.now();
        // A big batch is stored whole first, then applied in parts: once stored it is the
        // sender's no longer, and an answer due before its last part says so (200 "applying").
        let stored: IngestResult | undefined;
        deps.urgent?.begin();
        try {
          const result = await withDeadline(deps.store.ingest(delivery, { onStored: (opened) => (stored = opened) }), deps.storeTimeoutMs, (late) => {
            if (stored) {
              // Answered "applying": a part that failed leaves the row so, for unfinished.ts to finish.
              if (late.error) request.log.warn({ source: source.name, deliveryId: stored.deliveryId, err: late.error }, 'a stored batch could not be applied to its end; it is finished later');
              else request.log.info({ source: source.name, deliveryId: stored.deliveryId, status: late.value?.status }, 'a stored batch answered "applying" is applied');
              return;
            }
            // Answered 503 already; if it committed after all, the sender's retry is a duplicate.
            request.log.warn(
              { source: source.name, deliveryId: late.value?.deliveryId, err: late.error },
              late.error ? 'late delivery failed' : 'late delivery was stored after all',
            );
          });
          // Bounded whatever the delivery carries: a few of its events, and how many in all. The
          // stored delivery (GraphQL `deliveries`) has every event and outcome.
          if (result.rejected > 0) {
            const reasons = delivery.events.filter((e) => e.rejected !== undefined).map((e) => truncate(`${e.type}: ${e.rejected}`, 300));
            request.log.warn(
              { source: source.name, deliveryId: result.deliveryId, rejected: result.rejected, ...(reasons.length > 0 ? { reasons: summary(reasons) } : {}) },
              'webhook events rejected: kept for replay',
            );
          }
          request.log.info(
            {
              source: source.name,
              deliveryId: result.deliveryId,
              status: result.status,
              applied: result.applied,
              rejected: result.rejected,
              events: summary(delivery.events.map((e) => e.type)),
            },
            'webhook stored',
          );
          outcomes.set(request, result.status);
          spanAttributes({ 'dsync.delivery_id': result.deliveryId, 'dsync.events': delivery.events.length });
          return reply.code(200).send(result);
        } catch (error) {
          if (error instanceof RejectedBoundReached) {
            request.log.warn({ source: source.name, sender: truncate(error.sender, 120), bound: error.bound }, 'webhook not taken: its sender keeps too many rejected deliveries');
            void reply.header('retry-after', '3600');
            // Not a 4xx: nothing about the delivery is wrong, and the sender is to keep it and retry.
            return fail(reply, 503, error.message);
          }
          if (error instanceof DeadlineExceeded && stored) {
            request.log.info(
              { source: source.name, deliveryId: stored.deliveryId, events: delivery.events.length },
              'webhook stored whole; its events are still being applied',
            );
            outcomes.set(request, 'applying');
            return reply.code(200).send({ ...stored, status: 'applying' });
          }
          if (!(error instanceof DeadlineExceeded) && !isUnavailable(error)) throw error;
          void reply.header('retry-after', '5');
          // Out of time with the database answering: the backlog is ours. Said as such, so an
          // operator looks at the service's load (or a lock), not at a database that is fine.
          if (error instanceof DeadlineExceeded && (await deps.databaseAnswers?.(waitingSince).catch(() => false))) {
            request.log.warn(
              { source: source.name, waitedMs: deps.storeTimeoutMs },
              'service overloaded: delivery not stored in time (the database answers); not acknowledged',
            );
            const waited = deps.storeTimeoutMs >= 1000 ? `${Math.round(deps.storeTimeoutMs / 1000)} s` : `${deps.storeTimeoutMs} ms`;
            return fail(reply, 503, `overloaded: the delivery could not be stored within ${waited} (the database is up); retry later`);
          }
          request.log.error({ source: source.name, err: error }, 'database unavailable; delivery not acknowledged');
          return fail(reply, 503, 'database unavailable; the delivery was not stored, retry later');
        } finally {
          deps.urgent?.end();
        }
      };
    }
  };

/** Up to five of a list, and how many there were: what a log line can carry of any list. */
function summary(items: string[]): { count: number; first: string[] } {
  return { count: items.length, first: items.slice(0, 5) };
}
