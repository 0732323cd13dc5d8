// GET /metrics in the Prometheus text format: on the main port behind a bearer token
// (METRICS_TOKEN), and/or on a port of its own without one (METRICS_PORT), for a private
// network. With neither set there is no /metrics.
import { timingSafeEqual, createHash } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import type { Metrics } from '../metrics.js';

const digest = (text: string) => createHash('sha256').update(text).digest();

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
