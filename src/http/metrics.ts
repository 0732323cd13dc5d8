// GET /metrics in the Prometheus text format: on the main port behind a bearer token
// (METRICS_TOKEN), and/or on a port of its own without one (METRICS_PORT), for a private
// network. Where they are not served on the main port, GET /metrics says how to turn them on.
import { timingSafeEqual, createHash } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import type { Metrics } from '../metrics.js';

const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * GET /metrics on the main port when they are not served there: a 404 that says which setting
 * serves them (a bare 404 leaves an operator guessing whether the path, the port or the
 * version is wrong). `ownPort`: METRICS_PORT, when they are served on a port of their own.
 */
export const metricsOffRoute =
  (ownPort: number | undefined): FastifyPluginAsync =>
  async (app) => {
    const error =
      ownPort === undefined
        ? 'metrics are off: set METRICS_TOKEN to serve them here (with Authorization: Bearer <METRICS_TOKEN>), or METRICS_PORT to serve them on a port of their own'
        : `metrics are served on their own port (METRICS_PORT${ownPort === 0 ? ', a free port the service chose' : `=${ownPort}`}), not here; set METRICS_TOKEN to serve them here too`;
    app.get('/metrics', async (_request, reply) => reply.code(404).send({ error }));
  };

export const metricsRoutes =
  (metrics: Metrics, token: string | undefined): FastifyPluginAsync =>
  async (app) => {
    const expected = token === undefined ? undefined : digest(`Bearer ${token}`);
    app.get('/metrics', async (request, reply) => {
      // Compared as digests, in constant time, whatever the header's length.
      if (expected && !timingSafeEqual(digest(request.headers.authorization ?? ''), expected)) {
        return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'send "Authorization: Bearer <METRICS_TOKEN>"' });
      }
      return reply.header('content-type', metrics.contentType).header('cache-control', 'no-store').send(await metrics.scrape());
    });
  };
